// The one condition rule: lastTransitionTime changes only when the condition's status does.
import assert from "node:assert/strict";
import { type PreviousCondition, withTransitionTime } from "../../../actors/conditions.ts";

const now = "2026-01-02T03:04:05Z";
const earlier = "2026-01-01T00:00:00Z";

const cases: {
  readonly name: string;
  readonly previous: readonly PreviousCondition[];
  readonly next: { readonly type: string; readonly status: string; readonly reason: string };
  readonly expected: string;
}[] = [
  {
    name: "a new condition starts now",
    previous: [],
    next: { type: "Available", status: "True", reason: "Serving" },
    expected: now,
  },
  {
    name: "an unchanged status keeps its time, even when the reason changes",
    previous: [{ type: "Available", status: "True", lastTransitionTime: earlier }],
    next: { type: "Available", status: "True", reason: "SomethingElse" },
    expected: earlier,
  },
  {
    name: "a flipped status moves the time",
    previous: [{ type: "Available", status: "True", lastTransitionTime: earlier }],
    next: { type: "Available", status: "False", reason: "QuorumLost" },
    expected: now,
  },
  {
    name: "another type's time is not borrowed",
    previous: [{ type: "Degraded", status: "True", lastTransitionTime: earlier }],
    next: { type: "Available", status: "True", reason: "Serving" },
    expected: now,
  },
  {
    name: "an earlier condition without a time gets one",
    previous: [{ type: "Available", status: "True" }],
    next: { type: "Available", status: "True", reason: "Serving" },
    expected: now,
  },
];

for (const { name, previous, next, expected } of cases) {
  Deno.test(`conditions: ${name}`, () => {
    const condition = withTransitionTime(next, previous, now);
    assert.deepEqual(condition, { ...next, lastTransitionTime: expected });
  });
}
