// The schedule planner as data: ticks due or not, skips, suspend, pruning order and backup names.
import assert from "node:assert/strict";
import {
  backupName,
  dueTick,
  parseSchedule,
  planSchedule,
  type ScheduledBackupView,
  type ScheduleObservation,
} from "../../../../actors/schedule/plan.ts";

const at = (time: string) => new Date(time);

function backup(
  name: string,
  phase: ScheduledBackupView["phase"],
  creationTimestamp: string,
  terminating = false,
): ScheduledBackupView {
  return { name, phase, creationTimestamp, terminating };
}

function observe(overrides: Partial<ScheduleObservation> = {}): ScheduleObservation {
  return {
    scheduleName: "nightly",
    schedule: "*/1 * * * *",
    suspend: false,
    successfulBackupsHistoryLimit: 3,
    failedBackupsHistoryLimit: 1,
    createdAt: at("2024-01-02T03:00:30Z"),
    lastTick: undefined,
    backups: [],
    now: at("2024-01-02T03:00:45Z"),
    ...overrides,
  };
}

Deno.test("schedule planning: no tick is due before the first tick after creation, and the timer aims at it", () => {
  const plan = planSchedule(observe());
  assert.deepEqual(plan.steps, []);
  assert.deepEqual(plan.nextTick, at("2024-01-02T03:01:00Z"));
  assert.deepEqual(plan.state, { kind: "active" });
});

Deno.test("schedule planning: a tick that has passed creates a backup named after it", () => {
  const plan = planSchedule(observe({ now: at("2024-01-02T03:01:00.050Z") }));
  assert.deepEqual(plan.steps, [{
    kind: "createBackup",
    name: "nightly-20240102030100",
    tick: at("2024-01-02T03:01:00Z"),
  }]);
  assert.deepEqual(plan.nextTick, at("2024-01-02T03:02:00Z"));
});

Deno.test("schedule planning: a tick already handled is not due again", () => {
  const plan = planSchedule(observe({
    lastTick: at("2024-01-02T03:01:00Z"),
    now: at("2024-01-02T03:01:30Z"),
  }));
  assert.deepEqual(plan.steps, []);
  assert.deepEqual(plan.nextTick, at("2024-01-02T03:02:00Z"));
});

Deno.test("schedule planning: after missed ticks only the latest runs, once", () => {
  const plan = planSchedule(observe({
    schedule: "0 * * * *",
    lastTick: at("2024-01-02T03:00:00Z"),
    now: at("2024-01-02T07:30:00Z"),
  }));
  assert.deepEqual(plan.steps.map((step) => step.kind === "createBackup" && step.name), [
    "nightly-20240102070000",
  ]);
});

Deno.test("schedule planning: a due tick is skipped while the previous backup is BackingUp", () => {
  const plan = planSchedule(observe({
    lastTick: at("2024-01-02T03:01:00Z"),
    now: at("2024-01-02T03:02:01Z"),
    backups: [backup("nightly-20240102030100", "BackingUp", "2024-01-02T03:01:00Z")],
  }));
  assert.deepEqual(plan.steps, [{
    kind: "skipTick",
    tick: at("2024-01-02T03:02:00Z"),
    runningBackup: "nightly-20240102030100",
  }]);
});

Deno.test("schedule planning: a backup created but not yet picked up counts as running", () => {
  const plan = planSchedule(observe({
    lastTick: at("2024-01-02T03:01:00Z"),
    now: at("2024-01-02T03:02:01Z"),
    backups: [backup("nightly-20240102030100", undefined, "2024-01-02T03:01:00Z")],
  }));
  assert.equal(plan.steps[0]?.kind, "skipTick");
});

Deno.test("schedule planning: a finished or terminating backup does not block the tick", () => {
  const plan = planSchedule(observe({
    lastTick: at("2024-01-02T03:01:00Z"),
    now: at("2024-01-02T03:02:01Z"),
    backups: [
      backup("nightly-20240102030000", "Failed", "2024-01-02T03:00:00Z"),
      backup("nightly-20240102030100", "BackingUp", "2024-01-02T03:01:00Z", true),
    ],
  }));
  assert.equal(plan.steps[0]?.kind, "createBackup");
});

Deno.test("schedule planning: a suspended schedule starts nothing, prunes nothing and sets no timer", () => {
  const plan = planSchedule(observe({
    suspend: true,
    now: at("2024-01-02T05:00:00Z"),
    successfulBackupsHistoryLimit: 0,
    backups: [backup("old", "Completed", "2024-01-01T00:00:00Z")],
  }));
  assert.deepEqual(plan, { state: { kind: "suspended" }, steps: [], nextTick: undefined });
});

Deno.test("schedule planning: an edited schedule counts from the last tick handled, so it takes effect at once", () => {
  const hourly = observe({
    schedule: "0 * * * *",
    lastTick: at("2024-01-02T03:00:00Z"),
    now: at("2024-01-02T03:20:30Z"),
  });
  assert.deepEqual(planSchedule(hourly).nextTick, at("2024-01-02T04:00:00Z"));
  assert.deepEqual(planSchedule(hourly).steps, []);
  const everyFiveMinutes = planSchedule({ ...hourly, schedule: "*/5 * * * *" });
  assert.deepEqual(
    everyFiveMinutes.steps.map((step) => step.kind === "createBackup" && step.tick),
    [
      at("2024-01-02T03:20:00Z"),
    ],
  );
  assert.deepEqual(everyFiveMinutes.nextTick, at("2024-01-02T03:25:00Z"));
});

Deno.test("schedule planning: descriptors such as @hourly work", () => {
  const plan = planSchedule(observe({ schedule: "@hourly", now: at("2024-01-02T04:00:00Z") }));
  assert.deepEqual(plan.steps.map((step) => step.kind === "createBackup" && step.name), [
    "nightly-20240102040000",
  ]);
});

Deno.test("schedule planning: a schedule croner rejects is reported invalid, with no timer", () => {
  const plan = planSchedule(observe({ schedule: "61 * * * *" }));
  assert.equal(plan.state.kind, "invalid");
  assert.match(plan.state.kind === "invalid" ? plan.state.message : "", /"61 \* \* \* \*"/);
  assert.equal(plan.nextTick, undefined);
});

Deno.test("schedule planning: Completed backups beyond the limit are pruned oldest first", () => {
  const plan = planSchedule(observe({
    successfulBackupsHistoryLimit: 2,
    backups: [
      backup("c3", "Completed", "2024-01-02T02:03:00Z"),
      backup("c1", "Completed", "2024-01-02T02:01:00Z"),
      backup("c4", "Completed", "2024-01-02T02:04:00Z"),
      backup("c2", "Completed", "2024-01-02T02:02:00Z"),
      backup("r", "BackingUp", "2024-01-02T02:00:00Z"),
    ],
  }));
  assert.deepEqual(plan.steps, [
    { kind: "deleteBackup", name: "c1", phase: "Completed" },
    { kind: "deleteBackup", name: "c2", phase: "Completed" },
  ]);
});

Deno.test("schedule planning: Failed backups have their own limit, and limit 0 keeps none", () => {
  const plan = planSchedule(observe({
    successfulBackupsHistoryLimit: 5,
    failedBackupsHistoryLimit: 0,
    backups: [
      backup("f2", "Failed", "2024-01-02T02:02:00Z"),
      backup("c1", "Completed", "2024-01-02T02:01:00Z"),
      backup("f1", "Failed", "2024-01-02T02:01:00Z"),
    ],
  }));
  assert.deepEqual(plan.steps, [
    { kind: "deleteBackup", name: "f1", phase: "Failed" },
    { kind: "deleteBackup", name: "f2", phase: "Failed" },
  ]);
});

Deno.test("schedule planning: backups already being deleted are neither counted nor deleted again", () => {
  const plan = planSchedule(observe({
    successfulBackupsHistoryLimit: 1,
    backups: [
      backup("c1", "Completed", "2024-01-02T02:01:00Z", true),
      backup("c2", "Completed", "2024-01-02T02:02:00Z"),
    ],
  }));
  assert.deepEqual(plan.steps, []);
});

Deno.test("schedule planning: equal creation times prune in name order", () => {
  const plan = planSchedule(observe({
    successfulBackupsHistoryLimit: 1,
    backups: [
      backup("b", "Completed", "2024-01-02T02:00:00Z"),
      backup("a", "Completed", "2024-01-02T02:00:00Z"),
    ],
  }));
  assert.deepEqual(plan.steps, [{ kind: "deleteBackup", name: "a", phase: "Completed" }]);
});

Deno.test("backup names: one per tick, the same every time it is planned, in UTC", () => {
  const ticks = ["2024-01-02T03:01:00Z", "2024-01-02T03:02:00Z", "2024-12-31T23:59:00Z"];
  const names = ticks.map((tick) => backupName("nightly", at(tick)));
  assert.deepEqual(names, [
    "nightly-20240102030100",
    "nightly-20240102030200",
    "nightly-20241231235900",
  ]);
  assert.equal(new Set(names).size, names.length);
  assert.equal(backupName("nightly", at(ticks[0])), names[0]);
});

Deno.test("backup names: a very long schedule name is cut so the name stays a valid object name", () => {
  const name = backupName(`${"a".repeat(240)}-b`, at("2024-01-02T03:01:00Z"));
  assert.equal(name.length <= 253, true);
  assert.match(name, /^a+-20240102030100$/);
});

Deno.test("due ticks: a tick exactly at now is due; a millisecond before it nothing is", () => {
  const cron = parseSchedule("*/1 * * * *");
  assert.ok(cron.ok);
  const reference = at("2024-01-02T03:00:30Z");
  assert.deepEqual(
    dueTick(cron.value, reference, at("2024-01-02T03:01:00Z")),
    at("2024-01-02T03:01:00Z"),
  );
  assert.equal(dueTick(cron.value, reference, at("2024-01-02T03:00:59.999Z")), undefined);
});
