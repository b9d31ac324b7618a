// The EtcdCluster status the actor writes after every pass, computed from what it saw. Pure.
import {
  type ClusterObservation,
  type ClusterStep,
  diagnoses,
  quorum,
  upgradeProgress,
} from "./plan.ts";
import { clusterSelectorLabels, selectorOf } from "../member.ts";
import { dataLossReport, quorumLossReport } from "./quorum.ts";
import { withTransitionTime } from "../conditions.ts";
import type { ClusterCondition } from "../types.ts";

export interface ClusterStatus {
  readonly replicas: number;
  readonly readyReplicas: number;
  readonly members: readonly { readonly name: string; readonly id: string }[];
  readonly clusterVersion?: string;
  readonly leader?: string;
  readonly observedGeneration: number;
  readonly selector: string;
  readonly conditions: readonly ClusterCondition[];
}

/** The status fields the cluster actor owns; any other field in status is left alone. */
export const ownedStatusFields = [
  "replicas",
  "readyReplicas",
  "members",
  "clusterVersion",
  "leader",
  "observedGeneration",
  "selector",
  "conditions",
  "tls",
] as const;

export interface StatusInput {
  readonly seen: ClusterObservation;
  /** The members the last status listed: kept while etcd cannot be asked, never blanked. */
  readonly previousMembers?: readonly ClusterStatus["members"][number][];
  readonly steps: readonly ClusterStep[];
  readonly generation: number;
  readonly clusterVersion: string | undefined;
  readonly previous: readonly ClusterCondition[];
  readonly now: string;
  /** What the certificates' steps do in this pass (a member restart, a CA phase, new Secrets). */
  readonly certificates?: string;
}

export function clusterSelector(clusterName: string): string {
  return selectorOf(clusterSelectorLabels(clusterName));
}

export function evenReplicasAdvice(replicas: number): string | undefined {
  if (replicas % 2 !== 0) return undefined;
  return `${replicas} replicas tolerate no more member failures than ${replicas - 1}, ` +
    `and every write waits for more members: use an odd number`;
}

export function clusterStatus(input: StatusInput): ClusterStatus {
  const { seen } = input;
  const etcd = seen.etcd;
  const members = etcd.reachable ? etcd.members : [];
  const voters = members.filter((member) => !member.isLearner);
  const leader = etcd.reachable
    ? members.find((member) => member.id === etcd.leaderId)?.name
    : undefined;
  const fresh: Omit<ClusterCondition, "lastTransitionTime">[] = [
    availability(input),
    progress(input),
    degradation(input),
  ];
  return {
    replicas: seen.peers.length,
    readyReplicas: voters.filter((member) => member.healthy).length,
    members: etcd.reachable
      ? members
        .filter((member) => member.name !== "")
        .map((member) => ({ name: member.name, id: member.id }))
        .sort((a, b) => a.id.localeCompare(b.id))
      : [...(input.previousMembers ?? [])],
    ...(input.clusterVersion ? { clusterVersion: input.clusterVersion } : {}),
    ...(leader ? { leader } : {}),
    observedGeneration: input.generation,
    selector: clusterSelector(seen.clusterName),
    conditions: fresh.map((condition) => withTransitionTime(condition, input.previous, input.now)),
  };
}

function availability(input: StatusInput): Omit<ClusterCondition, "lastTransitionTime"> {
  const { seen, generation } = input;
  const base = { type: "Available" as const, observedGeneration: generation };
  if (!seen.etcd.reachable) {
    const lost = dataLossReport(seen);
    if (lost) {
      return {
        ...base,
        status: "False",
        reason: "DataLost",
        message: `no member's data survives (${lost.members.join("; ")}); ${lost.action}`,
      };
    }
    return {
      ...base,
      status: seen.peers.length === 0 ? "Unknown" : "False",
      reason: "Unreachable",
      message: `the operator cannot reach etcd: ${seen.etcd.reason}`,
    };
  }
  const voters = seen.etcd.members.filter((member) => !member.isLearner);
  const healthy = voters.filter((member) => member.healthy).length;
  const needed = quorum(voters.length);
  if (healthy < needed) {
    const report = quorumLossReport(seen);
    return {
      ...base,
      status: "False",
      reason: "QuorumLost",
      message:
        `${healthy} of ${voters.length} members are healthy; ${needed} are needed for quorum` +
        (report ? ` (${report.members.join("; ")}); ${report.action}` : ""),
    };
  }
  return {
    ...base,
    status: "True",
    reason: "QuorumHealthy",
    message: `${healthy} of ${voters.length} members are healthy`,
  };
}

/** The Progressing reason (and Event reason) of a refused spec.version. */
export const upgradeRefusedReason = "UpgradeRefused";

const stepReasons: Record<ClusterStep["kind"], string> = {
  recordFormed: "RecordingFormation",
  createService: "CreatingService",
  applyDisruptionBudget: "UpdatingDisruptionBudget",
  createPeers: "CreatingPeers",
  addLearner: "ScalingUp",
  promote: "ScalingUp",
  moveLeader: "MovingLeader",
  removeMember: "ScalingDown",
  deletePeer: "ScalingDown",
  replacePeer: "Upgrading",
  completeUpgrade: "UpgradeCompleted",
  restartPeer: "RecoveringQuorum",
  startQuorumRecovery: "RecoveringQuorum",
  advanceQuorumRecovery: "RecoveringQuorum",
  finishQuorumRecovery: "RecoveringQuorum",
  startBackupRecovery: "RecoveringFromBackup",
  createRecoveryRestore: "RecoveringFromBackup",
  finishBackupRecovery: "RecoveringFromBackup",
  refuseUpgrade: upgradeRefusedReason,
  wait: "Waiting",
};

function progress(input: StatusInput): Omit<ClusterCondition, "lastTransitionTime"> {
  const base = { type: "Progressing" as const, observedGeneration: input.generation };
  const advice = evenReplicasAdvice(input.seen.replicas);
  const suffix = advice ? ` (${advice})` : "";
  // Recording the formation is bookkeeping, not progress anyone waits for.
  const next = input.steps.find((step) => step.kind !== "recordFormed");
  if (!next && input.certificates) {
    return { ...base, status: "True", reason: "RotatingCertificates", message: input.certificates };
  }
  if (!next) {
    return {
      ...base,
      status: "False",
      reason: "Converged",
      message: `${input.seen.peers.length} of ${input.seen.replicas} peers, nothing to do${suffix}`,
    };
  }
  const message = next.kind === "wait" ? next.reason : describeStep(next);
  if (next.kind === "refuseUpgrade") {
    // Nothing progresses until spec.version changes: False, whatever upgrade looked under way.
    return { ...base, status: "False", reason: upgradeRefusedReason, message: message + suffix };
  }
  const upgrade = upgradeProgress(input.seen);
  if (upgrade.inProgress && next.kind !== "completeUpgrade") {
    // Every pass of an upgrade says so, whatever it waits for, so progress stays visible.
    const progress = `${upgrade.upgraded}/${upgrade.total} members at ${upgrade.target}`;
    return {
      ...base,
      status: "True",
      reason: "Upgrading",
      message: `${progress}: ${message}${suffix}`,
    };
  }
  if (next.kind === "completeUpgrade") {
    return { ...base, status: "False", reason: "UpgradeCompleted", message: message + suffix };
  }
  const reason = next.kind === "removeMember" && next.replacing
    ? "ReplacingMember"
    : stepReasons[next.kind];
  return { ...base, status: "True", reason, message: message + suffix };
}

function describeStep(step: ClusterStep): string {
  switch (step.kind) {
    case "recordFormed":
      return `recording that the cluster formed (cluster id ${step.clusterId})`;
    case "createService":
      return "creating the headless service";
    case "applyDisruptionBudget":
      return `keeping at least ${step.minAvailable} members available during disruptions`;
    case "createPeers":
      return `creating peers ${step.peers.map((peer) => peer.name).join(", ")}`;
    case "addLearner":
      return `adding ${step.peerName} as a learner`;
    case "promote":
      return `promoting learner ${step.peerName} to a voting member`;
    case "moveLeader":
      return `moving leadership to ${step.toName} before removing the leader`;
    case "removeMember":
      return step.replacing
        ? `replacing lost member ${step.peerName} (${step.replacing.reason}): removing it from etcd, ` +
          `then it is added again as a learner on an empty volume`
        : `removing member ${step.peerName}`;
    case "deletePeer":
      return `deleting peer ${step.peerName} and its volume`;
    case "replacePeer":
      return `replacing ${step.peerName}: etcd ${step.fromVersion} → ${step.toVersion}, keeping its volume`;
    case "completeUpgrade":
      return `every member runs etcd ${step.version}`;
    case "restartPeer":
      return `restarting ${step.peerName} on its volume${
        step.forceNewCluster ? " alone, with --force-new-cluster" : ""
      }`;
    case "startQuorumRecovery":
      return `recovering the lost quorum from ${step.survivor}`;
    case "advanceQuorumRecovery":
      return step.recovery.source === "survivor"
        ? `${step.recovery.survivor} serves alone: restarting it without --force-new-cluster`
        : step.recovery.phase === "restoring"
        ? `the lost peers and volumes are gone: restoring EtcdBackup ${step.recovery.backup}`
        : `clearing what a deleted restore left, to restore EtcdBackup ${step.recovery.backup} again`;
    case "finishQuorumRecovery":
      return `quorum restored on ${step.survivor}; the other members are added again`;
    case "startBackupRecovery":
      return `no member's data survives: recovering from EtcdBackup ${step.recovery.backup} ` +
        `(completed ${step.recovery.completionTime})`;
    case "createRecoveryRestore":
      return `restoring EtcdBackup ${step.recovery.backup} into new volumes (EtcdRestore ` +
        `${step.recovery.restore})`;
    case "finishBackupRecovery":
      return `restored from EtcdBackup ${step.backup}; every member serves`;
    case "refuseUpgrade":
      return step.message;
    case "wait":
      return step.reason;
  }
}

function degradation(input: StatusInput): Omit<ClusterCondition, "lastTransitionTime"> {
  const base = { type: "Degraded" as const, observedGeneration: input.generation };
  const { seen } = input;
  // What the members' pods and volumes say: the real reason, rather than a refused connection.
  const found = [...diagnoses(seen)].filter(([, diagnosis]) => diagnosis.kind !== "fine");
  const explained = (names?: ReadonlySet<string>) =>
    found.filter(([name]) => !names || names.has(name))
      .map(([name, diagnosis]) => `${name}: ${(diagnosis as { reason: string }).reason}`)
      .join("; ");
  if (!seen.etcd.reachable) {
    if (seen.peers.length === 0) {
      return { ...base, status: "False", reason: "Bootstrapping", message: "no peers yet" };
    }
    const why = explained();
    return {
      ...base,
      status: "True",
      reason: "Unreachable",
      message: why ? `${why} (etcd: ${seen.etcd.reason})` : seen.etcd.reason,
    };
  }
  const unhealthy = seen.etcd.members.filter((member) => !member.healthy && !member.isLearner);
  if (unhealthy.length > 0) {
    const names = unhealthy.map((member) => member.name || member.id);
    const lost = found.filter(([name, diagnosis]) =>
      diagnosis.kind === "lost" && names.includes(name)
    );
    const why = explained(new Set(names));
    return {
      ...base,
      status: "True",
      reason: lost.length > 0 ? "MemberLost" : "MembersUnhealthy",
      message: lost.length > 0
        ? `lost: ${explained(new Set(lost.map(([name]) => name)))}; a lost member is replaced ` +
          `while the others keep quorum`
        : `unhealthy: ${why || names.join(", ")}; membership changes wait until every member ` +
          `is healthy`,
    };
  }
  return {
    ...base,
    status: "False",
    reason: "AllMembersHealthy",
    message: "every member is healthy",
  };
}
