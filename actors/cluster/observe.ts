// Turns the Kubernetes objects and etcd's answers the cluster actor gathered into its planner's input. Pure.
import type { ClusterObservation as EtcdObservation } from "../../etcd/observation.ts";
import { type ClusterObservation, type EtcdView, ordinalOf, type PeerView } from "./plan.ts";
import {
  type EtcdClusterObject,
  type EtcdPeerObject,
  formedAnnotation,
  type PodObject,
} from "../types.ts";

export interface GatheredCluster {
  readonly cluster: EtcdClusterObject;
  readonly peers: readonly EtcdPeerObject[];
  readonly serviceExists: boolean;
  readonly disruptionBudgetMinAvailable: number | undefined;
  readonly etcd: EtcdObservation | undefined;
}

export function peerViews(clusterName: string, peers: readonly EtcdPeerObject[]): PeerView[] {
  const views: PeerView[] = [];
  for (const peer of peers) {
    const ordinal = ordinalOf(clusterName, peer.metadata.name);
    if (ordinal === undefined) continue;
    views.push({
      name: peer.metadata.name,
      ordinal,
      initialClusterState: peer.spec.bootstrap.initialClusterState,
      initialCluster: peer.spec.bootstrap.static.initialCluster.map((member) => member.name),
      terminating: Boolean(peer.metadata.deletionTimestamp),
      version: peer.spec.version,
      serverVersion: peer.status?.serverVersion,
    });
  }
  return views.sort((a, b) => a.ordinal - b.ordinal);
}

/** etcd is "reachable" when some member answered the member list; its health is per member. */
export function etcdView(observation: EtcdObservation | undefined): EtcdView {
  if (!observation) return { reachable: false, reason: "no peer has a reachable endpoint yet" };
  const answered = observation.members.length > 0 && observation.members.some((m) => m.reachable);
  if (!answered) {
    const reason = observation.errors.map((error) => error.message).join("; ") ||
      "no member answered";
    return { reachable: false, reason };
  }
  return {
    reachable: true,
    clusterId: observation.clusterId,
    leaderId: observation.leaderId,
    members: observation.members.map((member) => ({
      id: member.id,
      name: member.name,
      peerURL: member.peerURLs[0] ?? "",
      isLearner: member.isLearner,
      healthy: member.healthy,
    })),
  };
}

export function clusterObservation(gathered: GatheredCluster): ClusterObservation {
  const { cluster } = gathered;
  return {
    clusterName: cluster.metadata.name,
    namespace: cluster.metadata.namespace,
    replicas: cluster.spec.replicas,
    version: cluster.spec.version,
    serviceExists: gathered.serviceExists,
    disruptionBudget: gathered.disruptionBudgetMinAvailable === undefined
      ? undefined
      : { minAvailable: gathered.disruptionBudgetMinAvailable },
    peers: peerViews(cluster.metadata.name, gathered.peers),
    etcd: etcdView(gathered.etcd),
    formed: formedOf(cluster),
    knownMembers: knownMembersOf(cluster),
    upgrading:
      cluster.status?.conditions?.some((condition) =>
        condition.type === "Progressing" && condition.reason === "Upgrading"
      ) ?? false,
  };
}

/**
 * The durable record first (an annotation no status write touches); a cluster formed before the
 * record existed is known by the members its status listed, and gets the record on its next pass.
 */
export function formedOf(cluster: EtcdClusterObject): ClusterObservation["formed"] {
  const clusterId = cluster.metadata.annotations?.[formedAnnotation];
  if (clusterId) return { clusterId };
  const members = cluster.status?.members;
  return Array.isArray(members) && members.length > 0 ? { clusterId: undefined } : undefined;
}

export function knownMembersOf(cluster: EtcdClusterObject): string[] {
  const members = cluster.status?.members;
  if (!Array.isArray(members)) return [];
  return members.flatMap((member) =>
    typeof member?.name === "string" && member.name !== "" ? [member.name] : []
  );
}

/**
 * How the operator reaches a member's client port: by its stable DNS name inside the cluster,
 * by its pod's IP from outside (`deno task dev` on a node that routes pod IPs).
 */
export type EndpointMode = "dns" | "podIP";

export function memberClientEndpoint(
  mode: EndpointMode,
  namespace: string,
  clusterName: string,
  peerName: string,
  pods: readonly PodObject[],
): string | undefined {
  if (mode === "dns") return `http://${peerName}.${clusterName}.${namespace}.svc:2379`;
  const pod = pods.find((candidate) =>
    candidate.metadata.labels?.["etcd.improbable.io/peer-name"] === peerName &&
    !candidate.metadata.deletionTimestamp && candidate.status?.podIP
  );
  return pod ? `http://${pod.status?.podIP}:2379` : undefined;
}
