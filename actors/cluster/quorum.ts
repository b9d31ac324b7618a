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
import type { BackupRecovery, QuorumRecovery, SurvivorRecovery } from "../recovery_record.ts";
import { memberPeerName, peerHost, peerName } from "../member.ts";
import { diagnoseMember, instant } from "./diagnose.ts";
import type { ClusterObservation, ClusterStep, MemberView, PeerView } from "./plan.ts";

const quorum = (voters: number) => Math.floor(voters / 2) + 1;

export interface QuorumLossView {
  readonly policy: QuorumLossRecoveryPolicy;
  /** When the owner approved a recovery (approveQuorumRecoveryAnnotation). */
  readonly approvedAtMs?: number;
  /** When the Available condition last turned False: the loss has lasted since then. */
  readonly unavailableSinceMs?: number;
  /** A recovery under way. */
  readonly recovery?: QuorumRecovery;
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
  const gate = recoveryGate(seen, plan);
  if (gate.kind === "held") return { members, action: gate.action };
  return {
    members,
    action: `recovering: ${plan}`,
    startWith: { survivor: survivor.name, memberId: survivor.member.id },
  };
}

type Gate = { readonly kind: "held"; readonly action: string } | { readonly kind: "go" };

/** A recovery waits out the grace period, then for the owner's approval unless Automatic. */
function recoveryGate(seen: ClusterObservation, plan: string): Gate {
  const loss = seen.quorumLoss;
  const sinceMs = loss?.unavailableSinceMs ?? seen.nowMs;
  const waitedMs = seen.nowMs - sinceMs;
  if (waitedMs < seen.replaceAfterMs) {
    return {
      kind: "held",
      action: `lost since ${instant(sinceMs)}; from ${
        instant(sinceMs + seen.replaceAfterMs)
      } the operator would ${plan}`,
    };
  }
  const approved = loss?.policy === "Automatic" ||
    (loss?.approvedAtMs !== undefined && loss.approvedAtMs >= sinceMs);
  if (!approved) {
    return {
      kind: "held",
      action: `the operator would ${plan}; it waits for approval (quorumLossRecovery is Manual): ` +
        `kubectl annotate etcdcluster ${seen.clusterName} --overwrite ` +
        `etcd.improbable.io/approve-quorum-recovery=$(date -u +%Y-%m-%dT%H:%M:%SZ)`,
    };
  }
  return { kind: "go" };
}

/**
 * The next step of a quorum recovery, or undefined when there is none to take (quorum holds, or
 * the loss is only being reported: the caller's planning goes on and waits as it would anyway).
 */
export function planQuorumRecovery(seen: ClusterObservation): ClusterStep[] | undefined {
  const recovery = seen.quorumLoss?.recovery;
  if (recovery?.source === "survivor") return continueRecovery(seen, recovery);
  if (recovery?.source === "backup") return continueBackupRecovery(seen, recovery);
  const lost = dataLossReport(seen);
  if (lost) {
    if (!lost.startFrom) {
      return [{
        kind: "wait",
        reason: `no member's data survives (${lost.members.join("; ")}): ${lost.action}`,
      }];
    }
    return [{
      kind: "startBackupRecovery",
      recovery: lost.startFrom,
      reason: lost.members.join("; "),
    }];
  }
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

function continueRecovery(seen: ClusterObservation, recovery: SurvivorRecovery): ClusterStep[] {
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

// ---- No member's data survives: recovery from the latest backup ----
//
// Every member's volume is lost (or never held anything), so there is no survivor to force a
// cluster from. What is left is this cluster's newest Completed EtcdBackup: the peers and their
// empty volumes go, an EtcdRestore owned by the cluster fills new volumes from the snapshot (the
// same pods, download checks and Events as any restore), and the members start on them as the
// initial cluster. Writes acknowledged after the backup are lost, which the Events say.

/** A Completed EtcdBackup of this cluster (its source names the cluster or one of its members). */
export interface BackupView {
  readonly name: string;
  readonly uid: string;
  readonly objectURL: string;
  readonly completionTime: string;
  readonly credentialsSecret?: string;
  /** The last Completed backup to write its object: the object still holds its bytes. */
  readonly lastWriter: boolean;
}

/** The EtcdRestore a backup recovery created. */
export interface RecoveryRestoreView {
  readonly name: string;
  readonly phase: string | undefined;
  /** Its Ready (or failure) condition's message. */
  readonly message: string | undefined;
  /** How many members it fills volumes for. */
  readonly replicas: number;
}

/** One of the cluster's PVCs. */
export interface VolumeClaimView {
  readonly name: string;
  readonly terminating: boolean;
  /** The restore label's value, on a PVC a restore created. */
  readonly restore?: string;
}

/** The newest backup whose object still holds its snapshot, taken since the cluster was created. */
export function chooseBackup(seen: ClusterObservation): BackupView | undefined {
  const since = seen.createdAtMs ?? -Infinity;
  return (seen.backups ?? [])
    .filter((backup) => backup.lastWriter && Date.parse(backup.completionTime) >= since)
    .sort((a, b) =>
      Date.parse(b.completionTime) - Date.parse(a.completionTime) || a.name.localeCompare(b.name)
    )[0];
}

export interface DataLossReport {
  readonly members: readonly string[];
  readonly action: string;
  /** The recovery may start now, from this backup. */
  readonly startFrom?: BackupRecovery;
}

/**
 * Undefined unless the cluster has formed, etcd answers nothing, and no peer can hold data: every
 * peer's volume is lost or never existed, or it is a member added since etcd last answered (a
 * learner re-added for a lost member, say, which cannot even publish its name without a quorum,
 * so holds nothing); at least one volume is lost; and every member the last status listed has a
 * peer (a member whose peer was deleted may have its data on a kept volume).
 */
export function dataLossReport(seen: ClusterObservation): DataLossReport | undefined {
  if (seen.etcd.reachable || !seen.formed || seen.peers.length === 0) return undefined;
  const peerNames = new Set(seen.peers.map((peer) => peer.name));
  if (seen.knownMembers.some((name) => !peerNames.has(name))) return undefined;
  const known = new Set(seen.knownMembers);
  // Without a list of members to go by, any peer with a volume may hold data.
  const neverServed = (peer: PeerView) =>
    known.size > 0 && !known.has(peer.name) && peer.initialClusterState === "Existing";
  const holdsData = (peer: PeerView) =>
    peer.volume.kind !== "lost" && peer.volume.kind !== "missing" && !neverServed(peer);
  if (seen.peers.some(holdsData)) return undefined;
  if (!seen.peers.some((peer) => peer.volume.kind === "lost")) return undefined;
  const members = seen.peers.map((peer) =>
    peer.volume.kind === "lost"
      ? `${peer.name}: data lost (${peer.volume.reason})`
      : peer.volume.kind === "missing"
      ? `${peer.name}: never held data`
      : `${peer.name}: added since etcd last answered, never served`
  );
  const backup = chooseBackup(seen);
  if (!backup) {
    return {
      members,
      action: "no Completed EtcdBackup of this cluster whose object still holds its snapshot: " +
        "nothing to recover from; take backups with an EtcdBackupSchedule",
    };
  }
  const plan = `restore EtcdBackup ${backup.name} (completed ${backup.completionTime}, ` +
    `${backup.objectURL}) into new volumes for every member; writes after it are lost`;
  const gate = recoveryGate(seen, plan);
  if (gate.kind === "held") return { members, action: gate.action };
  return {
    members,
    action: `recovering: ${plan}`,
    startFrom: {
      source: "backup",
      backup: backup.name,
      backupUID: backup.uid,
      objectURL: backup.objectURL,
      completionTime: backup.completionTime,
      ...(backup.credentialsSecret ? { credentialsSecret: backup.credentialsSecret } : {}),
      phase: "clearing",
    },
  };
}

/** `<cluster>-recovery-<time>`: a new name for each attempt, so a failed one never blocks the next. */
export function recoveryRestoreName(clusterName: string, nowMs: number): string {
  return `${clusterName}-recovery-${Math.floor(nowMs / 1000).toString(36)}`;
}

function continueBackupRecovery(seen: ClusterObservation, recovery: BackupRecovery): ClusterStep[] {
  const from = `EtcdBackup ${recovery.backup} (completed ${recovery.completionTime})`;
  if (recovery.phase === "clearing") {
    if (seen.etcd.reachable) {
      // A member answers after all (a cache read long after the record changed): its data is
      // not lost, and clearing would delete it.
      return [{
        kind: "wait",
        reason: `recovery from ${from}: the record says every member's data is lost, but etcd ` +
          `answers: not deleting any peer or volume`,
      }];
    }
    const peer = seen.peers.find((candidate) => !candidate.terminating);
    if (peer) return [{ kind: "deletePeer", peerName: peer.name, deleteVolume: true }];
    const claims = seen.volumeClaims ?? [];
    const claim = claims.find((candidate) => !candidate.terminating);
    if (claim) return [{ kind: "deletePeer", peerName: claim.name, deleteVolume: true }];
    if (seen.peers.length > 0 || claims.length > 0) {
      return [{
        kind: "wait",
        reason: `recovery from ${from}: waiting for the lost peers and volumes to go`,
      }];
    }
    return [{
      kind: "advanceQuorumRecovery",
      recovery: {
        ...recovery,
        phase: "restoring",
        restore: recoveryRestoreName(seen.clusterName, seen.nowMs),
      },
    }];
  }
  const restoreName = recovery.restore ?? recoveryRestoreName(seen.clusterName, seen.nowMs);
  const restore = seen.recoveryRestore?.name === restoreName ? seen.recoveryRestore : undefined;
  // Peers exist only once the restore completed: a restore deleted after that changes nothing.
  if (!restore && seen.peers.length > 0) return awaitRestoredMembers(seen, recovery, from);
  if (!restore) {
    const leftovers = (seen.volumeClaims ?? []).some((claim) => claim.restore === restoreName);
    if (leftovers) {
      // The restore was deleted (to try again after a failure): what it made goes first.
      return [{
        kind: "advanceQuorumRecovery",
        recovery: { ...recovery, phase: "clearing", restore: undefined },
      }];
    }
    return [{
      kind: "createRecoveryRestore",
      recovery: { ...recovery, restore: restoreName },
      replicas: seen.replicas,
    }];
  }
  if (restore.phase === "Failed") {
    return [{
      kind: "wait",
      reason: `recovery from ${from}: EtcdRestore ${restore.name} failed` +
        `${restore.message ? ` (${restore.message})` : ""}; delete it to try again ` +
        `(kubectl delete etcdrestore ${restore.name})`,
    }];
  }
  if (restore.phase !== "Completed") {
    return [{
      kind: "wait",
      reason: `recovery from ${from}: EtcdRestore ${restore.name} is filling the members' ` +
        `volumes (${restore.phase ?? "Pending"})`,
    }];
  }
  const names = Array.from({ length: restore.replicas }, (_, i) => peerName(seen.clusterName, i));
  const peerNames = new Set(seen.peers.map((peer) => peer.name));
  const missing = names.filter((name) => !peerNames.has(name));
  if (missing.length > 0) {
    // The volumes hold the restored data with these very names and URLs: "new" starts nothing
    // new, and dataExists makes a peer refuse to start if its volume went missing meanwhile.
    return [{
      kind: "createPeers",
      peers: missing.map((name) => ({
        name,
        initialClusterState: "New" as const,
        initialCluster: names.map((member) => ({
          name: member,
          host: peerHost(seen.clusterName, seen.namespace, member),
        })),
        dataExists: true,
      })),
    }];
  }
  return awaitRestoredMembers(seen, recovery, from);
}

function awaitRestoredMembers(
  seen: ClusterObservation,
  recovery: BackupRecovery,
  from: string,
): ClusterStep[] {
  const serving = seen.etcd.reachable && seen.etcd.members.length === seen.peers.length &&
    seen.etcd.members.every((member) => member.healthy);
  if (!serving) {
    return [{
      kind: "wait",
      reason: `recovery from ${from}: waiting for the restored members to serve`,
    }];
  }
  return [{
    kind: "finishBackupRecovery",
    backup: recovery.backup,
    completionTime: recovery.completionTime,
    clusterId: seen.etcd.reachable ? seen.etcd.clusterId : undefined,
  }];
}
