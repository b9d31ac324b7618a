// The restore actor against fakes: the snapshot's source is chosen once and every pod checks it.
import assert from "node:assert/strict";
import {
  restoreActor,
  type RestoreActorDeps,
  type RestoreMessage,
} from "../../../../actors/restore/actor.ts";
import type { ActorContext, Behavior } from "../../../../actors/runtime/mod.ts";
import { systemClock } from "../../../../actors/runtime/mod.ts";
import type { EtcdBackupObject, EtcdRestoreObject } from "../../../../actors/types.ts";
import type { KubeObject } from "../../../../k8s/objects.ts";
import type { ObjectTarget, Resource } from "../../../../k8s/resources.ts";
import type { StoreReader } from "../../../../k8s/store.ts";
import type { Logger } from "../../../../observability/log.ts";

const latest = "s3://backups/latest.db?endpoint=http://minio:9000&region=us-east-1";

const silent: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  with: () => silent,
};

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

function backup(name: string, completionTime: string, sha256: string): EtcdBackupObject {
  return {
    metadata: { name, namespace: "prod", uid: `uid-${name}` },
    spec: {
      source: { clusterURL: "http://c-0.c:2379" },
      destination: { objectURLTemplate: latest },
    },
    status: { phase: "Completed", objectURL: latest, completionTime, sha256 },
  };
}

const restore: EtcdRestoreObject = {
  apiVersion: "etcd.improbable.io/v1alpha1",
  kind: "EtcdRestore",
  metadata: { name: "from-latest", namespace: "prod", uid: "restore-uid", generation: 1 },
  spec: {
    source: { objectURL: latest },
    clusterTemplate: {
      clusterName: "restored",
      spec: {
        replicas: 3,
        version: "3.5.21",
        storage: {
          volumeClaimTemplate: {
            storageClassName: "standard",
            resources: { requests: { storage: "1Gi" } },
          },
        },
      },
    },
  },
};

Deno.test("restore actor: a latest.db written by several backups is checked against the last to complete, for every pod, even when a newer one completes midway", async () => {
  const backups = [
    backup("old", "2026-01-01T01:00:00Z", "a".repeat(64)),
    backup("new", "2026-01-01T02:00:00Z", "b".repeat(64)),
  ];
  const created: KubeObject[] = [];
  const statuses: unknown[] = [];
  const events: string[] = [];
  const kube = {
    get: () => Promise.resolve({ ok: false, error: { kind: "notFound", message: "none" } }),
    list: () =>
      Promise.resolve({
        ok: true,
        value: { items: created.filter((object) => object.kind === "PersistentVolumeClaim") },
      }),
    create: (_resource: Resource, body: KubeObject) => {
      created.push(body);
      return Promise.resolve({ ok: true, value: body });
    },
    mergePatch: (_resource: Resource, _target: ObjectTarget, body: { status: unknown }) => {
      statuses.push(body.status);
      return Promise.resolve({ ok: true, value: restore });
    },
  } as unknown as RestoreActorDeps["kube"];
  const deps: RestoreActorDeps = {
    kube,
    // The cache never shows the status written: the actor must remember its own choice.
    stores: {
      restores: store(() => [restore]),
      restorePods: store(() => []),
      backups: store(() => backups),
    },
    events: {
      record: (_object, type, reason, message) => void events.push(`${type} ${reason}: ${message}`),
    },
    log: silent,
    etcdRepository: "quay.io/coreos/etcd",
    operatorImage: "etcd-operator.local/operator:dev",
  };
  const context: ActorContext<RestoreMessage> = {
    kind: "EtcdRestore",
    name: "prod/from-latest",
    clock: systemClock,
    self: () => true,
    scheduleSelf: () => () => {},
    onMessage: () => () => {},
  };
  const behavior = restoreActor("prod/from-latest", deps).init(context) as Behavior<RestoreMessage>;

  await behavior.handle({ kind: "reconcile" }, context); // start
  assert.deepEqual((statuses[0] as { snapshot: unknown }).snapshot, {
    backupName: "new",
    backupUID: "uid-new",
    sha256: "b".repeat(64),
  });
  assert.match(events[0], /RestoreStarted: .*checked against EtcdBackup new, the last to write it/);

  backups.push(backup("newer", "2026-01-01T03:00:00Z", "c".repeat(64)));
  await behavior.handle({ kind: "reconcile" }, context); // volume claims
  await behavior.handle({ kind: "reconcile" }, context); // pods
  const pods = created.filter((object) => object.kind === "Pod") as unknown as {
    spec: { initContainers: { command: string[] }[] };
  }[];
  assert.equal(pods.length, 3);
  for (const pod of pods) {
    const command = pod.spec.initContainers[0].command;
    assert.deepEqual(command.slice(command.indexOf("--sha256")), [
      "--sha256",
      "b".repeat(64),
      "--metadata",
      "etcd-backup-uid=uid-new",
    ]);
  }
});
