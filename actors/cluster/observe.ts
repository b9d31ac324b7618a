// Turns the Kubernetes objects and etcd's answers the cluster actor gathered into its planner's input. Pure.
import type { EtcdObservation } from "../../etcd/observation.ts";
import { type ClusterObservation, type EtcdView, type PeerView } from "./plan.ts";
import {
  etcdContainerName,
  ordinalOf,
  peerLabel,
  volumeAnnotation,
  volumeState,
} from "../member.ts";
import {
  approveQuorumRecoveryAnnotation,
  type ContainerState,
  type EtcdBackupObject,
  type EtcdClusterObject,
  type EtcdPeerObject,
  formedAnnotation,
  type PersistentVolumeClaimObject,
  type PodObject,
  quorumRecoveryAnnotation,
  restoreLabel,
} from "../types.ts";
import type { PodView } from "./diagnose.ts";
import type { NodeState } from "../node_health.ts";
import type { BackupView, QuorumLossView, RecoveryRestoreView, VolumeClaimView } from "./quorum.ts";
import { parseQuorumRecovery } from "../recovery_record.ts";
import { snapshotSource } from "../snapshot_source.ts";
import { judgeBackupSource, strictTenancy } from "../tenancy.ts";

export interface GatheredCluster {
  readonly cluster: EtcdClusterObject;
  readonly peers: readonly EtcdPeerObject[];
  /** The cluster's pods and PVCs (by their labels). */
  readonly pods: readonly PodObject[];
  readonly claims: readonly PersistentVolumeClaimObject[];
  readonly serviceExists: boolean;
  readonly disruptionBudgetMinAvailable: number | undefined;
  readonly etcd: EtcdObservation | undefined;
  readonly nowMs: number;
  /** How long a member's pod may stay unschedulable before the member is replaced. */
  readonly replaceAfterMs: number;
  /** The nodes the cache knows (none when nodes are not watched). */
  readonly nodes?: readonly NodeState[];
  /** The EtcdBackups in the cluster's namespace (read only when every member's data is lost). */
  readonly backups?: readonly EtcdBackupObject[];
  /** The EtcdRestore a recovery from a backup created, if it exists. */
  readonly recoveryRestore?: RecoveryRestoreObject;
}

/** What the cluster reads of the EtcdRestore it created. */
export interface RecoveryRestoreObject {
  readonly metadata: { readonly name: string };
  readonly spec: { readonly clusterTemplate: { readonly spec: { readonly replicas: number } } };
  readonly status?: {
    readonly phase?: string;
    readonly conditions?: readonly { readonly type: string; readonly message?: string }[];
  };
}

/** The member's pod as the diagnosis reads it; the newest pod if a replaced one is still going. */
export function podView(
  pod: PodObject | undefined,
  nodes: readonly NodeState[] = [],
): PodView | undefined {
  if (!pod) return undefined;
  const node = pod.spec?.nodeName
    ? nodes.find((candidate) => candidate.name === pod.spec?.nodeName)
    : undefined;
  const scheduled = pod.status?.conditions?.find((condition) => condition.type === "PodScheduled");
  const container = pod.status?.containerStatuses?.find((status) =>
    status.name === etcdContainerName
  );
  const exit = exitOf(container?.state) ?? exitOf(container?.lastState);
  return {
    phase: pod.status?.phase ?? "Pending",
    terminating: Boolean(pod.metadata.deletionTimestamp),
    ...(node ? { node } : {}),
    ...(scheduled?.status === "False"
      ? {
        unschedulable: {
          message: scheduled.message ?? scheduled.reason ?? "unschedulable",
          sinceMs: Date.parse(scheduled.lastTransitionTime ?? "") ||
            Date.parse(pod.metadata.creationTimestamp ?? "") || 0,
        },
      }
      : {}),
    ...(container
      ? {
        etcd: {
          running: container.state?.running !== undefined,
          restarts: container.restartCount ?? 0,
          ...(container.state?.waiting
            ? {
              waiting: {
                reason: container.state.waiting.reason ?? "",
                message: container.state.waiting.message ?? "",
              },
            }
            : {}),
          ...(exit ? { lastExit: exit } : {}),
        },
      }
      : {}),
  };
}

function exitOf(state: ContainerState | undefined) {
  const terminated = state?.terminated;
  if (!terminated) return undefined;
  return {
    exitCode: terminated.exitCode,
    reason: terminated.reason ?? "",
    log: terminated.message ?? "",
  };
}

export function peerViews(
  clusterName: string,
  peers: readonly EtcdPeerObject[],
  pods: readonly PodObject[] = [],
  claims: readonly PersistentVolumeClaimObject[] = [],
  nodes: readonly NodeState[] = [],
): PeerView[] {
  const views: PeerView[] = [];
  for (const peer of peers) {
    const ordinal = ordinalOf(clusterName, peer.metadata.name);
    if (ordinal === undefined) continue;
    const name = peer.metadata.name;
    const pod = pods
      .filter((candidate) => candidate.metadata.labels?.[peerLabel] === name)
      .sort((a, b) =>
        Number(Boolean(a.metadata.deletionTimestamp)) -
          Number(Boolean(b.metadata.deletionTimestamp)) ||
        (b.metadata.creationTimestamp ?? "").localeCompare(a.metadata.creationTimestamp ?? "")
      )[0];
    const claim = claims.find((candidate) => candidate.metadata.name === name);
    views.push({
      volume: volumeState(
        peer.metadata.annotations?.[volumeAnnotation],
        claim && {
          uid: claim.metadata.uid,
          terminating: Boolean(claim.metadata.deletionTimestamp),
        },
      ),
      pod: podView(pod, nodes),
      name: peer.metadata.name,
      ordinal,
      initialClusterState: peer.spec.bootstrap.initialClusterState,
      initialCluster: peer.spec.bootstrap.static.initialCluster.map((member) => member.name),
      terminating: Boolean(peer.metadata.deletionTimestamp),
      version: peer.spec.version,
      serverVersion: peer.status?.serverVersion,
      ...(peer.spec.bootstrap.forceNewCluster ? { forceNewCluster: true } : {}),
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
      reachable: member.reachable,
      ...(member.raftIndex !== undefined ? { raftIndex: member.raftIndex } : {}),
      ...(member.raftTerm !== undefined ? { raftTerm: member.raftTerm } : {}),
    })),
  };
}

export function clusterObservation(gathered: GatheredCluster): ClusterObservation {
  const { cluster } = gathered;
  return {
    clusterName: cluster.metadata.name,
    namespace: cluster.metadata.namespace,
    replicas: cluster.spec.replicas,
    peerScheme: cluster.spec.tls?.peer ? "https" : "http",
    version: cluster.spec.version,
    serviceExists: gathered.serviceExists,
    disruptionBudget: gathered.disruptionBudgetMinAvailable === undefined
      ? undefined
      : { minAvailable: gathered.disruptionBudgetMinAvailable },
    peers: peerViews(
      cluster.metadata.name,
      gathered.peers,
      gathered.pods,
      gathered.claims,
      gathered.nodes,
    ),
    nowMs: gathered.nowMs,
    replaceAfterMs: gathered.replaceAfterMs,
    etcd: etcdView(gathered.etcd),
    formed: formedOf(cluster),
    knownMembers: knownMembersOf(cluster),
    quorumLoss: quorumLossOf(cluster),
    createdAtMs: Date.parse(cluster.metadata.creationTimestamp ?? "") || undefined,
    volumeClaims: gathered.claims.map(volumeClaimView),
    // Only a cluster etcd cannot answer for may need them (dataLossReport).
    ...(gathered.backups && !gathered.etcd?.members.some((member) => member.reachable)
      ? { backups: backupViews(cluster, gathered.backups) }
      : {}),
    ...(gathered.recoveryRestore
      ? { recoveryRestore: recoveryRestoreView(gathered.recoveryRestore) }
      : {}),
    upgrading:
      cluster.status?.conditions?.some((condition) =>
        condition.type === "Progressing" && condition.reason === "Upgrading"
      ) ?? false,
    clusterVersion: typeof cluster.status?.clusterVersion === "string"
      ? cluster.status.clusterVersion
      : undefined,
    // Announced once per generation: a spec change is the only thing that can lift the refusal.
    upgradeRefused:
      cluster.status?.conditions?.some((condition) =>
        condition.type === "Progressing" && condition.reason === "UpgradeRefused" &&
        condition.observedGeneration === cluster.metadata.generation
      ) ?? false,
  };
}

/** The owner's policy and approval, how long the cluster has been unavailable, a recovery. */
function quorumLossOf(cluster: EtcdClusterObject): QuorumLossView {
  const annotations = cluster.metadata.annotations ?? {};
  const approvedAtMs = Date.parse(annotations[approveQuorumRecoveryAnnotation] ?? "");
  const available = cluster.status?.conditions?.find((condition) => condition.type === "Available");
  const unavailableSinceMs = available?.status === "False"
    ? Date.parse(available.lastTransitionTime ?? "")
    : NaN;
  const recovery = parseQuorumRecovery(annotations[quorumRecoveryAnnotation]);
  return {
    policy: cluster.spec.quorumLossRecovery ?? "Manual",
    ...(Number.isFinite(approvedAtMs) ? { approvedAtMs } : {}),
    ...(Number.isFinite(unavailableSinceMs) ? { unavailableSinceMs } : {}),
    ...(recovery ? { recovery } : {}),
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

function volumeClaimView(claim: PersistentVolumeClaimObject): VolumeClaimView {
  const restore = claim.metadata.labels?.[restoreLabel];
  return {
    name: claim.metadata.name,
    terminating: Boolean(claim.metadata.deletionTimestamp),
    ...(restore ? { restore } : {}),
  };
}

/**
 * The Completed backups of this cluster: its source names the cluster or one of its members (read
 * as a backup's own tenancy check reads it, so a backup that could not have read this cluster is
 * never restored into it), with whether it is still the last to have written its object.
 */
export function backupViews(
  cluster: EtcdClusterObject,
  backups: readonly EtcdBackupObject[],
): BackupView[] {
  const { namespace, name } = cluster.metadata;
  const inNamespace = backups.filter((backup) => backup.metadata.namespace === namespace);
  return inNamespace.flatMap((backup) => {
    const { status } = backup;
    if (
      status?.phase !== "Completed" || !status.objectURL || !status.sha256 ||
      !status.completionTime
    ) return [];
    const judged = judgeBackupSource(backup.spec.source.clusterURL, namespace, strictTenancy);
    if (judged.kind !== "inNamespace") return [];
    if (!judged.readings.some((reading) => reading.clusterName === name)) return [];
    const writer = snapshotSource(status.objectURL, namespace, inNamespace);
    const credentialsSecret = backup.spec.credentialsSecretRef?.name;
    return [{
      name: backup.metadata.name,
      uid: backup.metadata.uid,
      objectURL: status.objectURL,
      completionTime: status.completionTime,
      ...(credentialsSecret ? { credentialsSecret } : {}),
      lastWriter: writer?.backupUID === backup.metadata.uid,
    }];
  });
}

function recoveryRestoreView(restore: RecoveryRestoreObject): RecoveryRestoreView {
  // The restore's one condition (Completed) says why it failed, or how far it got.
  const message = restore.status?.conditions?.find((condition) => condition.type === "Completed")
    ?.message;
  return {
    name: restore.metadata.name,
    phase: restore.status?.phase,
    message,
    replicas: restore.spec.clusterTemplate.spec.replicas,
  };
}
