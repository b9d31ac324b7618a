// The schedule actor against fakes: what it creates and deletes, and the one timer it keeps.
import assert from "node:assert/strict";
import { strictTenancy, type TenancySettings } from "../../../../actors/tenancy.ts";
import {
  scheduleActor,
  type ScheduleActorDeps,
  type ScheduleMessage,
} from "../../../../actors/schedule/actor.ts";
import type { ActorContext, Behavior } from "../../../../actors/runtime/mod.ts";
import { systemClock } from "../../../../actors/runtime/mod.ts";
import type { EtcdBackupObject, EtcdBackupScheduleObject } from "../../../../actors/types.ts";
import type { K8sResult } from "../../../../k8s/errors.ts";
import type { KubeObject } from "../../../../k8s/objects.ts";
import type { ObjectTarget, Resource } from "../../../../k8s/resources.ts";
import type { StoreReader } from "../../../../k8s/store.ts";
import type { Logger } from "../../../../observability/log.ts";

const key = "ns/every-minute";

const silent: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  with: () => silent,
};

function schedule(spec: Partial<EtcdBackupScheduleObject["spec"]> = {}): EtcdBackupScheduleObject {
  return {
    apiVersion: "etcd.improbable.io/v1alpha1",
    kind: "EtcdBackupSchedule",
    metadata: {
      name: "every-minute",
      namespace: "ns",
      uid: "schedule-uid",
      creationTimestamp: "2024-01-02T03:00:30Z",
    },
    spec: {
      schedule: "*/1 * * * *",
      successfulBackupsHistoryLimit: 1,
      failedBackupsHistoryLimit: 1,
      backupTemplate: {
        source: { clusterURL: "http://c-0.c:2379" },
        destination: { objectURLTemplate: "s3://b/{{ .UID }}.db" },
      },
      ...spec,
    },
  };
}

function owned(name: string, phase: "Completed" | "Failed", created: string): EtcdBackupObject {
  return {
    metadata: {
      name,
      namespace: "ns",
      uid: `uid-${name}`,
      creationTimestamp: created,
      ownerReferences: [{
        apiVersion: "etcd.improbable.io/v1alpha1",
        kind: "EtcdBackupSchedule",
        name: "every-minute",
        uid: "schedule-uid",
        controller: true,
      }],
    },
    spec: schedule().spec.backupTemplate,
    status: { phase, ...(phase === "Completed" ? { completionTime: created } : {}) },
  };
}

function store<T extends KubeObject>(items: () => readonly T[]): StoreReader<T> {
  const keyOf = (item: T) => `${item.metadata.namespace}/${item.metadata.name}`;
  return {
    get: (wanted) => items().find((item) => keyOf(item) === wanted),
    list: items,
    keys: () => items().map(keyOf),
    get size() {
      return items().length;
    },
  };
}

function harness(world: {
  schedule?: EtcdBackupScheduleObject;
  backups: EtcdBackupObject[];
  now: Date;
  deleteObject?: ScheduleActorDeps["deleteObject"];
  /** The fixtures' backups name no Secret: deleting their objects takes the operator's keys. */
  tenancy?: TenancySettings;
}) {
  const requests: string[] = [];
  const events: string[] = [];
  const timers = { live: 0, delays: [] as number[] };
  const result = (value: unknown): Promise<K8sResult<unknown>> =>
    Promise.resolve({ ok: true, value });
  const kube = {
    create: (resource: Resource, body: KubeObject) => {
      requests.push(`create ${resource.plural} ${body.metadata.name}`);
      return result(body);
    },
    delete: (resource: Resource, target: ObjectTarget) => {
      requests.push(`delete ${resource.plural} ${target.name}`);
      return result(undefined);
    },
    mergePatch: (_resource: Resource, _target: ObjectTarget, body: unknown) => {
      requests.push(`status ${JSON.stringify((body as { status: unknown }).status)}`);
      return result(world.schedule);
    },
  } as unknown as ScheduleActorDeps["kube"];
  const deps: ScheduleActorDeps = {
    kube,
    stores: {
      schedules: store(() => world.schedule ? [world.schedule] : []),
      backups: store(() => world.backups),
    },
    events: {
      record: (_object, type, reason, message) => void events.push(`${type} ${reason}: ${message}`),
    },
    log: silent,
    now: () => world.now,
    environment: () => undefined,
    tenancy: world.tenancy ?? { ...strictTenancy, allowAmbientCredentials: true },
    deleteObject: world.deleteObject &&
      ((location, options) => {
        requests.push(`delete object ${location.bucket}/${location.key}`);
        return world.deleteObject!(location, options);
      }),
  };
  const context: ActorContext<ScheduleMessage> = {
    kind: "EtcdBackupSchedule",
    name: key,
    clock: systemClock,
    self: () => true,
    scheduleSelf: (_message, delayMs) => {
      timers.live++;
      timers.delays.push(delayMs);
      let cancelled = false;
      return () => {
        if (!cancelled) timers.live--;
        cancelled = true;
      };
    },
    onMessage: () => () => {},
  };
  const behavior = scheduleActor(key, deps).init(context) as Behavior<ScheduleMessage>;
  const reconcile = () => behavior.handle({ kind: "reconcile" }, context);
  return { behavior, requests, events, timers, reconcile };
}

Deno.test("schedule actor: before the first tick it creates nothing and sleeps until the tick", async () => {
  const run = harness({ schedule: schedule(), backups: [], now: new Date("2024-01-02T03:00:40Z") });
  await run.reconcile();
  assert.deepEqual(run.requests.filter((r) => !r.startsWith("status")), []);
  assert.deepEqual(run.timers, { live: 1, delays: [20_100] });
});

Deno.test("schedule actor: a due tick creates its backup once, even when planned again from a stale cache", async () => {
  const world = { schedule: schedule(), backups: [], now: new Date("2024-01-02T03:01:00.200Z") };
  const run = harness(world);
  await run.reconcile();
  await run.reconcile();
  assert.deepEqual(run.requests.filter((r) => r.startsWith("create")), [
    "create etcdbackups every-minute-20240102030100",
  ]);
  assert.match(
    run.requests.find((r) => r.startsWith("status")) ?? "",
    /"lastScheduleTime":"2024-01-02T03:01:00Z"/,
  );
  assert.deepEqual(run.events.map((event) => event.split(":")[0]), ["Normal BackupCreated"]);
  assert.equal(run.timers.live, 1, "every pass replaces the one timer");
});

Deno.test("schedule actor: editing the schedule takes effect on the next message", async () => {
  const world = {
    schedule: schedule({ schedule: "0 * * * *" }),
    backups: [],
    now: new Date("2024-01-02T03:20:30Z"),
  };
  const run = harness(world);
  await run.reconcile();
  assert.deepEqual(run.requests.filter((r) => r.startsWith("create")), []);
  world.schedule = schedule({ schedule: "*/5 * * * *" });
  await run.reconcile();
  assert.deepEqual(run.requests.filter((r) => r.startsWith("create")), [
    "create etcdbackups every-minute-20240102032000",
  ]);
  assert.deepEqual(run.timers.delays, [39 * 60_000 + 30_000 + 100, 4 * 60_000 + 30_000 + 100]);
  assert.equal(run.timers.live, 1);
});

Deno.test("schedule actor: finished backups beyond the limits are deleted, oldest first", async () => {
  const run = harness({
    schedule: { ...schedule(), status: { lastScheduleTime: "2024-01-02T03:02:00Z" } },
    backups: [
      owned("every-minute-20240102030200", "Completed", "2024-01-02T03:02:00Z"),
      owned("every-minute-20240102030100", "Completed", "2024-01-02T03:01:00Z"),
      owned("every-minute-20240102030000", "Failed", "2024-01-02T03:00:00Z"),
    ],
    now: new Date("2024-01-02T03:02:30Z"),
  });
  await run.reconcile();
  assert.deepEqual(run.requests.filter((r) => !r.startsWith("status")), [
    "delete etcdbackups every-minute-20240102030100",
  ]);
  assert.match(run.events.join("\n"), /BackupPruned: deleted completed EtcdBackup/);
});

Deno.test("schedule actor: a deleted schedule does nothing and leaves no timer, and stopping clears the timer", async () => {
  const world: { schedule?: EtcdBackupScheduleObject; backups: never[]; now: Date } = {
    schedule: schedule(),
    backups: [],
    now: new Date("2024-01-02T03:00:40Z"),
  };
  const run = harness(world);
  await run.reconcile();
  assert.equal(run.timers.live, 1);
  world.schedule = undefined;
  await run.reconcile();
  assert.equal(run.timers.live, 0);
  world.schedule = schedule();
  await run.reconcile();
  await run.behavior.terminate?.({ kind: "stopped" });
  assert.equal(run.timers.live, 0);
});

function withObject(backup: EtcdBackupObject, key: string): EtcdBackupObject {
  return { ...backup, status: { ...backup.status, objectURL: `s3://b/${key}?region=us-east-1` } };
}

const objectDeleted = () => Promise.resolve({ ok: true as const, value: undefined });

Deno.test("schedule actor: with prunedBackupObjects Delete the object goes first, then the backup", async () => {
  const run = harness({
    schedule: schedule({ prunedBackupObjects: "Delete" }),
    backups: [
      withObject(owned("old", "Completed", "2024-01-02T02:00:00Z"), "old.db"),
      withObject(owned("new", "Completed", "2024-01-02T02:30:00Z"), "new.db"),
    ],
    now: new Date("2024-01-02T03:00:40Z"),
    deleteObject: objectDeleted,
  });
  await run.reconcile();
  assert.deepEqual(run.requests.filter((request) => request.startsWith("delete")), [
    "delete object b/old.db",
    "delete etcdbackups old",
  ]);
  assert.match(
    run.events.join("\n"),
    /deleted completed EtcdBackup old: .* and its object s3:\/\/b\/old\.db/,
  );
});

Deno.test("schedule actor: by default a pruned backup's object is left alone", async () => {
  const run = harness({
    schedule: schedule(),
    backups: [
      withObject(owned("old", "Completed", "2024-01-02T02:00:00Z"), "old.db"),
      withObject(owned("new", "Completed", "2024-01-02T02:30:00Z"), "new.db"),
    ],
    now: new Date("2024-01-02T03:00:40Z"),
    deleteObject: objectDeleted,
  });
  await run.reconcile();
  assert.deepEqual(run.requests.filter((request) => request.startsWith("delete")), [
    "delete etcdbackups old",
  ]);
});

Deno.test("schedule actor: an unreachable store keeps the pruned backup for the next pass", async () => {
  const run = harness({
    schedule: schedule({ prunedBackupObjects: "Delete" }),
    backups: [
      withObject(owned("old", "Completed", "2024-01-02T02:00:00Z"), "old.db"),
      withObject(owned("new", "Completed", "2024-01-02T02:30:00Z"), "new.db"),
    ],
    now: new Date("2024-01-02T03:00:40Z"),
    deleteObject: () =>
      Promise.resolve({ ok: false as const, error: { kind: "unreachable", message: "timeout" } }),
  });
  await run.reconcile();
  assert.deepEqual(run.requests.filter((request) => request.startsWith("delete")), [
    "delete object b/old.db",
  ]);
  assert.deepEqual(run.timers.delays, [5_000]);
});

Deno.test("schedule actor: a store that refuses the delete for good leaves the object, says so, and prunes the backup", async () => {
  const run = harness({
    schedule: schedule({ prunedBackupObjects: "Delete" }),
    backups: [
      withObject(owned("old", "Completed", "2024-01-02T02:00:00Z"), "old.db"),
      withObject(owned("new", "Completed", "2024-01-02T02:30:00Z"), "new.db"),
    ],
    now: new Date("2024-01-02T03:00:40Z"),
    deleteObject: () =>
      Promise.resolve({ ok: false as const, error: { kind: "accessDenied", message: "denied" } }),
  });
  await run.reconcile();
  assert.deepEqual(run.requests.filter((request) => request.startsWith("delete")), [
    "delete object b/old.db",
    "delete etcdbackups old",
  ]);
  assert.match(
    run.events.join("\n"),
    /Warning BackupObjectNotDeleted: could not delete s3:\/\/b\/old\.db/,
  );
});

Deno.test("schedule actor: without a Secret and without --allow-ambient-credentials a pruned backup's object is left, with the reason", async () => {
  const run = harness({
    schedule: schedule({ prunedBackupObjects: "Delete" }),
    backups: [
      withObject(owned("old", "Completed", "2024-01-02T02:00:00Z"), "old.db"),
      withObject(owned("new", "Completed", "2024-01-02T02:30:00Z"), "new.db"),
    ],
    now: new Date("2024-01-02T03:00:40Z"),
    deleteObject: objectDeleted,
    tenancy: strictTenancy,
  });
  await run.reconcile();
  assert.deepEqual(run.requests.filter((request) => request.startsWith("delete")), [
    "delete etcdbackups old",
  ]);
  assert.match(run.events.join("\n"), /s3:\/\/b\/old\.db.*refused: spec\.credentialsSecretRef/);
});

Deno.test("schedule actor: a schedule croner cannot run (stored before the CRD refused it) is reported once with a Warning", async () => {
  const stored = { ...schedule({ schedule: "5-1 * * * *" }) };
  stored.metadata = { ...stored.metadata, generation: 2 };
  const run = harness({ schedule: stored, backups: [], now: new Date("2024-01-02T03:00:40Z") });
  await run.reconcile();
  await run.reconcile();
  const warnings = run.events.filter((event) => event.startsWith("Warning InvalidSchedule"));
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /the range 5-1 runs backwards/);
  assert.match(run.requests.join("\n"), /"reason":"InvalidSchedule"/);

  // A later incarnation finds it reported for this generation already.
  const reported = {
    ...stored,
    status: {
      conditions: [{
        type: "Scheduled",
        status: "False" as const,
        reason: "InvalidSchedule",
        message: "…",
        lastTransitionTime: "2024-01-02T03:00:40Z",
        observedGeneration: 2,
      }],
    },
  };
  const again = harness({ schedule: reported, backups: [], now: new Date("2024-01-02T03:01:40Z") });
  await again.reconcile();
  assert.deepEqual(again.events.filter((event) => event.includes("InvalidSchedule")), []);
});

Deno.test("schedule actor: an object another EtcdBackup in the namespace names is kept when its pruned writer goes", async () => {
  const oneOff: EtcdBackupObject = {
    metadata: { name: "one-off", namespace: "ns", uid: "uid-one-off" },
    spec: schedule().spec.backupTemplate,
    status: { phase: "Completed", objectURL: "s3://b/old.db?region=us-east-1" },
  };
  const run = harness({
    schedule: schedule({ prunedBackupObjects: "Delete" }),
    backups: [
      withObject(owned("old", "Completed", "2024-01-02T02:00:00Z"), "old.db"),
      withObject(owned("new", "Completed", "2024-01-02T02:30:00Z"), "new.db"),
      oneOff,
    ],
    now: new Date("2024-01-02T03:00:40Z"),
    deleteObject: objectDeleted,
  });
  await run.reconcile();
  assert.deepEqual(run.requests.filter((request) => request.startsWith("delete")), [
    "delete etcdbackups old",
  ]);
  assert.match(
    run.events.join("\n"),
    /kept its object s3:\/\/b\/old\.db.*EtcdBackup one-off still names it/,
  );
});
