// The cron grammar a schedule must follow, shared by the schedule planner and the CRD's CEL rule.
//
// One grammar decides both: `parseSchedule` checks these patterns before croner parses the
// schedule, and the EtcdBackupSchedule CRD carries the same patterns as CEL (crds_test.ts checks
// the YAML holds exactly `celRule`), so the apiserver refuses at apply time what the runtime would
// refuse. The grammar is croner's (5-part mode) minus its leniencies: values in their field's
// range (croner lets a range end at hour 24 or month 13), a step only after `*`, `?` or a range
// (croner refuses `0/15`) and no larger than the field (croner refuses `*/61`). The one thing a
// regex cannot say, that a range runs forwards (`5-1`), is a second CEL rule in the CRD
// (`rangeRule`, its twin here is `backwardsRange`); croner refuses those itself at runtime.
// Written in the common subset of RE2 and JavaScript: explicit ASCII classes instead of `\s` and
// of case-insensitive matching, whose Unicode folding differs between the two.

/** `\s` as RE2 means it (JavaScript's also matches Unicode spaces). */
const space = "[\\t\\n\\f\\r ]";

/** A name in any letter case, spelt out so that both engines fold exactly ASCII. */
function anyCase(name: string): string {
  return [...name].map((letter) => `[${letter.toUpperCase()}${letter.toLowerCase()}]`).join("");
}

const months = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const weekdays = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

interface Field {
  /** One value: a number in the field's range, or a name. */
  readonly value: string;
  /** A step: 1 up to croner's limit for the field. */
  readonly step: string;
}

const fields: readonly Field[] = [
  { value: "[0-5]?[0-9]", step: "[1-9]|[1-5][0-9]|60" }, // minute
  { value: "[01]?[0-9]|2[0-3]", step: "[1-9]|1[0-9]|2[0-4]" }, // hour
  { value: "0?[1-9]|[12][0-9]|3[01]", step: "[1-9]|[12][0-9]|3[01]" }, // day of month
  { value: `0?[1-9]|1[0-2]|${months.map(anyCase).join("|")}`, step: "[1-9]|1[0-2]" }, // month
  { value: `[0-7]|${weekdays.map(anyCase).join("|")}`, step: "[1-7]" }, // day of week
];

function fieldPattern({ value, step }: Field): string {
  const element = `((\\*|\\?)(/(${step}))?|(${value})(-(${value})(/(${step}))?)?)`;
  return `${element}(,${element})*`;
}

/** Five fields separated by white space, with white space allowed around them. */
export const cronPattern = `^${space}*${fields.map(fieldPattern).join(`${space}+`)}${space}*$`;

export const descriptorPattern = "^@(yearly|annually|monthly|weekly|daily|midnight|hourly)$";

/** The CRD's first rule on `spec.schedule`, exactly. */
export const celRule = `self.matches(r'${descriptorPattern}') ||\nself.matches(r'${cronPattern}')`;

const cron = new RegExp(cronPattern);
const descriptor = new RegExp(descriptorPattern);

/** Whether the schedule follows the grammar (it may still have a range that runs backwards). */
export function followsGrammar(schedule: string): boolean {
  return descriptor.test(schedule) || cron.test(schedule);
}

/**
 * The first range that runs backwards, as the CRD's second rule judges: the start must not exceed
 * the end, where SUN starts a range as 0 and ends one as 7 (croner's reading: SAT-SUN is 6-7).
 */
export function backwardsRange(schedule: string): string | undefined {
  for (const [range, from, to] of schedule.matchAll(/([0-9A-Za-z]{1,3})-([0-9A-Za-z]{1,3})/g)) {
    if (numberOf(from, false) > numberOf(to, true)) return range;
  }
  return undefined;
}

function numberOf(value: string, end: boolean): number {
  if (/^[0-9]+$/.test(value)) return Number(value);
  const name = value.toUpperCase();
  if (name === "SUN") return end ? 7 : 0;
  const weekday = weekdays.indexOf(name);
  return weekday >= 0 ? weekday : months.indexOf(name) + 1;
}

const numberOfCel = (part: string, sundayEnds: number) => {
  const name = `range.split('-')[${part}].upperAscii()`;
  return `(range.split('-')[${part}].matches(r'^[0-9]+$') ? int(range.split('-')[${part}]) : ` +
    `${name} == 'SUN' ? ${sundayEnds} : ` +
    `'SUNMONTUEWEDTHUFRISAT'.indexOf(${name}) >= 0 ? ` +
    `'SUNMONTUEWEDTHUFRISAT'.indexOf(${name}) / 3 : ` +
    `'JANFEBMARAPRMAYJUNJULAUGSEPOCTNOVDEC'.indexOf(${name}) / 3 + 1)`;
};

/** The CRD's second rule on `spec.schedule`, `backwardsRange` in CEL. */
export const rangeRule = `self.findAll(r'[0-9A-Za-z]{1,3}-[0-9A-Za-z]{1,3}').all(range,\n  ${
  numberOfCel("0", 0)
} <=\n  ${numberOfCel("1", 7)})`;
