// The operator's metrics: the actor runtime's counters, cluster steps, API and etcd requests.
import type { KubeRequestObserver } from "../k8s/client.ts";
import type { Registry } from "../observability/metrics.ts";
import type { Logger } from "../observability/log.ts";
import type { RuntimeHooks } from "./runtime/mod.ts";
import type { ReactionPhase } from "./cluster/reaction.ts";

export interface OperatorMetrics {
  readonly hooks: RuntimeHooks;
  /** Give to `KubeClient.connect`: counts and times every API-server request. */
  readonly kubeRequest: KubeRequestObserver;
  /** One cluster step acted on; `seconds` is how long acting took. */
  step(step: string, outcome: "ok" | "failed", seconds: number): void;
  /** How long after a spec change arrived its reaction reached `phase` (cluster/reaction.ts). */
  clusterReaction(phase: ReactionPhase, seconds: number): void;
  /** One call to an etcd member: `method` like "memberList", `outcome` like "ok" or "timeout". */
  etcdCall(method: string, outcome: string, seconds: number): void;
  /** How many etcd clients the operator holds open right now. */
  etcdClients(open: number): void;
  /** Port-forward listeners and bridged connections open right now (member_dialer.ts). */
  portForwards(counts: { readonly listeners: number; readonly connections: number }): void;
  /** Whether the cluster (`namespace/name`, its actor's name) has lost its quorum or its data. */
  quorumLost(cluster: string, lost: boolean): void;
}

/** API-server calls: from a cached header (ms) to a large list or a slow admission webhook. */
const kubeBounds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Steps range from one API write to an etcd membership change waiting on a slow member. */
const stepBounds = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
/** A spec change is acknowledged in tens of milliseconds; the tail is queueing and slow etcd. */
const reactionBounds = [
  0.005,
  0.01,
  0.02,
  0.03,
  0.05,
  0.075,
  0.1,
  0.15,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
];
/** etcd answers in milliseconds when healthy; the tail shows timeouts against lost members. */
const etcdBounds = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function operatorMetrics(registry: Registry, log: Logger): OperatorMetrics {
  const quorumLost = registry.gauge(
    "etcd_operator_cluster_quorum_lost",
    "1 while a cluster's quorum is lost (Available False QuorumLost), or every member's data " +
      "(DataLost); else 0. Per cluster actor.",
  );
  return {
    hooks: runtimeMetrics(registry, log, [quorumLost]),
    kubeRequest: kubeRequestMetrics(registry),
    ...stepMetrics(registry),
    ...reactionMetrics(registry),
    ...etcdMetrics(registry),
    quorumLost: (cluster, lost) =>
      quorumLost.set({ kind: "EtcdCluster", name: cluster }, lost ? 1 : 0),
  };
}

/** A gauge or counter one of whose series each actor owns, removed when the actor stops. */
type PerActorFamily = { removeMatching(labels: Record<string, string>): void };

function runtimeMetrics(
  registry: Registry,
  log: Logger,
  actorFamilies: readonly PerActorFamily[],
): RuntimeHooks {
  const processed = registry.counter(
    "etcd_operator_reconciles_total",
    "Messages handled by actors, by kind.",
  );
  const failures = registry.counter(
    "etcd_operator_reconcile_errors_total",
    "Actor crashes, by kind.",
  );
  const restarts = registry.counter(
    "etcd_operator_actor_restarts_total",
    "Actor restarts by their supervisor, by kind.",
  );
  const dropped = registry.counter(
    "etcd_operator_messages_dropped_total",
    "Messages dropped, by kind.",
  );
  const suspensions = registry.counter(
    "etcd_operator_actor_suspensions_total",
    "Actors rested for the restart-intensity window after crashing too often, by kind.",
  );
  const depth = registry.gauge("etcd_operator_mailbox_depth", "Pending messages per actor.");
  const counters = {
    messagesProcessed: processed,
    failures,
    restarts,
    messagesDropped: dropped,
    suspensions,
    escalations: failures,
  };
  // Families labelled by actor name: an actor that stopped for good leaves them, or every
  // cluster ever deleted would stay in every scrape for the life of the process.
  const perActor = [depth, ...actorFamilies];
  return {
    count: (counter, actor, amount) => counters[counter].inc({ kind: actor.kind }, amount),
    gauge: (_gauge, actor, value) => depth.set({ kind: actor.kind, name: actor.name }, value),
    event: (event) => {
      if (event.kind === "actorStopped") {
        for (const family of perActor) {
          family.removeMatching({ kind: event.actor.kind, name: event.actor.name });
        }
      } else if (event.kind === "actorCrashed") {
        log.error("actor crashed", {
          actor: `${event.actor.kind} ${event.actor.name}`,
          error: String(event.error),
        });
      } else if (event.kind === "childSuspended") {
        log.error("actor crashed too often; suspended, then restarted afresh", {
          actor: `${event.actor.kind} ${event.actor.name}`,
          restarts: event.restarts,
          resumeInSeconds: event.resumeInMs / 1000,
          error: String(event.error),
        });
      } else if (event.kind === "supervisorGaveUp") {
        log.error("supervisor gave up", {
          supervisor: event.supervisor,
          reason: event.reason,
          error: String(event.error),
        });
      } else {
        log.debug("runtime event", { event: event.kind });
      }
    },
  };
}

function kubeRequestMetrics(registry: Registry): KubeRequestObserver {
  const requests = registry.counter(
    "etcd_operator_kube_requests_total",
    'API-server requests by verb, resource and HTTP status ("error": no response).',
  );
  const durations = registry.histogram(
    "etcd_operator_kube_request_duration_seconds",
    "API-server request latency by verb and resource; a watch is timed until it opens.",
    kubeBounds,
  );
  return ({ verb, resource, status, seconds }) => {
    requests.inc({ verb, resource, code: status === undefined ? "error" : String(status) });
    durations.observe({ verb, resource }, seconds);
  };
}

function stepMetrics(registry: Registry): Pick<OperatorMetrics, "step"> {
  const steps = registry.counter(
    "etcd_operator_cluster_steps_total",
    "Cluster steps (membership operations included), by step and outcome.",
  );
  const durations = registry.histogram(
    "etcd_operator_cluster_step_duration_seconds",
    "How long acting on a cluster step took, by step and outcome.",
    stepBounds,
  );
  return {
    step: (step, outcome, seconds) => {
      steps.inc({ step, outcome });
      // A caller not yet passing the duration must not poison the sum with NaN.
      if (Number.isFinite(seconds)) durations.observe({ step, outcome }, seconds);
    },
  };
}

function reactionMetrics(registry: Registry): Pick<OperatorMetrics, "clusterReaction"> {
  const durations = registry.histogram(
    "etcd_operator_cluster_reaction_seconds",
    "Time from the watch event carrying an EtcdCluster's new generation to each phase of the " +
      "reaction: started (the pass began), observed (etcd answered), writing (the status " +
      "write acknowledging it was sent) and acknowledged (the API server took that write).",
    reactionBounds,
  );
  return { clusterReaction: (phase, seconds) => durations.observe({ phase }, seconds) };
}

function etcdMetrics(
  registry: Registry,
): Pick<OperatorMetrics, "etcdCall" | "etcdClients" | "portForwards"> {
  const calls = registry.counter(
    "etcd_operator_etcd_requests_total",
    "Calls to etcd members by method and outcome.",
  );
  const durations = registry.histogram(
    "etcd_operator_etcd_request_duration_seconds",
    "Latency of calls to etcd members by method.",
    etcdBounds,
  );
  const open = registry.gauge(
    "etcd_operator_etcd_clients_open",
    "etcd clients held open; it follows the number of clusters, or something leaks.",
  );
  open.set({}, 0);
  const listeners = registry.gauge(
    "etcd_operator_port_forward_listeners",
    "Loopback listeners forwarding to members' pods; at most one per running member.",
  );
  const bridged = registry.gauge(
    "etcd_operator_port_forward_connections",
    "Connections bridged to members through the API server; they follow the etcd clients.",
  );
  listeners.set({}, 0);
  bridged.set({}, 0);
  return {
    etcdCall: (method, outcome, seconds) => {
      calls.inc({ method, outcome });
      durations.observe({ method }, seconds);
    },
    etcdClients: (count) => open.set({}, count),
    portForwards: (counts) => {
      listeners.set({}, counts.listeners);
      bridged.set({}, counts.connections);
    },
  };
}
