// The cron grammar the CRD and the planner share: what it accepts, croner accepts too.
import assert from "node:assert/strict";
import { Cron } from "croner";
import { backwardsRange, followsGrammar } from "../../../../actors/schedule/cron_rules.ts";
import { parseSchedule } from "../../../../actors/schedule/plan.ts";

const croner = (schedule: string) => {
  try {
    new Cron(schedule.trim(), { timezone: "Etc/UTC", mode: "5-part" });
    return true;
  } catch {
    return false;
  }
};

const accepted = (schedule: string) =>
  followsGrammar(schedule) && backwardsRange(schedule) === undefined;

const table: readonly (readonly [string, boolean, string])[] = [
  ["0 */6 * * *", true, "steps after *"],
  ["@hourly", true, "a descriptor"],
  ["0 0 * * SAT-SUN", true, "SUN ends a range as 7"],
  ["0 0 * * mon-fri", true, "names in any case"],
  ["0 0 1 JAN-MAR/2 *", true, "a step after a range of names"],
  ["0-59/60 * * * *", true, "a step as large as the field"],
  ["?/5 * * * *", true, "a step after ?"],
  ["5-1 * * * *", false, "a range that runs backwards (croner refuses it)"],
  ["*/5,5-1 * * * *", false, "a backwards range anywhere in a list"],
  ["0 0 * DEC-JAN *", false, "a backwards range of month names"],
  ["0 0 * * 6-0", false, "0 ends a range as 0, not 7"],
  ["0 0 * * 7-1", false, "7 starts a range as 7"],
  ["0/15 * * * *", false, "a step after a single value (croner refuses it)"],
  ["* * * JAN/2 *", false, "a step after a single name"],
  ["*/61 * * * *", false, "a step beyond the minutes"],
  ["* * * * */8", false, "a step beyond the days of the week"],
  ["59 7-24/24 * * *", false, "hour 24 (croner would let a range end there)"],
  ["0 0 * 2-13 *", false, "month 13 (croner would let a range end there)"],
  ["61 * * * *", false, "minute 61"],
  ["0 0 * * ſun", false, "a name with a non-ASCII letter that RE2 would fold"],
];

for (const [schedule, expected, why] of table) {
  Deno.test(`cron grammar: ${JSON.stringify(schedule)} is ${expected ? "accepted" : "refused"}: ${why}`, () => {
    assert.equal(accepted(schedule), expected);
    assert.equal(parseSchedule(schedule).ok, expected);
    if (expected) assert.ok(croner(schedule), "croner accepts it too");
  });
}

Deno.test("cron grammar: the planner's message names a backwards range", () => {
  const parsed = parseSchedule("5-1 * * * *");
  assert.equal(parsed.ok, false);
  assert.match(parsed.ok ? "" : parsed.message, /the range 5-1 runs backwards/);
});

/** A small deterministic generator (mulberry32), so the corpus is the same on every run. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test("cron grammar: nothing it accepts is refused by croner (20,000 generated schedules)", () => {
  const next = random(15);
  const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)];
  const atoms = [
    ["*", "?", "0", "5", "59", "07", "30", "60"],
    ["*", "?", "0", "23", "12", "7", "24"],
    ["*", "?", "1", "31", "15", "01", "0", "32"],
    ["*", "?", "1", "12", "JAN", "dec", "Feb", "13"],
    ["*", "?", "0", "7", "6", "SUN", "sat", "Mon", "8"],
  ];
  const steps = ["1", "2", "7", "8", "12", "13", "24", "25", "31", "32", "60", "61"];
  const part = (field: number) => {
    let text = pick(atoms[field]);
    const single = text !== "*" && text !== "?";
    if (single && next() < 0.4) {
      text += `-${pick(atoms[field].filter((a) => a !== "*" && a !== "?"))}`;
    }
    if (next() < 0.3) text += `/${pick(steps)}`;
    return text;
  };
  let grammatical = 0;
  for (let n = 0; n < 20_000; n++) {
    const schedule = [0, 1, 2, 3, 4]
      .map((field) => (next() < 0.2 ? [part(field), part(field)] : [part(field)]).join(","))
      .join(" ");
    if (!accepted(schedule)) continue;
    grammatical++;
    assert.ok(croner(schedule), `${schedule} is accepted by the grammar but croner refuses it`);
  }
  assert.ok(grammatical > 500, `only ${grammatical} generated schedules were grammatical`);
});
