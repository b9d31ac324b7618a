// The backup planner as data: phase and what runs here in, the one next step out.
import assert from "node:assert/strict";
import {
  type BackupObservation,
  type BackupStep,
  maxAttempts,
  parseAttempts,
  planBackup,
} from "../../../../actors/backup/plan.ts";

const fresh: BackupObservation = {
  phase: undefined,
  uploadRunning: false,
  outcomePending: false,
  attempts: 0,
};

const cases: readonly (readonly [string, Partial<BackupObservation>, BackupStep])[] = [
  ["a new backup starts its first attempt", {}, { kind: "start", attempt: 1 }],
  [
    "a new backup whose earlier start was cut short starts the next attempt",
    { attempts: 1 },
    { kind: "start", attempt: 2 },
  ],
  ["a backup whose upload runs here waits for it", {
    phase: "BackingUp",
    uploadRunning: true,
    attempts: 1,
  }, { kind: "wait" }],
  ["a finished upload gets its outcome recorded", {
    phase: "BackingUp",
    outcomePending: true,
    attempts: 1,
  }, { kind: "record" }],
  [
    "a backup BackingUp with no upload in this process (the operator restarted) starts over",
    { phase: "BackingUp", attempts: 1 },
    { kind: "restart", attempt: 2 },
  ],
  [
    "a backup interrupted as often as allowed fails instead of looping",
    { phase: "BackingUp", attempts: maxAttempts },
    { kind: "giveUp", attempts: maxAttempts },
  ],
  [
    "a new backup that used up its attempts fails too",
    { attempts: maxAttempts },
    { kind: "giveUp", attempts: maxAttempts },
  ],
  ["a Completed backup is never touched again", { phase: "Completed", attempts: 1 }, {
    kind: "done",
  }],
  ["a Failed backup is never retried", { phase: "Failed", attempts: 1 }, { kind: "done" }],
  [
    "a Failed backup is not retried even with attempts left and nothing running",
    { phase: "Failed", attempts: 0 },
    { kind: "done" },
  ],
  [
    "an outcome for a backup already final is dropped, not written over it",
    { phase: "Completed", outcomePending: true, attempts: 1 },
    { kind: "done" },
  ],
];

for (const [name, seen, expected] of cases) {
  Deno.test(`backup planning: ${name}`, () => {
    assert.deepEqual(planBackup({ ...fresh, ...seen }), expected);
  });
}

Deno.test("backup planning: the attempts annotation reads as a count, anything odd as none", () => {
  assert.deepEqual(
    ["2", undefined, "", "x", "-1", "1.5", "0"].map(parseAttempts),
    [2, 0, 0, 0, 0, 0, 0],
  );
});
