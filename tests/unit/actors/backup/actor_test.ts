// The backup actor against fakes: the API requests it makes for each phase, and what it streams.
import assert from "node:assert/strict";
import {
  backupActor,
  type BackupActorDeps,
  type BackupMessage,
} from "../../../../actors/backup/actor.ts";
import type { PreparedBackup } from "../../../../actors/backup/prepare.ts";
import type { TransferOutcome } from "../../../../actors/backup/transfer.ts";
import type { ActorContext, Behavior } from "../../../../actors/runtime/mod.ts";
import { systemClock } from "../../../../actors/runtime/mod.ts";
import { strictTenancy, type TenancySettings } from "../../../../actors/tenancy.ts";
import type { EtcdBackupObject, EtcdBackupStatus } from "../../../../actors/types.ts";
import { directAccess } from "../../../../actors/member_dialer.ts";
import type { K8sResult } from "../../../../k8s/errors.ts";
import type { ObjectTarget, Resource } from "../../../../k8s/resources.ts";
import type { StoreReader } from "../../../../k8s/store.ts";
import type { Logger } from "../../../../observability/log.ts";

const key = "ns/nightly";

/** The fixtures dial an IP with the operator's own keys: allowed only by these flags. */
const trusting: TenancySettings = {
  allowExternalBackupSources: true,
  allowAmbientCredentials: true,
  ambientCredentialsEndpoints: [],
};

function backupObject(status?: EtcdBackupStatus, attempts?: number): EtcdBackupObject {
  return {
    apiVersion: "etcd.improbable.io/v1alpha1",
    kind: "EtcdBackup",
    metadata: {
      name: "nightly",
      namespace: "ns",
      uid: "uid-1",
      generation: 1,
      creationTimestamp: "2024-01-02T03:04:05Z",
      ...(attempts
        ? { annotations: { "etcd.improbable.io/backup-attempts": String(attempts) } }
        : {}),
    },
    spec: {
      source: { clusterURL: "http://10.0.0.5:2379" },
      destination: { objectURLTemplate: "s3://b/{{ .Namespace }}/{{ .Name }}.db?region=eu-west-2" },
    },
    ...(status ? { status } : {}),
  };
}

interface Request {
  readonly method: "get" | "mergePatch";
  readonly plural: string;
  readonly subresource?: string;
  readonly body?: unknown;
}

const silent: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  with: () => silent,
};

/** An actor incarnation wired to fakes; `world` is what the API server (and cache) hold. */
function harness(
  world: { backup: EtcdBackupObject },
  transfer: (signal: AbortSignal) => Promise<TransferOutcome>,
  tenancy: TenancySettings = trusting,
) {
  const requests: Request[] = [];
  const events: string[] = [];
  const sent: BackupMessage[] = [];
  const transfers: PreparedBackup[] = [];
  const ok = <T>(value: T): Promise<K8sResult<T>> => Promise.resolve({ ok: true, value });
  const kube = {
    get: (resource: Resource, _target: ObjectTarget) => {
      requests.push({ method: "get", plural: resource.plural });
      return ok(world.backup);
    },
    mergePatch: (
      resource: Resource,
      _target: ObjectTarget,
      body: unknown,
      options: { subresource?: string } = {},
    ) => {
      requests.push({
        method: "mergePatch",
        plural: resource.plural,
        subresource: options.subresource,
        body,
      });
      return ok(world.backup);
    },
  } as unknown as BackupActorDeps["kube"];
  const backups: StoreReader<EtcdBackupObject> = {
    get: (wanted) => wanted === key ? world.backup : undefined,
    list: () => [world.backup],
    keys: () => [key],
    size: 1,
  };
  const deps: BackupActorDeps = {
    kube,
    stores: { backups, pods: { get: () => undefined, list: () => [], keys: () => [], size: 0 } },
    events: {
      record: (_object, type, reason, message) => void events.push(`${type} ${reason}: ${message}`),
    },
    memberAccess: directAccess("podIP"),
    tenancy,
    log: silent,
    environment: () => undefined,
    runTransfer: (prepared, signal) => {
      transfers.push(prepared);
      return transfer(signal);
    },
  };
  const context: ActorContext<BackupMessage> = {
    kind: "EtcdBackup",
    name: key,
    clock: systemClock,
    self: (message) => {
      sent.push(message);
      return true;
    },
    scheduleSelf: () => () => {},
    onMessage: () => () => {},
  };
  const behavior = backupActor(key, deps).init(context) as Behavior<BackupMessage>;
  const drain = async () => {
    await new Promise((resolve) => setTimeout(resolve, 0));
    for (let message = sent.shift(); message; message = sent.shift()) {
      await behavior.handle(message, context);
    }
  };
  return { behavior, context, requests, events, transfers, drain };
}

const succeeded: TransferOutcome = {
  kind: "succeeded",
  result: { sizeBytes: 2048, sha256: "c".repeat(64), revision: 7 },
};

const statusWrites = (requests: readonly Request[]) =>
  requests
    .filter((request) => request.subresource === "status")
    .map((request) => (request.body as { status: EtcdBackupStatus }).status);

Deno.test("backup actor: a new backup counts its attempt, goes BackingUp, streams and is recorded Completed", async () => {
  const world = { backup: backupObject() };
  const run = harness(world, () => Promise.resolve(succeeded));
  await run.behavior.handle({ kind: "reconcile" }, run.context);
  await run.drain();
  assert.deepEqual(
    run.requests.map((r) => `${r.method} ${r.plural}${r.subresource ? "/status" : ""}`),
    [
      "get etcdbackups",
      "mergePatch etcdbackups",
      "mergePatch etcdbackups/status",
      "mergePatch etcdbackups/status",
    ],
  );
  assert.deepEqual(run.requests[1].body, {
    metadata: { annotations: { "etcd.improbable.io/backup-attempts": "1" } },
  });
  const [backingUp, completed] = statusWrites(run.requests);
  assert.equal(backingUp.phase, "BackingUp");
  assert.equal(backingUp.objectURL, "s3://b/ns/nightly.db?region=eu-west-2");
  assert.equal(completed.phase, "Completed");
  assert.deepEqual(
    [completed.sizeBytes, completed.revision, completed.sha256],
    [2048, 7, "c".repeat(64)],
  );
  assert.equal(run.transfers[0].endpoint, "http://10.0.0.5:2379");
  assert.deepEqual(run.events.map((event) => event.split(":")[0]), [
    "Normal BackupStarted",
    "Normal BackupSucceeded",
  ]);
});

Deno.test("backup actor: once Completed is written, a stale cache still saying BackingUp starts nothing", async () => {
  const world = { backup: backupObject() };
  const run = harness(world, () => Promise.resolve(succeeded));
  await run.behavior.handle({ kind: "reconcile" }, run.context);
  await run.drain();
  world.backup = backupObject({ phase: "BackingUp" }, 1);
  const before = run.requests.length;
  await run.behavior.handle({ kind: "reconcile" }, run.context);
  assert.equal(run.requests.length, before, "no request at all");
  assert.equal(run.transfers.length, 1);
});

Deno.test("backup actor: a backup left BackingUp by a previous operator process streams again as attempt 2", async () => {
  const world = {
    backup: backupObject({ phase: "BackingUp", startTime: "2024-01-02T03:04:06Z" }, 1),
  };
  const run = harness(world, () => Promise.resolve(succeeded));
  await run.behavior.handle({ kind: "reconcile" }, run.context);
  assert.deepEqual(run.requests[1].body, {
    metadata: { annotations: { "etcd.improbable.io/backup-attempts": "2" } },
  });
  // The first attempt's start time stands: the status patch leaves it alone.
  assert.equal("startTime" in statusWrites(run.requests)[0], false);
  assert.match(statusWrites(run.requests)[0].conditions?.[0].message ?? "", /\(attempt 2\)/);
  assert.match(run.events[0], /^Warning BackupRestarted: .*attempt 2/);
  assert.equal(run.transfers.length, 1);
});

Deno.test("backup actor: a backup interrupted three times fails as Interrupted without streaming", async () => {
  const world = { backup: backupObject({ phase: "BackingUp" }, 3) };
  const run = harness(world, () => Promise.resolve(succeeded));
  await run.behavior.handle({ kind: "reconcile" }, run.context);
  const [failed] = statusWrites(run.requests);
  assert.equal(failed.phase, "Failed");
  assert.equal(failed.conditions?.[0].reason, "Interrupted");
  assert.equal(run.transfers.length, 0);
  assert.match(run.events[0], /^Warning BackupFailed: the backup was interrupted 3 times/);
});

Deno.test("backup actor: a failed transfer is recorded Failed once and never retried", async () => {
  const world = { backup: backupObject() };
  const run = harness(world, () =>
    Promise.resolve({
      kind: "failed",
      failure: { reason: "BucketNotFound", message: "bucket not found; create the bucket" },
    }));
  await run.behavior.handle({ kind: "reconcile" }, run.context);
  await run.drain();
  world.backup = backupObject({ phase: "Failed" }, 1);
  await run.behavior.handle({ kind: "reconcile" }, run.context);
  const writes = statusWrites(run.requests);
  assert.deepEqual(writes.map((status) => status.phase), ["BackingUp", "Failed"]);
  assert.equal(writes[1].conditions?.[0].reason, "BucketNotFound");
  assert.equal(run.transfers.length, 1);
});

Deno.test("backup actor: stopping while the upload runs aborts it and records nothing", async () => {
  const world = { backup: backupObject() };
  let aborted = false;
  const run = harness(
    world,
    (signal) =>
      new Promise((resolve) =>
        signal.addEventListener("abort", () => {
          aborted = true;
          resolve({ kind: "aborted" });
        })
      ),
  );
  await run.behavior.handle({ kind: "reconcile" }, run.context);
  await run.behavior.terminate?.({ kind: "stopped" });
  assert.ok(aborted);
  assert.deepEqual(statusWrites(run.requests).map((status) => status.phase), ["BackingUp"]);
});

Deno.test("backup actor: by default a backup of an IP address with the operator's own keys is refused: Failed, a Warning, nothing streamed", async () => {
  const world = { backup: backupObject() };
  const run = harness(world, () => Promise.resolve(succeeded), strictTenancy);
  await run.behavior.handle({ kind: "reconcile" }, run.context);
  await run.drain();
  assert.equal(run.transfers.length, 0, "nothing is streamed");
  assert.deepEqual(
    run.requests.map((request) => request.plural),
    ["etcdbackups", "etcdbackups"],
    "one GET of the backup and its status write; no Secret, no attempt counted",
  );
  const [status] = statusWrites(run.requests);
  assert.equal(status.phase, "Failed");
  const failed = status.conditions?.find((condition) =>
    condition.reason === "SourceOutsideNamespace"
  );
  assert(failed, JSON.stringify(status.conditions));
  assert.match(failed.message ?? "", /--allow-external-backup-sources/);
  assert.equal(run.events.length, 1);
  assert.match(run.events[0], /^Warning BackupFailed: refused: 10\.0\.0\.5 is not the name/);
});
