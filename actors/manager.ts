// Wires watches to actors: one watch per kind, events routed by key to the owning actor's mailbox.
import { type KubeClient } from "../k8s/client.ts";
import { controllerOf } from "../k8s/owner.ts";
import type { KubeObject } from "../k8s/objects.ts";
import { resources } from "../k8s/resources.ts";
import type { Resource } from "../k8s/resources.ts";
import { Watcher, type WatcherEvent } from "../k8s/watch.ts";
import type { Log } from "../k8s/log.ts";
import type { Logger } from "../observability/log.ts";
import { backupActor, type BackupMessage } from "./backup/actor.ts";
import { clusterActor, type ClusterMessage } from "./cluster/actor.ts";
import type { ReactionReport } from "./cluster/reaction.ts";
import type { Failpoint } from "./failpoints.ts";
import { clusterLabel, ownedSelector, peerLabel } from "./member.ts";
import type { MemberAccess } from "./member_dialer.ts";
import { peerActor, type PeerMessage } from "./peer/actor.ts";
import {
  type EtcdRestoreObject,
  restoreActor,
  type RestoreMessage,
  type RestorePodObject,
} from "./restore/actor.ts";
import { restoreLabel } from "./restore/resources.ts";
import {
  type RuntimeHooks,
  spawnRegistry,
  startSupervisor,
  type Supervisor,
} from "./runtime/mod.ts";
import { scheduleActor, type ScheduleMessage } from "./schedule/actor.ts";
import type { TenancySettings } from "./tenancy.ts";
import { namedSecretKeys, TLSSecretWatches } from "./tls_secrets.ts";
import {
  type EtcdBackupObject,
  type EtcdBackupScheduleObject,
  type EtcdClusterObject,
  type EtcdPeerObject,
  type EventSink,
  type NodeObject,
  type PersistentVolumeClaimObject,
  type PodDisruptionBudgetObject,
  type PodObject,
  type ReplicaSetObject,
} from "./types.ts";

export interface ManagerOptions {
  readonly kube: KubeClient;
  readonly events: EventSink;
  readonly log: Logger;
  readonly hooks: RuntimeHooks;
  readonly namespace: string | undefined;
  /** How members are dialled; forwards to pods that are gone are closed from the pods watch. */
  readonly memberAccess: MemberAccess;
  /** What tenants' objects may reach beyond their namespace (actors/tenancy.ts); strict. */
  readonly tenancy?: TenancySettings;
  readonly etcdRepository: string;
  readonly onEscalate: (reason: string) => void;
  /** `seconds`: how long acting on the step took (optional until every caller passes it). */
  readonly onStep?: (step: string, outcome: "ok" | "failed", seconds: number) => void;
  /** How long after a spec change arrived each phase of a cluster's reaction came. */
  readonly onReaction?: ReactionReport;
  /** How often a converged cluster's etcd health is probed (default 15 s). */
  readonly healthIntervalMs?: number;
  /** How long a member's pod may stay unschedulable before it is replaced (default 5 min). */
  readonly replaceAfterMs?: number;
  /** Read Nodes to judge members on a dead node (default true; needs cluster-wide read). */
  readonly watchNodes?: boolean;
  /** Fault tests only: exits the process at a named point. */
  readonly failpoint?: Failpoint;
  /** The image restore pods download snapshots with; defaults to $ETCD_OPERATOR_IMAGE. */
  readonly operatorImage?: string;
}

/** Used when neither the option nor $ETCD_OPERATOR_IMAGE names the operator's image. */
const defaultOperatorImage = "etcd-operator.local/operator:dev";

export interface Manager {
  /** Every watch has listed once: the actors see the whole world. */
  readonly synced: Promise<void>;
  /** The longest any watch has gone without an event or bookmark. */
  secondsSinceLastEvent(): number;
  stop(): Promise<void>;
}

const reconcile = { kind: "reconcile" } as const;

export function startManager(options: ManagerOptions): Manager {
  const log: Log = (level, message, fields) => options.log[level](message, fields);
  const watch = <T extends KubeObject>(resource: Resource, labelSelector?: string) =>
    new Watcher<T>(options.kube, { resource, namespace: options.namespace, labelSelector, log });
  const watchers = {
    clusters: watch<EtcdClusterObject>(resources.etcdClusters),
    peers: watch<EtcdPeerObject>(resources.etcdPeers),
    services: watch<KubeObject>(resources.services, ownedSelector),
    disruptionBudgets: watch<PodDisruptionBudgetObject>(
      resources.podDisruptionBudgets,
      ownedSelector,
    ),
    pods: watch<PodObject>(resources.pods, ownedSelector),
    replicaSets: watch<ReplicaSetObject>(resources.replicaSets, ownedSelector),
    volumeClaims: watch<PersistentVolumeClaimObject>(
      resources.persistentVolumeClaims,
      ownedSelector,
    ),
    backups: watch<EtcdBackupObject>(resources.etcdBackups),
    backupSchedules: watch<EtcdBackupScheduleObject>(resources.etcdBackupSchedules),
    restores: watch<EtcdRestoreObject>(resources.etcdRestores),
    // Restore pods carry no cluster labels (they are not members): selected by their own label.
    restorePods: watch<RestorePodObject>(resources.pods, restoreLabel),
  };
  // Cluster-scoped: whether a member's node still runs it. Not part of the actors' readiness
  // gate (members can be judged without their nodes), but part of the manager's `synced`.
  // The TLS Secrets: the operator's own by label, the user-provided ones each by name.
  const tlsSecrets = new TLSSecretWatches(options.kube, options.namespace, log, (event) => {
    byLabels(event as WatcherEvent<KubeObject>);
    const { namespace, name } = event.object.metadata;
    for (const cluster of watchers.clusters.store.list()) {
      if (namedSecretKeys([cluster]).has(`${namespace}/${name}`)) {
        toCluster(cluster.metadata.namespace, cluster.metadata.name);
      }
    }
  });
  const nodeWatcher = options.watchNodes === false
    ? undefined
    : new Watcher<NodeObject>(options.kube, { resource: resources.nodes, log });
  const supervisor: Supervisor = startSupervisor({
    name: "root",
    hooks: options.hooks,
    onEscalate: (escalation) =>
      options.onEscalate(
        `${escalation.child.kind} ${escalation.child.name}: ${String(escalation.error)}`,
      ),
  });
  const stores = {
    clusters: watchers.clusters.store,
    peers: watchers.peers.store,
    services: watchers.services.store,
    disruptionBudgets: watchers.disruptionBudgets.store,
    pods: watchers.pods.store,
    replicaSets: watchers.replicaSets.store,
    volumeClaims: watchers.volumeClaims.store,
    nodes: nodeWatcher?.store,
    secrets: tlsSecrets.store,
  };
  // No cluster or peer actor plans before every watch it reads has listed (a fresh leader's
  // empty cache is not "nothing exists"); false if the watches stop before that.
  const ready = Promise.all(
    [
      watchers.clusters,
      watchers.peers,
      watchers.services,
      watchers.disruptionBudgets,
      watchers.pods,
      watchers.replicaSets,
      watchers.volumeClaims,
      tlsSecrets.owned,
    ].map((watcher) => (watcher as Watcher<KubeObject>).synced()),
  ).then(() => true, () => false);
  const clusterDeps = {
    ...options,
    stores,
    ready,
    log: options.log.with({ actor: "EtcdCluster" }),
  };
  const peerDeps = { ...options, stores, ready, log: options.log.with({ actor: "EtcdPeer" }) };
  // Each kind's supervisor respawns an actor for every object in its store when it restarts.
  const clusters = spawnRegistry<ClusterMessage>(supervisor, {
    name: "clusters",
    template: (key) => clusterActor(key, clusterDeps),
    keys: () => stores.clusters.keys(),
    wake: reconcile,
  });
  const peers = spawnRegistry<PeerMessage>(supervisor, {
    name: "peers",
    template: (key) => peerActor(key, peerDeps),
    keys: () => stores.peers.keys(),
    wake: reconcile,
  });

  const toCluster = (namespace: string | undefined, name: string | undefined) => {
    if (namespace && name) clusters.getOrSpawn(`${namespace}/${name}`).send(reconcile);
  };
  const toPeer = (namespace: string | undefined, name: string | undefined) => {
    if (namespace && name) peers.getOrSpawn(`${namespace}/${name}`).send(reconcile);
  };
  const byLabels = (event: WatcherEvent<KubeObject>) => {
    const { namespace, labels } = event.object.metadata;
    toCluster(namespace, labels?.[clusterLabel]);
    toPeer(namespace, labels?.[peerLabel]);
  };

  watchers.clusters.addHandler((event) => {
    tlsSecrets.follow(watchers.clusters.store.list());
    const key = `${event.object.metadata.namespace}/${event.object.metadata.name}`;
    if (event.type === "deleted") void clusters.stop(key, { drain: false });
    else clusters.getOrSpawn(key).send(reconcile);
  });
  watchers.peers.addHandler((event) => {
    const { namespace, name } = event.object.metadata;
    const key = `${namespace}/${name}`;
    if (event.type === "deleted") void peers.stop(key, { drain: false });
    else toPeer(namespace, name);
    toCluster(namespace, event.object.spec.clusterName);
  });
  for (
    const watcher of [
      watchers.services,
      watchers.disruptionBudgets,
      watchers.pods,
      watchers.replicaSets,
      watchers.volumeClaims,
    ]
  ) {
    watcher.addHandler((event) => byLabels(event as WatcherEvent<KubeObject>));
  }
  // A node that stops (or starts again) changes how its members are judged: wake their clusters.
  nodeWatcher?.addHandler((event) => {
    const node = event.object.metadata.name;
    for (const pod of watchers.pods.store.list()) {
      if (pod.spec?.nodeName === node) byLabels({ type: event.type, object: pod });
    }
  });
  // A pod that is gone (or replaced under its name) takes its port-forward listener with it.
  watchers.pods.addHandler((event) => {
    if (event.type === "deleted") options.memberAccess.retain(stores.pods.list());
  });
  routeBackups(supervisor, watchers, options);
  routeRestores(supervisor, watchers, options);
  const all = [
    ...Object.values(watchers),
    tlsSecrets.owned,
    ...(nodeWatcher ? [nodeWatcher] : []),
  ] as Watcher<KubeObject>[];
  for (const watcher of all) watcher.start();
  return {
    synced: Promise.all(all.map((watcher) => watcher.synced())).then(() => {}),
    secondsSinceLastEvent: () => Math.max(...all.map((watcher) => watcher.secondsSinceLastEvent())),
    async stop() {
      await Promise.all([...all.map((watcher) => watcher.stop()), tlsSecrets.stop()]);
      options.log.debug("watches stopped");
      await supervisor.stop({ drain: false });
    },
  };
}

/**
 * EtcdBackup and EtcdBackupSchedule actors: a backup's events go to its own actor and to the
 * schedule that controls it (a finished backup updates the schedule's status and pruning).
 */
function routeBackups(
  supervisor: Supervisor,
  watchers: {
    readonly backups: Watcher<EtcdBackupObject>;
    readonly backupSchedules: Watcher<EtcdBackupScheduleObject>;
    readonly pods: Watcher<PodObject>;
  },
  options: ManagerOptions,
): void {
  const stores = {
    backups: watchers.backups.store,
    schedules: watchers.backupSchedules.store,
    pods: watchers.pods.store,
  };
  // Until both have listed, "no pod for this member" or "no backup running" would be false news.
  const ready = Promise.all([watchers.backups.synced(), watchers.pods.synced()])
    .then(() => {}, () => {});
  const backups = spawnRegistry<BackupMessage>(supervisor, {
    name: "backups",
    template: (key) =>
      backupActor(key, {
        ...options,
        stores,
        ready,
        log: options.log.with({ actor: "EtcdBackup" }),
      }),
    keys: () => stores.backups.keys(),
    wake: reconcile,
  });
  const schedules = spawnRegistry<ScheduleMessage>(supervisor, {
    name: "backupSchedules",
    template: (key) =>
      scheduleActor(key, {
        ...options,
        stores,
        ready,
        log: options.log.with({ actor: "EtcdBackupSchedule" }),
      }),
    keys: () => stores.schedules.keys(),
    wake: reconcile,
  });
  watchers.backups.addHandler((event) => {
    const { namespace, name } = event.object.metadata;
    const key = `${namespace}/${name}`;
    if (event.type === "deleted") void backups.stop(key, { drain: false });
    else backups.getOrSpawn(key).send(reconcile);
    const owner = controllerOf(event.object);
    const scheduleKey = `${namespace}/${owner?.name}`;
    if (owner?.kind === "EtcdBackupSchedule" && stores.schedules.get(scheduleKey)) {
      schedules.getOrSpawn(scheduleKey).send(reconcile);
    }
  });
  watchers.backupSchedules.addHandler((event) => {
    const key = `${event.object.metadata.namespace}/${event.object.metadata.name}`;
    if (event.type === "deleted") void schedules.stop(key, { drain: false });
    else schedules.getOrSpawn(key).send(reconcile);
  });
}

/** EtcdRestore actors: a restore's own events and those of its pods go to its actor. */
function routeRestores(
  supervisor: Supervisor,
  watchers: {
    readonly restores: Watcher<EtcdRestoreObject>;
    readonly restorePods: Watcher<RestorePodObject>;
    readonly backups: Watcher<EtcdBackupObject>;
  },
  options: ManagerOptions,
): void {
  const stores = {
    restores: watchers.restores.store,
    restorePods: watchers.restorePods.store,
    backups: watchers.backups.store,
  };
  // "No restore pod yet" is only true once the pods have listed; backups give recorded sha256s.
  const ready = Promise.all([watchers.restorePods.synced(), watchers.backups.synced()])
    .then(() => {}, () => {});
  const restores = spawnRegistry<RestoreMessage>(supervisor, {
    name: "restores",
    template: (key) =>
      restoreActor(key, {
        ...options,
        stores,
        ready,
        operatorImage: options.operatorImage ?? Deno.env.get("ETCD_OPERATOR_IMAGE") ??
          defaultOperatorImage,
        log: options.log.with({ actor: "EtcdRestore" }),
      }),
    keys: () => stores.restores.keys(),
    wake: reconcile,
  });
  watchers.restores.addHandler((event) => {
    const key = `${event.object.metadata.namespace}/${event.object.metadata.name}`;
    if (event.type === "deleted") void restores.stop(key, { drain: false });
    else restores.getOrSpawn(key).send(reconcile);
  });
  watchers.restorePods.addHandler((event) => {
    const owner = controllerOf(event.object);
    const key = `${event.object.metadata.namespace}/${owner?.name}`;
    if (owner?.kind === "EtcdRestore" && stores.restores.get(key)) {
      restores.getOrSpawn(key).send(reconcile);
    }
  });
}
