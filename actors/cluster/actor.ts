// The EtcdCluster actor: observe → plan → act (one membership step at most) → Events → status.
import type { ActorSpec, Behavior } from "../runtime/mod.ts";
import type { Member } from "../../etcd/observation.ts";
import { observeCluster } from "../../etcd/health.ts";
import { type EtcdClient, withClient } from "../../etcd/client.ts";
import { addLearner, moveLeader, promoteLearner, removeMember } from "../../etcd/members.ts";
import { attempt, type EtcdResult } from "../../etcd/errors.ts";
import type { KubeClient } from "../../k8s/client.ts";
import type { K8sResult } from "../../k8s/errors.ts";
import { resources } from "../../k8s/resources.ts";
import type { StoreReader } from "../../k8s/store.ts";
import type { Logger } from "../../observability/log.ts";
import {
  clusterLabel,
  type EtcdClusterObject,
  type EtcdPeerObject,
  type EventSink,
  type PodDisruptionBudgetObject,
  type PodObject,
} from "../types.ts";
import { clientService, disruptionBudget, headlessService, peerObject } from "./objects.ts";
import { clusterObservation, type EndpointMode, memberClientEndpoint } from "./observe.ts";
import { type ClusterStep, isDisruptive, planCluster } from "./plan.ts";
import { clusterStatus, evenReplicasAdvice } from "./status.ts";
import type { KubeObject } from "../../k8s/objects.ts";

export type ClusterMessage = { readonly kind: "reconcile" };

export interface ClusterStores {
  readonly clusters: StoreReader<EtcdClusterObject>;
  readonly peers: StoreReader<EtcdPeerObject>;
  readonly services: StoreReader<KubeObject>;
  readonly disruptionBudgets: StoreReader<PodDisruptionBudgetObject>;
  readonly pods: StoreReader<PodObject>;
}

export interface ClusterActorDeps {
  readonly kube: KubeClient;
  readonly stores: ClusterStores;
  readonly events: EventSink;
  readonly endpointMode: EndpointMode;
  readonly log: Logger;
  readonly onStep?: (step: ClusterStep["kind"], outcome: "ok" | "failed") => void;
}

/** How soon to look again: right after a step, soon while waiting, and a periodic health probe. */
const requeueMs = { afterStep: 500, waiting: 3_000, failed: 5_000, converged: 15_000 };

type StepOutcome = { readonly ok: true } | {
  readonly ok: false;
  readonly message: string;
  readonly retry: boolean;
};

const ok: StepOutcome = { ok: true };

export function clusterActor(key: string, deps: ClusterActorDeps): ActorSpec<ClusterMessage> {
  return {
    kind: "EtcdCluster",
    name: key,
    mailbox: { kind: "coalesce", keyOf: () => "reconcile" },
    init: (context): Behavior<ClusterMessage> => {
      let warnedEvenAtGeneration: number | undefined;
      return {
        async handle() {
          const cluster = deps.stores.clusters.get(key);
          if (!cluster || cluster.metadata.deletionTimestamp) return;
          const generation = cluster.metadata.generation ?? 0;
          if (evenReplicasAdvice(cluster.spec.replicas) && warnedEvenAtGeneration !== generation) {
            warnedEvenAtGeneration = generation;
            deps.events.record(
              cluster,
              "Warning",
              "EvenReplicas",
              evenReplicasAdvice(cluster.spec.replicas)!,
            );
          }
          const delay = await reconcile(cluster, deps);
          context.scheduleSelf({ kind: "reconcile" }, delay);
        },
      };
    },
  };
}

async function reconcile(cluster: EtcdClusterObject, deps: ClusterActorDeps): Promise<number> {
  const { namespace, name } = cluster.metadata;
  const log = deps.log.with({ cluster: `${namespace}/${name}` });
  const peers = deps.stores.peers.list().filter((peer) =>
    peer.metadata.namespace === namespace && peer.spec.clusterName === name
  );
  const pods = deps.stores.pods.list().filter((pod) =>
    pod.metadata.namespace === namespace && pod.metadata.labels?.[clusterLabel] === name
  );
  const endpointOf = (peerName: string) =>
    memberClientEndpoint(deps.endpointMode, namespace, name, peerName, pods);
  const endpoints = peers.map((peer) => endpointOf(peer.metadata.name)).filter((e): e is string =>
    !!e
  );
  const memberEndpoint = (member: Member) => endpointOf(member.name || peerNameOf(member));
  const etcd = endpoints.length > 0
    ? await observeCluster(endpoints, { memberEndpoint, callTimeoutMs: 3_000 })
    : undefined;
  const budget = deps.stores.disruptionBudgets.get(`${namespace}/${name}`);
  const seen = clusterObservation({
    cluster,
    peers,
    serviceExists: deps.stores.services.get(`${namespace}/${name}`) !== undefined &&
      deps.stores.services.get(`${namespace}/${name}-client`) !== undefined,
    disruptionBudgetMinAvailable: typeof budget?.spec?.minAvailable === "number"
      ? budget.spec.minAvailable
      : undefined,
    etcd,
  });
  const steps = planCluster(seen);
  let delay = steps.length === 0 ? requeueMs.converged : requeueMs.waiting;
  for (const step of steps) {
    if (step.kind === "wait") {
      log.debug("waiting", { reason: step.reason });
      break;
    }
    const outcome = await act(step, { cluster, deps, endpoints, memberEndpoint });
    deps.onStep?.(step.kind, outcome.ok ? "ok" : "failed");
    if (!outcome.ok) {
      log.warn("step failed", { step: step.kind, error: outcome.message });
      if (!outcome.retry) {
        deps.events.record(cluster, "Warning", "StepFailed", `${step.kind}: ${outcome.message}`);
      }
      delay = outcome.retry ? requeueMs.waiting : requeueMs.failed;
      break;
    }
    log.info("step done", { step: step.kind });
    delay = requeueMs.afterStep;
    if (isDisruptive(step) || step.kind === "createPeers") break;
  }
  await writeStatus(cluster, deps, seen, steps, etcd?.clusterVersion);
  return delay;
}

/** A learner that has not started yet has no name: its peer URL host starts with the peer name. */
function peerNameOf(member: Member): string {
  const match = /^https?:\/\/([^.:/]+)/.exec(member.peerURLs[0] ?? "");
  return match ? match[1] : "";
}

interface ActContext {
  readonly cluster: EtcdClusterObject;
  readonly deps: ClusterActorDeps;
  readonly endpoints: readonly string[];
  readonly memberEndpoint: (member: Member) => string | undefined;
}

function fromKube(
  result: K8sResult<unknown>,
  alreadyDoneKinds: readonly string[] = [],
): StepOutcome {
  if (result.ok || alreadyDoneKinds.includes(result.error.kind)) return ok;
  return {
    ok: false,
    message: result.error.message,
    retry: result.error.kind !== "invalid" && result.error.kind !== "forbidden",
  };
}

/** A membership call; a client that cannot be made or an answer that never comes is a failure too. */
async function onCluster<T>(
  endpoints: readonly string[],
  use: (client: EtcdClient) => Promise<EtcdResult<T>>,
): Promise<EtcdResult<T>> {
  const result = await attempt(() => withClient(endpoints, use));
  return result.ok ? result.value : result;
}

function fromEtcd(result: EtcdResult<unknown>): StepOutcome {
  if (result.ok) return ok;
  return { ok: false, message: result.error.message, retry: true };
}

async function act(step: ClusterStep, context: ActContext): Promise<StepOutcome> {
  const { cluster, deps } = context;
  const record = (reason: string, message: string) =>
    deps.events.record(cluster, "Normal", reason, message);
  switch (step.kind) {
    case "createService": {
      const name = cluster.metadata.name;
      for (
        const [service, description] of [
          [headlessService(cluster), `headless service ${name} (member DNS names)`],
          [clientService(cluster), `client service ${name}-client`],
        ] as const
      ) {
        const created = await deps.kube.create(resources.services, service);
        if (created.ok) record("ServiceCreated", `created ${description}`);
        else if (created.error.kind !== "alreadyExists") return fromKube(created);
      }
      return ok;
    }
    case "applyDisruptionBudget": {
      const outcome = fromKube(
        await deps.kube.apply(
          resources.podDisruptionBudgets,
          disruptionBudget(cluster, step.minAvailable),
        ),
      );
      if (outcome.ok) {
        record(
          "DisruptionBudgetUpdated",
          `at least ${step.minAvailable} members stay available during voluntary disruptions`,
        );
      }
      return outcome;
    }
    case "createPeers": {
      for (const peer of step.peers) {
        const outcome = fromKube(
          await deps.kube.create(resources.etcdPeers, peerObject(cluster, peer)),
          ["alreadyExists"],
        );
        if (!outcome.ok) return outcome;
        record(
          "PeerCreated",
          `created peer ${peer.name} (${peer.initialClusterState.toLowerCase()} cluster)`,
        );
      }
      return ok;
    }
    case "addLearner": {
      const outcome = fromEtcd(
        await onCluster(context.endpoints, (client) => addLearner(client, step.peerURL)),
      );
      if (outcome.ok) record("MemberAdded", `added ${step.peerName} to etcd as a learner`);
      return outcome;
    }
    case "promote": {
      const result = await onCluster(
        context.endpoints,
        (client) => promoteLearner(client, step.memberId),
      );
      if (!result.ok && result.error.kind === "learnerNotReady") {
        return { ok: false, message: `learner ${step.peerName} is not caught up yet`, retry: true };
      }
      const outcome = fromEtcd(result);
      if (outcome.ok) record("MemberPromoted", `promoted ${step.peerName} to a voting member`);
      return outcome;
    }
    case "moveLeader": {
      const outcome = fromEtcd(
        await onCluster(
          context.endpoints,
          (client) => moveLeader(client, step.toId, { memberEndpoint: context.memberEndpoint }),
        ),
      );
      if (outcome.ok) record("LeaderMoved", `moved leadership to ${step.toName}`);
      return outcome;
    }
    case "removeMember": {
      const outcome = fromEtcd(
        await onCluster(context.endpoints, (client) => removeMember(client, step.memberId)),
      );
      if (outcome.ok) {
        record("MemberRemoved", `removed ${step.peerName} (member ${step.memberId}) from etcd`);
      }
      return outcome;
    }
    case "deletePeer": {
      const target = { namespace: cluster.metadata.namespace, name: step.peerName };
      const peer = fromKube(
        await deps.kube.delete(resources.etcdPeers, target, { propagationPolicy: "Background" }),
        ["notFound"],
      );
      if (!peer.ok) return peer;
      if (step.deleteVolume) {
        const volume = fromKube(await deps.kube.delete(resources.persistentVolumeClaims, target), [
          "notFound",
        ]);
        if (!volume.ok) return volume;
      }
      record(
        "PeerRemoved",
        `deleted peer ${step.peerName}${step.deleteVolume ? " and its volume" : ""}`,
      );
      return ok;
    }
    case "replacePeer": {
      // The member stays in etcd; the peer comes back at the new version on the same volume.
      const target = { namespace: cluster.metadata.namespace, name: step.peerName };
      const outcome = fromKube(
        await deps.kube.delete(resources.etcdPeers, target, { propagationPolicy: "Background" }),
        ["notFound"],
      );
      if (outcome.ok) {
        record(
          "PeerUpgraded",
          `replacing peer ${step.peerName}: etcd ${step.fromVersion} → ${step.toVersion}, volume kept`,
        );
      }
      return outcome;
    }
    case "completeUpgrade":
      record("UpgradeCompleted", `every member runs etcd ${step.version}`);
      return ok;
    case "wait":
      return ok;
  }
}

async function writeStatus(
  cluster: EtcdClusterObject,
  deps: ClusterActorDeps,
  seen: ReturnType<typeof clusterObservation>,
  steps: readonly ClusterStep[],
  clusterVersion: string | undefined,
): Promise<void> {
  const previousVersion = typeof cluster.status?.clusterVersion === "string"
    ? cluster.status.clusterVersion
    : undefined;
  const status = clusterStatus({
    seen,
    steps,
    generation: cluster.metadata.generation ?? 0,
    // While etcd cannot be asked, the last known version is still the best answer.
    clusterVersion: clusterVersion ?? previousVersion,
    previous: cluster.status?.conditions ?? [],
    now: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
  });
  if (JSON.stringify(status) === JSON.stringify(pick(cluster.status, Object.keys(status)))) return;
  const result = await deps.kube.mergePatch(
    resources.etcdClusters,
    { namespace: cluster.metadata.namespace, name: cluster.metadata.name },
    { status },
    { subresource: "status" },
  );
  if (!result.ok) {
    deps.log.warn("status update failed", {
      cluster: cluster.metadata.name,
      error: result.error.message,
    });
  }
}

function pick(
  source: Record<string, unknown> | undefined,
  keys: readonly string[],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of keys) if (source && key in source) out[key] = source[key];
  return out;
}
