import assert from "node:assert/strict";
import { type ReactionPhase, ReactionTimes } from "../../../../actors/cluster/reaction.ts";

function timed() {
  let now = 0;
  const reports: string[] = [];
  const times = new ReactionTimes(
    (phase: ReactionPhase, seconds: number) => void reports.push(`${phase} ${seconds}`),
    () => now,
  );
  return { times, reports, at: (ms: number) => now = ms };
}

Deno.test("a spec change is timed from its arrival to each phase, each phase once", () => {
  const { times, reports, at } = timed();
  at(1_250);
  times.passStarted(2, 1, 1_000);
  at(1_300);
  times.reached("observed");
  times.reached("observed");
  at(1_350);
  times.reached("writing");
  at(1_400);
  times.written(2);
  times.written(2);
  assert.deepEqual(reports, [
    "started 0.25",
    "observed 0.3",
    "writing 0.35",
    "acknowledged 0.4",
  ]);
});

Deno.test("a second pass on the same unacknowledged generation does not restart its clock", () => {
  const { times, reports, at } = timed();
  at(100);
  times.passStarted(2, 1, 0);
  times.written(1); // a write that did not acknowledge it (it failed, or an older status)
  at(900);
  times.passStarted(2, 1, 0);
  times.reached("observed");
  times.written(2);
  assert.deepEqual(reports, ["started 0.1", "observed 0.9", "acknowledged 0.9"]);
});

Deno.test("periodic passes on an acknowledged generation, and unknown arrivals, are not timed", () => {
  const { times, reports, at } = timed();
  at(500);
  times.passStarted(3, 3, 0);
  times.reached("observed");
  times.written(3);
  times.passStarted(4, 3, undefined);
  times.reached("observed");
  times.written(4);
  assert.deepEqual(reports, []);
});

Deno.test("a newer generation arriving mid-reaction starts a new clock", () => {
  const { times, reports, at } = timed();
  at(100);
  times.passStarted(2, 1, 0);
  at(300);
  times.passStarted(3, 1, 250);
  times.written(2); // the older generation's acknowledgement is not this one's
  times.written(3);
  assert.deepEqual(reports, ["started 0.1", "started 0.05", "acknowledged 0.05"]);
});
