// The cluster actor's brain: from what it observed, the next steps towards spec.replicas. Pure.
//
// Membership changes are one at a time and only when every member is healthy, so a failed step
// never costs quorum; each step is idempotent, so a crash between any two steps is harmless.
// The exceptions lead out of trouble and never lower the number of healthy voters: a member that
// cannot come back by itself is replaced while the others keep quorum, and a scale-down or a
// version rollback may act on the members that are already down.

import {
  memberPeerName,
  ordinalOf,
  peerHost,
  peerName,
  peerURL,
  type URLScheme,
  type VolumeState,
} from "../member.ts";
import { diagnoseMember, type Diagnosis, type PodView } from "./diagnose.ts";
import { versionSkip } from "./version_skip.ts";
import {
  type BackupView,
  planQuorumRecovery,
  type QuorumLossView,
  type RecoveryRestoreView,
  type VolumeClaimView,
} from "./quorum.ts";
import type { BackupRecovery, QuorumRecovery } from "../recovery_record.ts";

export interface PeerView {
  readonly name: string;
  readonly ordinal: number;
  readonly initialClusterState: "New" | "Existing";
  /** Names in spec.bootstrap.static.initialCluster. */
  readonly initialCluster: readonly string[];
  readonly terminating: boolean;
  /** spec.version: the etcd version its pod runs. */
  readonly version: string;
  /** status.serverVersion: what its member last reported, once it has. */
  readonly serverVersion: string | undefined;
  readonly volume: VolumeState;
  readonly pod: PodView | undefined;
  /** spec.bootstrap.forceNewCluster: started alone on its data by a quorum recovery. */
  readonly forceNewCluster?: boolean;
}

export interface MemberView {
  readonly id: string;
  /** Empty until a learner's process has started and published its name. */
  readonly name: string;
  readonly peerURL: string;
  readonly isLearner: boolean;
  readonly healthy: boolean;
  /** Its Status call answered (it runs); with the raft position it reported. */
  readonly reachable?: boolean;
  readonly raftIndex?: number;
  readonly raftTerm?: number;
}

export type EtcdView =
  | {
    readonly reachable: true;
    /** The id etcd's answers carry (hex). */
    readonly clusterId?: string;
    readonly members: readonly MemberView[];
    readonly leaderId: string | undefined;
  }
  | { readonly reachable: false; readonly reason: string };

export interface ClusterObservation {
  readonly clusterName: string;
  readonly namespace: string;
  readonly replicas: number;
  /** `https` with `spec.tls.peer`: the scheme of the peer URL a new member is added with. */
  readonly peerScheme?: URLScheme;
  /** spec.version: the version every peer should run. */
  readonly version: string;
  readonly serviceExists: boolean;
  readonly disruptionBudget: { readonly minAvailable: number } | undefined;
  readonly peers: readonly PeerView[];
  readonly etcd: EtcdView;
  /**
   * The cluster has formed: the id etcd gave it, recorded on the EtcdCluster once a member first
   * answered (or, for a cluster formed before that record existed, its status listed members).
   * One-way: from then on no peer is ever created as "new", which could start a second cluster.
   */
  readonly formed: { readonly clusterId: string | undefined } | undefined;
  /** Member names the last status listed (what etcd said when it last answered). */
  readonly knownMembers: readonly string[];
  /** The last status said an upgrade was under way (so its end can be announced once). */
  readonly upgrading: boolean;
  /** status.clusterVersion: what etcd last said the whole cluster runs (major.minor.0). */
  readonly clusterVersion?: string;
  /** The last status already refused spec.version at this generation (its Event was recorded). */
  readonly upgradeRefused?: boolean;
  readonly nowMs: number;
  /** How long a member's pod may stay unschedulable before the member is replaced. */
  readonly replaceAfterMs: number;
  /** The owner's policy and approval for a lost quorum, and a recovery under way. */
  readonly quorumLoss?: QuorumLossView;
  /** metadata.creationTimestamp: a backup older than the cluster is of an earlier namesake. */
  readonly createdAtMs?: number;
  /** This cluster's Completed EtcdBackups: what a cluster that lost every member's data has left. */
  readonly backups?: readonly BackupView[];
  /** The EtcdRestore a recovery from a backup created, once it exists. */
  readonly recoveryRestore?: RecoveryRestoreView;
  /** The cluster's PVCs (by its label). */
  readonly volumeClaims?: readonly VolumeClaimView[];
}

export interface InitialMember {
  readonly name: string;
  readonly host: string;
}

export interface NewPeer {
  readonly name: string;
  readonly initialClusterState: "New" | "Existing";
  readonly initialCluster: readonly InitialMember[];
  /**
   * Its member has run before, so its data must be on a kept volume: the peer refuses to start
   * it on an empty one (which would rejoin under the old id without the raft log).
   */
  readonly dataExists: boolean;
  /** Started alone on its data with --force-new-cluster (a quorum recovery). */
  readonly forceNewCluster?: boolean;
}

export type ClusterStep =
  | { readonly kind: "recordFormed"; readonly clusterId: string }
  | { readonly kind: "createService" }
  | { readonly kind: "applyDisruptionBudget"; readonly minAvailable: number }
  | { readonly kind: "createPeers"; readonly peers: readonly NewPeer[] }
  | { readonly kind: "addLearner"; readonly peerName: string; readonly peerURL: string }
  | { readonly kind: "promote"; readonly memberId: string; readonly peerName: string }
  | {
    readonly kind: "moveLeader";
    readonly fromId: string;
    readonly toId: string;
    readonly toName: string;
  }
  | {
    readonly kind: "removeMember";
    readonly memberId: string;
    readonly peerName: string;
    /** Why a lost member is removed, to be added again on an empty volume. */
    readonly replacing?: {
      readonly reason: string;
      /** Its volume is lost: confirmed with the API server before the removal. */
      readonly volumeLost: boolean;
    };
  }
  | { readonly kind: "deletePeer"; readonly peerName: string; readonly deleteVolume: boolean }
  | {
    readonly kind: "replacePeer";
    readonly peerName: string;
    readonly fromVersion: string;
    readonly toVersion: string;
  }
  | { readonly kind: "completeUpgrade"; readonly version: string }
  /**
   * spec.version is more than one minor version above what the cluster runs: nothing is done
   * until it changes. `announce`: record the Warning Event (once per spec generation).
   */
  | {
    readonly kind: "refuseUpgrade";
    readonly running: string;
    readonly toVersion: string;
    readonly message: string;
    readonly announce: boolean;
  }
  /** Deletes the peer (not its volume): it comes back on the same data, with or without the flag. */
  | { readonly kind: "restartPeer"; readonly peerName: string; readonly forceNewCluster: boolean }
  | {
    readonly kind: "startQuorumRecovery";
    readonly survivor: string;
    readonly memberId: string;
    /** Each voter's state when the recovery began. */
    readonly reason: string;
  }
  | { readonly kind: "advanceQuorumRecovery"; readonly recovery: QuorumRecovery }
  | { readonly kind: "finishQuorumRecovery"; readonly survivor: string }
  | {
    readonly kind: "startBackupRecovery";
    readonly recovery: BackupRecovery;
    /** Each member's state when the recovery began. */
    readonly reason: string;
  }
  /** The EtcdRestore (owned by the cluster) that fills the members' new volumes. */
  | {
    readonly kind: "createRecoveryRestore";
    readonly recovery: BackupRecovery & { readonly restore: string };
    readonly replicas: number;
  }
  | {
    readonly kind: "finishBackupRecovery";
    readonly backup: string;
    readonly completionTime: string;
    /** The restored cluster's id: its formation record from now on. */
    readonly clusterId: string | undefined;
  }
  | { readonly kind: "wait"; readonly reason: string };

/**
 * The one-step rule, in one place: after a step that changes etcd membership, a member's peer
 * or data, or starts members, the pass ends, and the next one plans from a fresh observation. So
 * at most one such step runs per pass; the steps before it (records, Services, the budget) only
 * prepare. Whatever a crash interrupts is then at most one step, which is idempotent.
 */
export function endsPass(step: ClusterStep): boolean {
  return [
    "createPeers",
    "addLearner",
    "promote",
    "moveLeader",
    "removeMember",
    "deletePeer",
    "replacePeer",
    "restartPeer",
    "startQuorumRecovery",
    "startBackupRecovery",
    "createRecoveryRestore",
  ].includes(step.kind);
}

export const quorum = (voters: number) => Math.floor(voters / 2) + 1;

export function planCluster(seen: ClusterObservation): ClusterStep[] {
  const steps: ClusterStep[] = [];
  // Recorded before any other step, so every membership change happens after the record.
  if (seen.etcd.reachable && seen.etcd.clusterId && seen.formed?.clusterId === undefined) {
    steps.push({ kind: "recordFormed", clusterId: seen.etcd.clusterId });
  }
  if (!seen.serviceExists) steps.push({ kind: "createService" });
  const budget = quorum(Math.max(1, seen.peers.length));
  if (seen.peers.length > 0 && seen.disruptionBudget?.minAvailable !== budget) {
    steps.push({ kind: "applyDisruptionBudget", minAvailable: budget });
  }
  steps.push(...planMembership(seen));
  return steps;
}

function planMembership(seen: ClusterObservation): ClusterStep[] {
  const bootstrap = planBootstrap(seen);
  if (bootstrap) return bootstrap;
  // Before anything that could start a peer at spec.version: an upgrade step, a peer re-created
  // after its replacement, a learner added by scale-up or for a lost member.
  const skip = versionSkip(seen);
  if (skip) {
    return [{
      kind: "refuseUpgrade",
      running: skip.running,
      toVersion: seen.version,
      message: skip.message,
      announce: !seen.upgradeRefused,
    }];
  }
  const recovery = planQuorumRecovery(seen);
  if (recovery) return recovery;
  if (!seen.etcd.reachable) return planUnreachable(seen, seen.etcd.reason);
  const { members, leaderId, clusterId } = seen.etcd;
  const recorded = seen.formed?.clusterId;
  if (recorded && clusterId && recorded !== clusterId) {
    // Its Service and names now lead to another cluster: changing that one's membership would
    // act on data that is not this cluster's.
    return [{
      kind: "wait",
      reason: `etcd answers as cluster ${clusterId}, but this cluster formed as ${recorded}: ` +
        `another etcd cluster is behind its members' names; no membership change until resolved`,
    }];
  }
  const missingPeer = createMissingPeer(seen, members);
  if (missingPeer) return missingPeer;
  const orphan = deleteOrphanPeer(seen, members);
  if (orphan) return orphan;
  const live = livePeers(seen);
  if (live.length > seen.replicas) return planScaleDown(seen, members, leaderId);
  const replacement = planReplacement(seen, members, leaderId);
  if (replacement) return replacement;
  const unhealthy = members.filter((member) => !member.healthy && !member.isLearner);
  if (unhealthy.length > 0) {
    return planRollback(seen, unhealthy) ?? [{
      kind: "wait",
      reason: `members not healthy: ${unhealthy.map((m) => explain(seen, m)).join("; ")}`,
    }];
  }
  const learner = members.find((member) => member.isLearner);
  if (learner) return planLearner(seen, learner);
  if (live.length < seen.replicas) return [planScaleUp(seen)];
  return planUpgrade(seen, members, leaderId);
}

/** What the member's peer says about it, keyed by peer name. */
export function diagnoses(seen: ClusterObservation): Map<string, Diagnosis> {
  return new Map(
    seen.peers.map((peer) => [peer.name, diagnoseMember(peer, seen.nowMs, seen.replaceAfterMs)]),
  );
}

function peerOf(seen: ClusterObservation, member: MemberView): PeerView | undefined {
  const name = memberPeerName(seen.clusterName, member);
  return name === undefined ? undefined : seen.peers.find((peer) => peer.name === name);
}

/** `c-2 (its pod cannot be scheduled …)`: the member and what its pod says, if anything. */
function explain(seen: ClusterObservation, member: MemberView): string {
  const name = memberPeerName(seen.clusterName, member) ?? member.id;
  const peer = peerOf(seen, member);
  if (!peer) return `${name} (no peer)`;
  const diagnosis = diagnoseMember(peer, seen.nowMs, seen.replaceAfterMs);
  return diagnosis.kind === "fine" ? name : `${name} (${diagnosis.reason})`;
}

/**
 * A peer whose member is no longer in etcd: left by a crash between removing the member and
 * deleting its peer (scale-down, replacement). Its volume holds a removed member's data, so it
 * goes with the peer — the volume first, so a later member of the same name never mounts it.
 */
function deleteOrphanPeer(
  seen: ClusterObservation,
  members: readonly MemberView[],
): ClusterStep[] | undefined {
  const inEtcd = new Set(members.map((member) => memberPeerName(seen.clusterName, member)));
  const orphan = livePeers(seen).find((peer) => !inEtcd.has(peer.name));
  if (!orphan) return undefined;
  return [{ kind: "deletePeer", peerName: orphan.name, deleteVolume: true }];
}

/**
 * A member that cannot come back by itself is removed from etcd; its peer and volume follow
 * (deleteOrphanPeer) and the missing member is added again as a learner on an empty volume
 * (scale-up). Only one at a time, and only while the others keep quorum without it and no other
 * membership change is under way.
 */
function planReplacement(
  seen: ClusterObservation,
  members: readonly MemberView[],
  leaderId: string | undefined,
): ClusterStep[] | undefined {
  const lost = members.flatMap((member) => {
    const peer = peerOf(seen, member);
    if (!peer || peer.terminating) return [];
    const diagnosis = diagnoseMember(peer, seen.nowMs, seen.replaceAfterMs);
    if (diagnosis.kind !== "lost") return [];
    const volumeLost = peer.volume.kind === "lost";
    // etcd has the last word: a member that still answers healthy is not gone, whatever
    // Kubernetes says of its pod or node (a kubelet cut off from the API server, say).
    if (member.healthy && !volumeLost) return [];
    return [{ member, peer, reason: diagnosis.reason, volumeLost }];
  }).sort((a, b) => a.peer.ordinal - b.peer.ordinal);
  if (lost.length === 0) return undefined;
  const { member, peer, reason, volumeLost } = lost[0];
  const remove: ClusterStep = {
    kind: "removeMember",
    memberId: member.id,
    peerName: peer.name,
    replacing: { reason, volumeLost },
  };
  // A learner does not count towards quorum: removing it never risks the cluster.
  if (member.isLearner) return [remove];
  const voters = members.filter((m) => !m.isLearner);
  const survivors = voters.filter((m) => m.id !== member.id && m.healthy);
  const needed = quorum(voters.length);
  const lostNames = lost.map((entry) => entry.peer.name).join(", ");
  if (survivors.length < needed) {
    return [{
      kind: "wait",
      reason: `${peer.name} is lost (${reason}), but only ${survivors.length} of ` +
        `${voters.length} voting members are healthy without it and ${needed} are needed for ` +
        `quorum: not replacing it (lost: ${lostNames})`,
    }];
  }
  const learner = members.find((m) => m.isLearner);
  if (learner) {
    return [{
      kind: "wait",
      reason: `${peer.name} is lost (${reason}); it is replaced once learner ` +
        `${memberPeerName(seen.clusterName, learner) ?? learner.id} is promoted or removed`,
    }];
  }
  if (member.id === leaderId && voters.length > 1) {
    const successor = successorOf(seen, members, member);
    if (!successor) return [{ kind: "wait", reason: "no healthy member to hand leadership to" }];
    return [{ kind: "moveLeader", fromId: member.id, toId: successor.id, toName: successor.name }];
  }
  return [remove];
}

/** The healthy voter to hand leadership to: lowest ordinal first. */
function successorOf(
  seen: ClusterObservation,
  members: readonly MemberView[],
  leaving: MemberView,
): MemberView | undefined {
  return members
    .filter((m) => m.id !== leaving.id && m.healthy && !m.isLearner)
    .sort((a, b) =>
      (ordinalOf(seen.clusterName, a.name) ?? 0) - (ordinalOf(seen.clusterName, b.name) ?? 0)
    )[0];
}

/**
 * Down members whose peers were given a version no healthy member runs and that they never
 * reported (a mistyped version, now rolled back): re-creating them at spec.version is the way
 * out, and cannot lower the number of healthy members. Only when every down member is such a
 * peer. A member that is merely down at the version the others run is waited for, not upgraded.
 */
function planRollback(
  seen: ClusterObservation,
  unhealthy: readonly MemberView[],
): ClusterStep[] | undefined {
  const down = new Set(unhealthy.map((member) => member.id));
  const working = new Set(
    (seen.etcd.reachable ? seen.etcd.members : [])
      .filter((member) => !down.has(member.id) && member.healthy)
      .flatMap((member) => peerOf(seen, member)?.version ?? []),
  );
  const peers = unhealthy.map((member) => peerOf(seen, member));
  const stale = peers.filter((peer): peer is PeerView =>
    peer !== undefined && !peer.terminating && peer.version !== seen.version &&
    peer.serverVersion !== peer.version && !working.has(peer.version)
  );
  if (stale.length === 0 || stale.length !== unhealthy.length) return undefined;
  const victim = [...stale].sort((a, b) => b.ordinal - a.ordinal)[0];
  return [{
    kind: "replacePeer",
    peerName: victim.name,
    fromVersion: victim.version,
    toVersion: seen.version,
  }];
}

export interface UpgradeProgress {
  readonly target: string;
  /** Peers that run the target version and have reported it. */
  readonly upgraded: number;
  readonly total: number;
  readonly inProgress: boolean;
}

export function upgradeProgress(seen: ClusterObservation): UpgradeProgress {
  const live = livePeers(seen);
  const upgraded = live.filter((peer) =>
    peer.version === seen.version && peer.serverVersion === seen.version
  );
  const stale = live.some((peer) => peer.version !== seen.version);
  // A replaced peer is briefly absent: count against the desired size, or the upgrade would
  // look finished (and forget to announce its end) while its last member is being re-created.
  const total = Math.max(live.length, seen.replicas);
  return {
    target: seen.version,
    upgraded: upgraded.length,
    total,
    inProgress: stale || (seen.upgrading && upgraded.length < total),
  };
}

/**
 * A rolling upgrade, highest ordinal first: the peer is deleted and re-created at the new version
 * on the same volume (createMissingPeer re-creates it, since its member is still in etcd). The next
 * one waits until the replaced member reports the new version and every member is healthy again.
 */
function planUpgrade(
  seen: ClusterObservation,
  members: readonly MemberView[],
  leaderId: string | undefined,
): ClusterStep[] {
  const live = livePeers(seen);
  const stale = live.filter((peer) => peer.version !== seen.version).sort((a, b) =>
    b.ordinal - a.ordinal
  );
  const unreported = live.find((peer) =>
    peer.version === seen.version && peer.serverVersion !== seen.version
  );
  if (stale.length === 0) {
    if (!seen.upgrading) return [];
    if (unreported) {
      return [{
        kind: "wait",
        reason: `${unreported.name} has not reported etcd ${seen.version} yet`,
      }];
    }
    return [{ kind: "completeUpgrade", version: seen.version }];
  }
  if (unreported && stale.length < live.length) {
    return [{
      kind: "wait",
      reason: `${unreported.name} has not reported etcd ${seen.version} yet`,
    }];
  }
  const victim = stale[0];
  const member = members.find((m) => memberPeerName(seen.clusterName, m) === victim.name);
  if (member && member.id === leaderId && members.length > 1) {
    const upgradedNames = new Set(
      live.filter((peer) => peer.version === seen.version).map((peer) => peer.name),
    );
    const candidates = members
      .filter((m) => m.id !== member.id && m.healthy && !m.isLearner)
      .sort((a, b) =>
        Number(upgradedNames.has(b.name)) - Number(upgradedNames.has(a.name)) ||
        (ordinalOf(seen.clusterName, a.name) ?? 0) - (ordinalOf(seen.clusterName, b.name) ?? 0)
      );
    const successor = candidates[0];
    if (!successor) return [{ kind: "wait", reason: "no healthy member to hand leadership to" }];
    return [{ kind: "moveLeader", fromId: member.id, toId: successor.id, toName: successor.name }];
  }
  return [{
    kind: "replacePeer",
    peerName: victim.name,
    fromVersion: victim.version,
    toVersion: seen.version,
  }];
}

const livePeers = (seen: ClusterObservation) => seen.peers.filter((peer) => !peer.terminating);

/**
 * A new cluster: create every peer at once with the same static initial cluster. Also finishes
 * a bootstrap that a crash interrupted (some of the initial peers exist, the rest do not).
 *
 * The only paths to a "new" peer, both closed for good once the cluster has formed. Finishing an
 * interrupted bootstrap is safe while etcd has never answered: the missing members are part of
 * the same static initial cluster, so they join it (as etcd's late starters do) rather than form
 * another, and no membership change can have happened yet, since every change comes after the
 * formation is recorded.
 */
function planBootstrap(seen: ClusterObservation): ClusterStep[] | undefined {
  if (seen.formed) return undefined;
  // Once etcd answers, it has formed (recordFormed), and its member list says who is missing.
  if (seen.etcd.reachable) return undefined;
  if (seen.peers.length === 0) {
    const names = Array.from({ length: seen.replicas }, (_, i) => peerName(seen.clusterName, i));
    return [{
      kind: "createPeers",
      peers: names.map((name) => newPeer(seen, name, "New", names, false)),
    }];
  }
  const bootstrapping = seen.peers.filter((peer) => peer.initialClusterState === "New");
  if (bootstrapping.length === 0 || bootstrapping.length !== seen.peers.length) return undefined;
  const initial = bootstrapping[0].initialCluster;
  const sameInitialCluster = bootstrapping.every((peer) =>
    peer.initialCluster.length === initial.length &&
    peer.initialCluster.every((name) => initial.includes(name))
  );
  if (!sameInitialCluster) {
    return [{
      kind: "wait",
      reason: "the peers disagree on the initial cluster: not bootstrapping",
    }];
  }
  const existing = new Set(seen.peers.map((peer) => peer.name));
  const missing = initial.filter((name) => !existing.has(name));
  if (missing.length === 0) return undefined;
  return [{
    kind: "createPeers",
    peers: missing.map((name) => newPeer(seen, name, "New", initial, false)),
  }];
}

function newPeer(
  seen: ClusterObservation,
  name: string,
  state: "New" | "Existing",
  initialNames: readonly string[],
  dataExists: boolean,
): NewPeer {
  return {
    name,
    initialClusterState: state,
    dataExists,
    initialCluster: initialNames.map((member) => ({
      name: member,
      host: peerHost(seen.clusterName, seen.namespace, member),
    })),
  };
}

/**
 * etcd cannot be asked. A member the last status listed whose peer is missing (the only member of
 * a one-member cluster, replaced for an upgrade) comes back as "existing" on its kept volume: it
 * rejoins the cluster it belongs to and cannot start another. Anything else waits for etcd.
 */
function planUnreachable(seen: ClusterObservation, reason: string): ClusterStep[] {
  const peerNames = new Set(seen.peers.map((peer) => peer.name));
  const missing = seen.knownMembers.filter((name) => !peerNames.has(name));
  if (seen.formed && missing.length > 0) {
    return [{
      kind: "createPeers",
      peers: missing.map((name) => newPeer(seen, name, "Existing", seen.knownMembers, true)),
    }];
  }
  if (seen.formed && seen.peers.length === 0) {
    const id = seen.formed.clusterId ? ` (cluster id ${seen.formed.clusterId})` : "";
    return [{
      kind: "wait",
      reason: `the cluster has formed${id} but none of its peers or known members exist: the ` +
        `operator will not bootstrap a second cluster; restore it from a backup into a new EtcdCluster`,
    }];
  }
  return [{ kind: "wait", reason: `etcd is unreachable: ${reason}` }];
}

/**
 * The second half of adding a member (scale-up adds it to etcd first) and of an upgrade (the
 * peer is deleted, its member stays): a member in etcd without a peer gets one, joining the
 * existing cluster. A member that has run (it has a name) keeps its data on the kept volume.
 */
function createMissingPeer(
  seen: ClusterObservation,
  members: readonly MemberView[],
): ClusterStep[] | undefined {
  const peerNames = new Set(seen.peers.map((peer) => peer.name));
  const names = members.flatMap((m) => memberPeerName(seen.clusterName, m) ?? []);
  for (const member of members) {
    const name = memberPeerName(seen.clusterName, member);
    if (name && !peerNames.has(name)) {
      return [{
        kind: "createPeers",
        peers: [newPeer(seen, name, "Existing", names, member.name !== "")],
      }];
    }
  }
  return undefined;
}

function planLearner(seen: ClusterObservation, learner: MemberView): ClusterStep[] {
  const name = memberPeerName(seen.clusterName, learner) ?? learner.id;
  if (!learner.healthy) return [{ kind: "wait", reason: `learner ${name} is catching up` }];
  return [{ kind: "promote", memberId: learner.id, peerName: name }];
}

/** Adds the lowest free ordinal as a learner; its peer is created on the next pass (createMissingPeer). */
function planScaleUp(seen: ClusterObservation): ClusterStep {
  const used = new Set(seen.peers.map((peer) => peer.ordinal));
  let ordinal = 0;
  while (used.has(ordinal)) ordinal++;
  const name = peerName(seen.clusterName, ordinal);
  return {
    kind: "addLearner",
    peerName: name,
    peerURL: peerURL(seen.clusterName, seen.namespace, name, seen.peerScheme),
  };
}

/**
 * Removes one member: a learner first (stuck or not, it is not a voter), then a member that is
 * down, then the highest ordinal (c-10 before c-9), moving leadership away from it first. So a
 * healthy voter is only ever removed once no voter is down: removing it could cost quorum.
 */
function planScaleDown(
  seen: ClusterObservation,
  members: readonly MemberView[],
  leaderId: string | undefined,
): ClusterStep[] {
  const memberOf = (peer: PeerView) =>
    members.find((m) => memberPeerName(seen.clusterName, m) === peer.name);
  const rank = (peer: PeerView) => {
    const member = memberOf(peer);
    if (!member || member.isLearner) return 0;
    return member.healthy ? 2 : 1;
  };
  const victim = [...livePeers(seen)].sort((a, b) => rank(a) - rank(b) || b.ordinal - a.ordinal)[0];
  const member = memberOf(victim);
  if (!member) return [{ kind: "deletePeer", peerName: victim.name, deleteVolume: true }];
  if (member.id === leaderId && members.length > 1) {
    const successor = successorOf(seen, members, member);
    if (!successor) return [{ kind: "wait", reason: "no healthy member to hand leadership to" }];
    return [{ kind: "moveLeader", fromId: member.id, toId: successor.id, toName: successor.name }];
  }
  return [{ kind: "removeMember", memberId: member.id, peerName: victim.name }];
}
