// A lost quorum: what happened to each member, whether the operator may recover, and the steps
// of a recovery from the survivor with the most data. Pure.
//
// A majority of voters is gone, so etcd can commit nothing, membership included: the only way back
// without a backup is etcd's --force-new-cluster on one survivor's data, which keeps that data and
// makes it the only member; the cluster then grows again with new members. Done wrongly, it forks
// the cluster, so each rule below is a guard:
// - only when every unreachable voter is provably down (its pod not running, its volume or node
//   gone): a member that runs but does not answer may be cut off from the operator, not gone;
// - only after the loss has lasted the grace period, and with the owner's approval unless the
//   cluster says Automatic;
// - the survivor with the highest raft index (it holds every entry the others acknowledged);
// - every step is recorded on the EtcdCluster first (quorumRecoveryAnnotation), so an operator
//   killed half-way carries on with the same survivor, and --force-new-cluster is cleared before
//   any other member joins.
import type { QuorumLossRecoveryPolicy } from "../types.ts";
import { memberPeerName, peerHost } from "../member.ts";
import { diagnoseMember, instant } from "./diagnose.ts";
import type { ClusterObservation, ClusterStep, MemberView, PeerView } from "./plan.ts";

const quorum = (voters: number) => Math.floor(voters / 2) + 1;

/** What quorumRecoveryAnnotation holds while a recovery runs. */
export interface QuorumRecovery {
  readonly survivor: string;
  readonly memberId: string;
  /** forcing: restarting the survivor alone; clearing: restarting it without the flag. */
  readonly phase: "forcing" | "clearing";
}

export interface QuorumLossView {
  readonly policy: QuorumLossRecoveryPolicy;
  /** When the owner approved a recovery (approveQuorumRecoveryAnnotation). */
  readonly approvedAtMs?: number;
  /** When the Available condition last turned False: the loss has lasted since then. */
  readonly unavailableSinceMs?: number;
  /** A recovery under way. */
  readonly recovery?: QuorumRecovery;
}

export function parseQuorumRecovery(text: string | undefined): QuorumRecovery | undefined {
  if (!text) return undefined;
  try {
    const value = JSON.parse(text) as Partial<QuorumRecovery>;
    if (
      typeof value.survivor === "string" && typeof value.memberId === "string" &&
      (value.phase === "forcing" || value.phase === "clearing")
    ) {
      return { survivor: value.survivor, memberId: value.memberId, phase: value.phase };
    }
  } catch { /* not ours, or damaged: treated as absent */ }
  return undefined;
}

export function formatQuorumRecovery(recovery: QuorumRecovery): string {
  return JSON.stringify(recovery);
}

/** One voter as the report shows it. */
interface VoterState {
  readonly member: MemberView;
  readonly peer: PeerView | undefined;
  readonly name: string;
  /** Answers Status (so it runs and has data to offer), or serves outright. */
  readonly answers: boolean;
  /** Kubernetes shows it cannot be running: why; undefined if its pod may well run. */
  readonly goneBecause: string | undefined;
}

function voterStates(seen: ClusterObservation, members: readonly MemberView[]): VoterState[] {
  return members.filter((member) => !member.isLearner).map((member) => {
    const name = memberPeerName(seen.clusterName, member) ?? member.id;
    const peer = seen.peers.find((candidate) => candidate.name === name);
    const answers = member.healthy || member.reachable === true;
    return { member, peer, name, answers, goneBecause: peer ? goneBecause(seen, peer) : "no peer" };
  });
}

/** Why the member's process cannot be running, from Kubernetes' side; undefined if it may. */
function goneBecause(seen: ClusterObservation, peer: PeerView): string | undefined {
  if (peer.volume.kind === "lost") return peer.volume.reason;
  const pod = peer.pod;
  if (!pod) return "its pod does not exist";
  if (pod.node && !pod.node.ready) return `its node ${pod.node.name} is not ready`;
  if (pod.terminating) return "its pod is being deleted";
  if (pod.phase !== "Running") return `its pod is ${pod.phase}`;
  if (pod.etcd && !pod.etcd.running) {
    const diagnosis = diagnoseMember(peer, seen.nowMs, seen.replaceAfterMs);
    return diagnosis.kind === "fine" ? "etcd is not running" : diagnosis.reason;
  }
  return undefined;
}

function describe(state: VoterState): string {
  const { member } = state;
  if (state.answers) {
    const position = member.raftIndex === undefined
      ? ""
      : `, raft index ${member.raftIndex} term ${member.raftTerm ?? "?"}`;
    return `${state.name}: answers${position}${member.healthy ? "" : ", no quorum to serve"}`;
  }
  return `${state.name}: ${
    state.goneBecause ? `down (${state.goneBecause})` : "unreachable, its pod runs"
  }`;
}

/** The survivor to recover from: the highest raft index, then the lowest ordinal. */
function chooseSurvivor(states: readonly VoterState[]): VoterState | undefined {
  return states.filter((state) =>
    state.answers && state.peer && state.member.raftIndex !== undefined
  ).sort((a, b) =>
    (b.member.raftIndex ?? 0) - (a.member.raftIndex ?? 0) ||
    (a.peer?.ordinal ?? 0) - (b.peer?.ordinal ?? 0)
  )[0];
}

export interface QuorumLossReport {
  /** Each voter's state, for the Available condition. */
  readonly members: readonly string[];
  /** What the operator does about it, or why it does not. */
  readonly action: string;
  /** The recovery may start now. */
  readonly startWith?: { readonly survivor: string; readonly memberId: string };
}

/** Undefined while a quorum of voters is healthy (or etcd answers nothing to judge by). */
export function quorumLossReport(seen: ClusterObservation): QuorumLossReport | undefined {
  if (!seen.etcd.reachable) return undefined;
  const states = voterStates(seen, seen.etcd.members);
  // Answering, not healthy: members that answer but refuse service (an alarm, say) still have
  // their quorum. Lost means a majority does not even answer.
  const answering = states.filter((state) => state.answers).length;
  if (states.length === 0 || answering >= quorum(states.length)) return undefined;
  const members = states.map(describe);
  const suspects = states.filter((state) => !state.answers && !state.goneBecause);
  if (suspects.length > 0) {
    return {
      members,
      action: `not recovering: ${suspects.map((s) => s.name).join(", ")} ` +
        `${suspects.length === 1 ? "does" : "do"} not answer but ${
          suspects.length === 1 ? "its pod runs" : "their pods run"
        }: cut off from the operator is not gone`,
    };
  }
  const survivor = chooseSurvivor(states);
  if (!survivor) {
    return {
      members,
      action: answering > 0
        ? "waiting for the members that answer to report their raft position"
        : "no member answers: nothing to recover from but a backup (restore the latest " +
          "EtcdBackup into a new EtcdCluster)",
    };
  }
  const plan = `restart ${survivor.name} (raft index ${survivor.member.raftIndex}) alone on its ` +
    `data with --force-new-cluster, then add the other members again on empty volumes`;
  const loss = seen.quorumLoss;
  const sinceMs = loss?.unavailableSinceMs ?? seen.nowMs;
  const waitedMs = seen.nowMs - sinceMs;
  if (waitedMs < seen.replaceAfterMs) {
    return {
      members,
      action: `lost since ${instant(sinceMs)}; from ${
        instant(sinceMs + seen.replaceAfterMs)
      } the operator would ${plan}`,
    };
  }
  const approved = loss?.policy === "Automatic" ||
    (loss?.approvedAtMs !== undefined && loss.approvedAtMs >= sinceMs);
  if (!approved) {
    return {
      members,
      action: `the operator would ${plan}; it waits for approval (quorumLossRecovery is Manual): ` +
        `kubectl annotate etcdcluster ${seen.clusterName} --overwrite ` +
        `etcd.improbable.io/approve-quorum-recovery=$(date -u +%Y-%m-%dT%H:%M:%SZ)`,
    };
  }
  return {
    members,
    action: `recovering: ${plan}`,
    startWith: { survivor: survivor.name, memberId: survivor.member.id },
  };
}

/**
 * The next step of a quorum recovery, or undefined when there is none to take (quorum holds, or
 * the loss is only being reported: the caller's planning goes on and waits as it would anyway).
 */
export function planQuorumRecovery(seen: ClusterObservation): ClusterStep[] | undefined {
  const recovery = seen.quorumLoss?.recovery;
  if (recovery) return continueRecovery(seen, recovery);
  const report = quorumLossReport(seen);
  if (!report) return undefined;
  if (!report.startWith) {
    return [{
      kind: "wait",
      reason: `quorum lost (${report.members.join("; ")}): ${report.action}`,
    }];
  }
  return [{
    kind: "startQuorumRecovery",
    survivor: report.startWith.survivor,
    memberId: report.startWith.memberId,
    reason: report.members.join("; "),
  }];
}

function continueRecovery(seen: ClusterObservation, recovery: QuorumRecovery): ClusterStep[] {
  const survivor = seen.peers.find((peer) => peer.name === recovery.survivor);
  const forcing = recovery.phase === "forcing";
  const others = seen.etcd.reachable
    ? seen.etcd.members.filter((member) => member.id !== recovery.memberId)
    : [];
  if (forcing && others.length > 0 && quorumLossReport(seen) === undefined) {
    // Other members with a quorum of their own: --force-new-cluster now would throw them out.
    // Only a record read long after it changed can say so (the cache lagging the recovery).
    return [{
      kind: "wait",
      reason: `quorum recovery: the record says ${recovery.survivor} is to start alone, but ` +
        `${others.length} other member(s) answer with quorum: not restarting it`,
    }];
  }
  if (!survivor) {
    return [{
      kind: "createPeers",
      peers: [{
        name: recovery.survivor,
        initialClusterState: "Existing",
        initialCluster: [{
          name: recovery.survivor,
          host: peerHost(seen.clusterName, seen.namespace, recovery.survivor),
        }],
        dataExists: true,
        forceNewCluster: forcing,
      }],
    }];
  }
  if (survivor.terminating) {
    return [{ kind: "wait", reason: `quorum recovery: ${survivor.name} is restarting` }];
  }
  if ((survivor.forceNewCluster ?? false) !== forcing) {
    return [{ kind: "restartPeer", peerName: survivor.name, forceNewCluster: forcing }];
  }
  const alone = seen.etcd.reachable && seen.etcd.members.length === 1 &&
    seen.etcd.members[0].id === recovery.memberId && seen.etcd.members[0].healthy;
  if (!alone) {
    return [{
      kind: "wait",
      reason: `quorum recovery: waiting for ${survivor.name} to serve as the only member` +
        (forcing ? " (--force-new-cluster)" : ""),
    }];
  }
  return forcing
    ? [{ kind: "advanceQuorumRecovery", recovery: { ...recovery, phase: "clearing" } }]
    : [{ kind: "finishQuorumRecovery", survivor: survivor.name }];
}
