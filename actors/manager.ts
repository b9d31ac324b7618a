// Assembles the kinds' declarations: one watch per source, events routed to the declared keys.
//
// Each kind (actors/<kind>/kind.ts) says what it watches and how an event maps to its actors'
// keys; the manager opens every source once, however many kinds read it, and applies one rule
// to every kind: none of its actors runs a pass before every source it declares has listed.
import type { KubeClient } from "../k8s/client.ts";
import type { Log } from "../k8s/log.ts";
import { type KubeObject, objectKey } from "../k8s/objects.ts";
import type { Logger } from "../observability/log.ts";
import { backupKind } from "./backup/kind.ts";
import { clusterKind } from "./cluster/kind.ts";
import type { ReactionReport } from "./cluster/reaction.ts";
import type { Failpoint } from "./failpoints.ts";
import type { MemberAccess } from "./member_dialer.ts";
import { peerKind } from "./peer/kind.ts";
import { restoreKind } from "./restore/kind.ts";
import {
  type RuntimeHooks,
  spawnRegistry,
  startSupervisor,
  type Supervisor,
} from "./runtime/mod.ts";
import { scheduleKind } from "./schedule/kind.ts";
import { memberPods } from "./sources.ts";
import type { TenancySettings } from "./tenancy.ts";
import type { EventSink } from "./types.ts";
import type { Feed, FeedContext, KindDeclaration, Lookup, Source } from "./watches.ts";

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
  /** After each pass: whether the cluster's quorum (or every member's data) is lost. */
  readonly onQuorumLost?: (cluster: string, lost: boolean) => void;
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

export interface Manager {
  /** Every watch has listed once: the actors see the whole world. */
  readonly synced: Promise<void>;
  /** The longest any watch has gone without an event or bookmark. */
  secondsSinceLastEvent(): number;
  stop(): Promise<void>;
}

export function startManager(options: ManagerOptions): Manager {
  const log: Log = (level, message, fields) => options.log[level](message, fields);
  const feeds = new FeedSet({ kube: options.kube, namespace: options.namespace, log });
  const supervisor: Supervisor = startSupervisor({
    name: "root",
    hooks: options.hooks,
    onEscalate: (escalation) =>
      options.onEscalate(
        `${escalation.child.kind} ${escalation.child.name}: ${String(escalation.error)}`,
      ),
  });
  startKind(supervisor, clusterKind(options), feeds.open);
  startKind(supervisor, peerKind(options), feeds.open);
  startKind(supervisor, backupKind(options), feeds.open);
  startKind(supervisor, scheduleKind(options), feeds.open);
  startKind(supervisor, restoreKind(options), feeds.open);
  // A pod that is gone (or replaced under its name) takes its port-forward listener with it, and
  // a member pod's first IP settles an access that could not be decided at start.
  const pods = feeds.open(memberPods);
  pods.addHandler(() => options.memberAccess.retain(pods.store.list()));
  const all = feeds.list();
  for (const feed of all) feed.start();
  return {
    synced: Promise.all(all.map((feed) => feed.synced())).then(() => {}),
    secondsSinceLastEvent: () => Math.max(...all.map((feed) => feed.secondsSinceLastEvent())),
    async stop() {
      await Promise.all(all.map((feed) => feed.stop()));
      options.log.debug("watches stopped");
      await supervisor.stop({ drain: false });
    },
  };
}

/** Every source's one feed, opened on first use. */
class FeedSet {
  readonly #feeds = new Map<string, Feed<KubeObject>>();
  readonly #context: FeedContext;

  constructor(context: Omit<FeedContext, "feed">) {
    this.#context = { ...context, feed: (source) => this.open(source) };
  }

  readonly open = <T extends KubeObject>(source: Source<T>): Feed<T> => {
    let feed = this.#feeds.get(source.id);
    if (!feed) {
      feed = source.open(this.#context) as unknown as Feed<KubeObject>;
      this.#feeds.set(source.id, feed);
    }
    return feed as unknown as Feed<T>;
  };

  list(): readonly Feed<KubeObject>[] {
    return [...this.#feeds.values()];
  }
}

/**
 * Spawns a kind's actors under their own supervisor and routes its sources' events to them.
 * Until every declared source has listed, nothing is routed and no actor exists (a fresh leader's
 * empty cache is not "nothing exists"); then every object of the kind gets an actor and a pass.
 * Resolves true when that happened, false if a source stopped first.
 */
export function startKind<M>(
  supervisor: Supervisor,
  kind: KindDeclaration<M>,
  open: <T extends KubeObject>(source: Source<T>) => Feed<T>,
): Promise<boolean> {
  const declared = new Set([kind.primary, ...kind.watches.map((watch) => watch.source)]);
  const lookup: Lookup = (source) => {
    // A store read without being declared would escape the gate below.
    if (![...declared].some((known) => known.id === source.id)) {
      throw new Error(`${kind.name} reads ${source.id}, which it does not declare`);
    }
    return open(source).store;
  };
  const primary = open(kind.primary);
  let listed = false;
  const actors = spawnRegistry<M>(supervisor, {
    name: kind.name,
    template: (key) => kind.actor(key, lookup),
    keys: () => listed ? primary.store.keys() : [],
    wake: kind.wake,
  });
  primary.addHandler((event) => {
    if (!listed) return;
    const key = objectKey(event.object);
    if (event.type === "deleted") void actors.stop(key, { drain: false });
    else actors.getOrSpawn(key).send(kind.wake);
  });
  for (const { source, keys } of kind.watches) {
    if (!keys) continue;
    open(source).addHandler((event) => {
      if (!listed) return;
      // A key whose object is not (or no longer) in the store has nothing to reconcile; its own
      // event spawns its actor when it comes.
      for (const key of keys(event, lookup)) {
        if (primary.store.get(key)) actors.getOrSpawn(key).send(kind.wake);
      }
    });
  }
  return Promise.all([...declared].map((source) => open(source).synced())).then(() => {
    listed = true;
    actors.respawn();
    return true;
  }, () => false);
}
