// Each kind's declaration (what it watches, which keys an event wakes) and the manager's one rule:
// no actor of a kind runs a pass before every source the kind declares has listed.
import assert from "node:assert/strict";
import type { KubeObject } from "../../../k8s/objects.ts";
import { ObjectStore, type WatcherEvent } from "../../../k8s/store.ts";
import type { WatchHandler } from "../../../k8s/watch.ts";
import { backupKind } from "../../../actors/backup/kind.ts";
import { clusterKind } from "../../../actors/cluster/kind.ts";
import { type ManagerOptions, startKind } from "../../../actors/manager.ts";
import { peerKind } from "../../../actors/peer/kind.ts";
import { restoreKind } from "../../../actors/restore/kind.ts";
import { settle } from "../../../actors/runtime/testing.ts";
import { scheduleKind } from "../../../actors/schedule/kind.ts";
import type { Feed, KindDeclaration, Lookup, Source } from "../../../actors/watches.ts";
import { createLogger } from "../../../observability/log.ts";
import { tree } from "./runtime/harness.ts";

const silent = createLogger("error", {}, () => {});

// Mapping events to keys reads none of what an actor needs: the deps are never used here.
const deps = { log: silent } as unknown as ManagerOptions;
const kinds = (watchNodes = true) =>
  [
    clusterKind({ ...deps, watchNodes }),
    peerKind(deps),
    backupKind(deps),
    scheduleKind(deps),
    restoreKind(deps),
  ] as readonly KindDeclaration<unknown>[];

const declaredIds = (kind: KindDeclaration<unknown>) => [
  kind.primary.id,
  ...kind.watches.map((watch) => watch.source.id),
];

Deno.test("the kinds together watch what the operator always watched, each source once", () => {
  const ids = new Set(kinds().flatMap(declaredIds));
  assert.deepEqual([...ids].sort(), [
    "apps/replicasets?app.kubernetes.io/name=etcd",
    "core/nodes",
    "core/persistentvolumeclaims?app.kubernetes.io/name=etcd",
    "core/pods?app.kubernetes.io/name=etcd",
    "core/pods?etcd.improbable.io/restore",
    "core/services?app.kubernetes.io/name=etcd",
    "etcd.improbable.io/etcdbackups",
    "etcd.improbable.io/etcdbackupschedules",
    "etcd.improbable.io/etcdclusters",
    "etcd.improbable.io/etcdpeers",
    "etcd.improbable.io/etcdrestores",
    "policy/poddisruptionbudgets?app.kubernetes.io/name=etcd",
    "tls-secrets",
  ]);
  for (const kind of kinds()) {
    assert.equal(new Set(declaredIds(kind)).size, declaredIds(kind).length, kind.name);
  }
});

Deno.test("with --ignore-nodes no kind watches Nodes", () => {
  assert.equal(kinds(false).flatMap(declaredIds).includes("core/nodes"), false);
});

const object = (
  kind: string,
  name: string,
  extra: {
    labels?: Record<string, string>;
    owner?: string;
    spec?: unknown;
    nodeName?: string;
  } = {},
): KubeObject =>
  ({
    kind,
    metadata: {
      namespace: "ns",
      name,
      uid: `uid-${name}`,
      ...(extra.labels ? { labels: extra.labels } : {}),
      ...(extra.owner
        ? {
          ownerReferences: [{
            apiVersion: "etcd.improbable.io/v1alpha1",
            kind: extra.owner.split("/")[0],
            name: extra.owner.split("/")[1],
            uid: "owner",
            controller: true,
          }],
        }
        : {}),
    },
    ...(extra.spec ? { spec: extra.spec } : {}),
    ...(extra.nodeName ? { spec: { nodeName: extra.nodeName } } : {}),
  }) as unknown as KubeObject;

const member = { "app.kubernetes.io/name": "etcd", "etcd.improbable.io/cluster-name": "c" };
const ofPeer = { ...member, "etcd.improbable.io/peer-name": "c-0" };
const userTLSCluster = object("EtcdCluster", "c", {
  spec: { tls: { peer: { userProvided: { secretName: "mine" } } } },
});

/** The stores a mapping may read: the cluster above, and member pod c-0 on node n1. */
const lookup: Lookup = <T extends KubeObject>(source: Source<T>) => {
  const store = new ObjectStore<T>();
  if (source.id === "etcd.improbable.io/etcdclusters") {
    store.apply("ADDED", userTLSCluster as T);
  }
  if (source.id === "core/pods?app.kubernetes.io/name=etcd") {
    store.apply("ADDED", object("Pod", "c-0", { labels: ofPeer, nodeName: "n1" }) as T);
  }
  return store;
};

const cases: {
  readonly kind: string;
  readonly source: string;
  readonly object: KubeObject;
  readonly keys: readonly string[];
}[] = [
  {
    kind: "clusters",
    source: "core/pods?app.kubernetes.io/name=etcd",
    object: object("Pod", "c-0", { labels: ofPeer }),
    keys: ["ns/c"],
  },
  {
    kind: "clusters",
    source: "etcd.improbable.io/etcdpeers",
    object: object("EtcdPeer", "c-0", { spec: { clusterName: "c" } }),
    keys: ["ns/c"],
  },
  {
    kind: "clusters",
    source: "tls-secrets",
    object: object("Secret", "mine"),
    keys: ["ns/c"],
  },
  {
    kind: "clusters",
    source: "tls-secrets",
    object: object("Secret", "someone-elses"),
    keys: [],
  },
  {
    kind: "clusters",
    source: "core/nodes",
    object: { kind: "Node", metadata: { name: "n1" } } as KubeObject,
    keys: ["ns/c"],
  },
  {
    kind: "clusters",
    source: "policy/poddisruptionbudgets?app.kubernetes.io/name=etcd",
    object: object("PodDisruptionBudget", "c", { labels: member }),
    keys: ["ns/c"],
  },
  {
    kind: "clusters",
    source: "etcd.improbable.io/etcdrestores",
    object: object("EtcdRestore", "c-recovery-1", { owner: "EtcdCluster/c" }),
    keys: ["ns/c"],
  },
  {
    kind: "clusters",
    source: "etcd.improbable.io/etcdrestores",
    object: object("EtcdRestore", "by-hand"),
    keys: [],
  },
  {
    kind: "clusters",
    source: "etcd.improbable.io/etcdbackups",
    object: object("EtcdBackup", "nightly-1", { owner: "EtcdBackupSchedule/nightly" }),
    keys: [],
  },
  {
    kind: "peers",
    source: "apps/replicasets?app.kubernetes.io/name=etcd",
    object: object("ReplicaSet", "c-0", { labels: ofPeer }),
    keys: ["ns/c-0"],
  },
  {
    kind: "peers",
    source: "core/persistentvolumeclaims?app.kubernetes.io/name=etcd",
    object: object("PersistentVolumeClaim", "c-0", { labels: member }),
    keys: [],
  },
  {
    kind: "backupSchedules",
    source: "etcd.improbable.io/etcdbackups",
    object: object("EtcdBackup", "nightly-1", { owner: "EtcdBackupSchedule/nightly" }),
    keys: ["ns/nightly"],
  },
  {
    kind: "backupSchedules",
    source: "etcd.improbable.io/etcdbackups",
    object: object("EtcdBackup", "by-hand"),
    keys: [],
  },
  {
    kind: "restores",
    source: "core/pods?etcd.improbable.io/restore",
    object: object("Pod", "r-c-0", { owner: "EtcdRestore/r" }),
    keys: ["ns/r"],
  },
];

for (const { kind: kindName, source, object: changed, keys } of cases) {
  Deno.test(`${kindName}: a ${changed.kind} ${changed.metadata.name} event wakes [${keys}]`, () => {
    const kind = kinds().find((candidate) => candidate.name === kindName)!;
    const watch = kind.watches.find((candidate) => candidate.source.id === source);
    assert.ok(watch, `${kindName} watches ${source}`);
    const event: WatcherEvent<KubeObject> = { type: "modified", object: changed };
    assert.deepEqual(watch.keys?.(event, lookup) ?? [], keys);
  });
}

/** A feed the test lists and feeds by hand. */
class HandFeed implements Feed<KubeObject> {
  readonly store = new ObjectStore<KubeObject>();
  readonly #handlers = new Set<WatchHandler<KubeObject>>();
  readonly #listed = Promise.withResolvers<void>();
  addHandler(handler: WatchHandler<KubeObject>) {
    this.#handlers.add(handler);
    return () => this.#handlers.delete(handler);
  }
  synced() {
    return this.#listed.promise;
  }
  list(objects: readonly KubeObject[]) {
    for (const event of this.store.replace(objects, false)) this.#emit(event);
    this.#listed.resolve();
  }
  change(type: "ADDED" | "MODIFIED" | "DELETED", changed: KubeObject) {
    this.#emit(this.store.apply(type, changed));
  }
  #emit(event: WatcherEvent<KubeObject>) {
    for (const handler of this.#handlers) handler(event);
  }
  start() {}
  stop() {
    return Promise.resolve();
  }
  secondsSinceLastEvent() {
    return 0;
  }
}

const source = (id: string): Source<KubeObject> => ({
  id,
  open: () => {
    throw new Error("opened by the test");
  },
});

function handKind() {
  const widgets = source("widgets");
  const parts = source("parts");
  const gauges = source("gauges");
  const passes: string[] = [];
  const kind: KindDeclaration<"wake"> = {
    name: "widgets",
    primary: widgets,
    wake: "wake",
    watches: [
      {
        source: parts,
        keys: (event) => [`ns/${event.object.metadata.labels?.widget}`],
      },
      { source: gauges },
    ],
    actor: (key, lookup) => ({
      kind: "Widget",
      name: key,
      mailbox: { kind: "coalesce", keyOf: () => "wake" },
      init: () => ({
        handle: () => void passes.push(`${key} sees ${lookup(parts).size} parts`),
      }),
    }),
  };
  const feeds = new Map([widgets, parts, gauges].map((known) => [known.id, new HandFeed()]));
  const open = <T extends KubeObject>(known: Source<T>) =>
    feeds.get(known.id) as unknown as Feed<T>;
  return { kind, feeds, passes, open };
}

Deno.test("a kind's actors make no pass until every source it declares has listed", async () => {
  const { root } = tree();
  const { kind, feeds, passes, open } = handKind();
  const started = startKind(root, kind, open);
  feeds.get("widgets")!.list([object("Widget", "a")]);
  feeds.get("parts")!.list([object("Part", "p1", { labels: { widget: "a" } })]);
  feeds.get("parts")!.change("ADDED", object("Part", "p2", { labels: { widget: "a" } }));
  await settle();
  assert.deepEqual(passes, [], "the gauges have not listed yet");
  feeds.get("gauges")!.list([]);
  assert.equal(await started, true);
  await settle();
  assert.deepEqual(passes, ["ns/a sees 2 parts"]);
  await root.stop();
});

Deno.test("once listed, a declared event wakes only keys whose object exists; a deletion stops it", async () => {
  const { root } = tree();
  const { kind, feeds, passes, open } = handKind();
  const started = startKind(root, kind, open);
  for (const feed of feeds.values()) feed.list([]);
  await started;
  feeds.get("widgets")!.change("ADDED", object("Widget", "a"));
  await settle();
  feeds.get("parts")!.change("ADDED", object("Part", "p1", { labels: { widget: "a" } }));
  feeds.get("parts")!.change("ADDED", object("Part", "p2", { labels: { widget: "gone" } }));
  await settle();
  assert.deepEqual(passes, ["ns/a sees 0 parts", "ns/a sees 2 parts"]);
  feeds.get("widgets")!.change("DELETED", object("Widget", "a"));
  await settle();
  feeds.get("parts")!.change("MODIFIED", object("Part", "p1", { labels: { widget: "a" } }));
  await settle();
  assert.equal(passes.length, 2, "no actor for a deleted widget");
  await root.stop();
});

Deno.test("a kind reading a source it did not declare fails loudly", async () => {
  const { root } = tree();
  const { kind, feeds, open } = handKind();
  const refusals: string[] = [];
  const started = startKind(root, {
    ...kind,
    actor: (key, lookup) => {
      assert.throws(() => lookup(source("undeclared")), (error: Error) => {
        refusals.push(error.message);
        return true;
      });
      return kind.actor(key, lookup);
    },
  }, open);
  for (const feed of feeds.values()) feed.list([object("Widget", "a")]);
  await started;
  assert.deepEqual(refusals, ["widgets reads undeclared, which it does not declare"]);
  await root.stop();
});
