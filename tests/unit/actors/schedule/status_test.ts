// Schedule status and the backups a schedule creates, as data.
import assert from "node:assert/strict";
import { backupObject } from "../../../../actors/schedule/actor.ts";
import { scheduleStatus } from "../../../../actors/schedule/status.ts";
import type { EtcdBackupScheduleObject } from "../../../../actors/types.ts";

const base = {
  previous: {},
  createdTick: undefined,
  completionTimes: [],
  state: { kind: "active" as const },
  nextTick: new Date("2024-01-02T03:02:00Z"),
  generation: 2,
  now: "2024-01-02T03:01:01Z",
};

Deno.test("schedule status: a created backup's tick becomes lastScheduleTime", () => {
  const status = scheduleStatus({
    ...base,
    previous: { lastScheduleTime: "2024-01-02T03:00:00Z" },
    createdTick: new Date("2024-01-02T03:01:00Z"),
  });
  assert.equal(status.lastScheduleTime, "2024-01-02T03:01:00Z");
});

Deno.test("schedule status: lastScheduleTime stays when nothing was created", () => {
  const status = scheduleStatus({
    ...base,
    previous: { lastScheduleTime: "2024-01-02T03:00:00Z" },
  });
  assert.equal(status.lastScheduleTime, "2024-01-02T03:00:00Z");
});

Deno.test("schedule status: lastScheduleTime never moves back to what a lagging cache shows", () => {
  const status = scheduleStatus({
    ...base,
    // The cache still has the status from before the last tick this actor created.
    previous: { lastScheduleTime: "2024-01-02T03:00:00Z" },
    createdTick: new Date("2024-01-02T03:01:00Z"),
  });
  assert.equal(status.lastScheduleTime, "2024-01-02T03:01:00Z");
  const newer = scheduleStatus({
    ...base,
    previous: { lastScheduleTime: "2024-01-02T03:05:00Z" },
    createdTick: new Date("2024-01-02T03:01:00Z"),
  });
  assert.equal(newer.lastScheduleTime, "2024-01-02T03:05:00Z");
});

Deno.test("schedule status: lastSuccessfulTime is the newest completion and never moves back after pruning", () => {
  assert.equal(
    scheduleStatus({
      ...base,
      completionTimes: ["2024-01-02T03:01:05Z", "2024-01-02T03:00:05Z"],
    }).lastSuccessfulTime,
    "2024-01-02T03:01:05Z",
  );
  assert.equal(
    scheduleStatus({
      ...base,
      previous: { lastSuccessfulTime: "2024-01-02T03:01:05Z" },
      completionTimes: ["2024-01-02T02:00:05Z"],
    }).lastSuccessfulTime,
    "2024-01-02T03:01:05Z",
  );
});

Deno.test("schedule status: no times are written before anything happened", () => {
  const status = scheduleStatus(base);
  assert.equal("lastScheduleTime" in status, false);
  assert.equal("lastSuccessfulTime" in status, false);
});

Deno.test("schedule status: the Scheduled condition tells the next tick, suspension or an invalid schedule", () => {
  const reasons = [
    scheduleStatus(base),
    scheduleStatus({ ...base, state: { kind: "suspended" }, nextTick: undefined }),
    scheduleStatus({ ...base, state: { kind: "invalid", message: "bad" }, nextTick: undefined }),
  ].map((status) => status.conditions.map((c) => [c.type, c.status, c.reason, c.message]));
  assert.deepEqual(reasons, [
    [["Scheduled", "True", "Scheduled", "the next backup is due at 2024-01-02T03:02:00Z"]],
    [[
      "Scheduled",
      "False",
      "Suspended",
      "spec.suspend is true: no backups are started and none are pruned",
    ]],
    [["Scheduled", "False", "InvalidSchedule", "bad"]],
  ]);
});

Deno.test("schedule status: the condition keeps its transition time while its status holds", () => {
  const previous = {
    conditions: [{
      type: "Scheduled",
      status: "True" as const,
      reason: "Scheduled",
      message: "the next backup is due at 2024-01-02T03:01:00Z",
      lastTransitionTime: "2024-01-01T00:00:00Z",
    }],
  };
  assert.equal(
    scheduleStatus({ ...base, previous }).conditions[0].lastTransitionTime,
    "2024-01-01T00:00:00Z",
  );
});

const schedule: EtcdBackupScheduleObject = {
  apiVersion: "etcd.improbable.io/v1alpha1",
  kind: "EtcdBackupSchedule",
  metadata: { name: "nightly", namespace: "prod", uid: "schedule-uid" },
  spec: {
    schedule: "0 2 * * *",
    backupTemplate: {
      source: { clusterURL: "http://c-0.c:2379" },
      destination: { objectURLTemplate: "s3://b/{{ .UID }}.db" },
      credentialsSecretRef: { name: "creds" },
    },
  },
};

Deno.test("scheduled backups: the template's spec, controlled by the schedule, labelled with it", () => {
  const backup = backupObject(schedule, "nightly-20240102020000");
  assert.equal(backup.kind, "EtcdBackup");
  assert.equal(backup.apiVersion, "etcd.improbable.io/v1alpha1");
  assert.deepEqual(backup.spec, schedule.spec.backupTemplate);
  assert.equal(backup.metadata.namespace, "prod");
  assert.deepEqual(backup.metadata.ownerReferences, [{
    apiVersion: "etcd.improbable.io/v1alpha1",
    kind: "EtcdBackupSchedule",
    name: "nightly",
    uid: "schedule-uid",
    controller: true,
    blockOwnerDeletion: true,
  }]);
  assert.equal(backup.metadata.labels?.["etcd.improbable.io/backup-schedule"], "nightly");
});
