// The cluster actor's brain: from what it observed, the next steps towards spec.replicas. Pure.
//
// Membership changes are one at a time and only when every member is healthy, so a failed step
// never costs quorum; each step is idempotent, so a crash between any two steps is harmless.

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
}

export interface MemberView {
  readonly id: string;
  /** Empty until a learner's process has started and published its name. */
  readonly name: string;
  readonly peerURL: string;
  readonly isLearner: boolean;
  readonly healthy: boolean;
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
}

export interface InitialMember {
  readonly name: string;
  readonly host: string;
}

export interface NewPeer {
  readonly name: string;
  readonly initialClusterState: "New" | "Existing";
  readonly initialCluster: readonly InitialMember[];
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
  | { readonly kind: "removeMember"; readonly memberId: string; readonly peerName: string }
  | { readonly kind: "deletePeer"; readonly peerName: string; readonly deleteVolume: boolean }
  | {
    readonly kind: "replacePeer";
    readonly peerName: string;
    readonly fromVersion: string;
    readonly toVersion: string;
  }
  | { readonly kind: "completeUpgrade"; readonly version: string }
  | { readonly kind: "wait"; readonly reason: string };

/** Steps that change etcd membership or remove a member's data: at most one per pass. */
export function isDisruptive(step: ClusterStep): boolean {
  return ["addLearner", "promote", "moveLeader", "removeMember", "deletePeer", "replacePeer"]
    .includes(step.kind);
}

export const peerName = (clusterName: string, ordinal: number) => `${clusterName}-${ordinal}`;

export function peerHost(clusterName: string, namespace: string, name: string): string {
  return `${name}.${clusterName}.${namespace}.svc`;
}

export const peerURL = (host: string) => `http://${host}:2380`;

/** The ordinal of a peer named `<cluster>-<n>`; undefined for names the operator did not make. */
export function ordinalOf(clusterName: string, name: string): number | undefined {
  const suffix = name.slice(clusterName.length + 1);
  if (!name.startsWith(`${clusterName}-`) || !/^(0|[1-9]\d*)$/.test(suffix)) return undefined;
  return Number(suffix);
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
  const recovery = planRecovery(seen, members);
  if (recovery) return recovery;
  const unhealthy = members.filter((member) => !member.healthy && !member.isLearner);
  if (unhealthy.length > 0) {
    const names = unhealthy.map((member) => member.name || member.id).join(", ");
    return [{ kind: "wait", reason: `members not healthy: ${names}` }];
  }
  const learner = members.find((member) => member.isLearner);
  if (learner) return planLearner(seen, learner);
  const live = livePeers(seen);
  if (live.length < seen.replicas) return [planScaleUp(seen)];
  if (live.length > seen.replicas) return planScaleDown(seen, members, leaderId);
  return planUpgrade(seen, members, leaderId);
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
 * on the same volume (planRecovery re-creates it, since its member is still in etcd). The next
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
  const member = members.find((m) => (m.name || nameFromPeerURL(seen, m.peerURL)) === victim.name);
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
    return [{ kind: "createPeers", peers: names.map((name) => newPeer(seen, name, "New", names)) }];
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
    peers: missing.map((name) => newPeer(seen, name, "New", initial)),
  }];
}

function newPeer(
  seen: ClusterObservation,
  name: string,
  state: "New" | "Existing",
  initialNames: readonly string[],
): NewPeer {
  return {
    name,
    initialClusterState: state,
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
      peers: missing.map((name) => newPeer(seen, name, "Existing", seen.knownMembers)),
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
 * Repairs a step a crash cut in half: a member added to etcd whose peer was never created, or a
 * member removed from etcd whose peer is still there.
 */
function planRecovery(
  seen: ClusterObservation,
  members: readonly MemberView[],
): ClusterStep[] | undefined {
  const peerNames = new Set(seen.peers.map((peer) => peer.name));
  for (const member of members) {
    const name = member.name || nameFromPeerURL(seen, member.peerURL);
    if (name && !peerNames.has(name)) {
      const names = members.map((m) => m.name || nameFromPeerURL(seen, m.peerURL) || "").filter(
        Boolean,
      );
      return [{ kind: "createPeers", peers: [newPeer(seen, name, "Existing", names)] }];
    }
  }
  return undefined;
}

/** Member names are peer names; a learner that never started has only its peer URL. */
function nameFromPeerURL(seen: ClusterObservation, url: string): string | undefined {
  const match = /^https?:\/\/([^.:/]+)\./.exec(url);
  if (!match || ordinalOf(seen.clusterName, match[1]) === undefined) return undefined;
  return match[1];
}

function planLearner(seen: ClusterObservation, learner: MemberView): ClusterStep[] {
  const name = learner.name || nameFromPeerURL(seen, learner.peerURL) || learner.id;
  if (!learner.healthy) return [{ kind: "wait", reason: `learner ${name} is catching up` }];
  return [{ kind: "promote", memberId: learner.id, peerName: name }];
}

/** Adds the lowest free ordinal as a learner; its peer is created on the next pass (planRecovery). */
function planScaleUp(seen: ClusterObservation): ClusterStep {
  const used = new Set(seen.peers.map((peer) => peer.ordinal));
  let ordinal = 0;
  while (used.has(ordinal)) ordinal++;
  const name = peerName(seen.clusterName, ordinal);
  return {
    kind: "addLearner",
    peerName: name,
    peerURL: peerURL(peerHost(seen.clusterName, seen.namespace, name)),
  };
}

/** Removes the highest ordinal first (c-10 before c-9), moving leadership away from it first. */
function planScaleDown(
  seen: ClusterObservation,
  members: readonly MemberView[],
  leaderId: string | undefined,
): ClusterStep[] {
  const victim = [...livePeers(seen)].sort((a, b) => b.ordinal - a.ordinal)[0];
  const member = members.find((m) => (m.name || nameFromPeerURL(seen, m.peerURL)) === victim.name);
  if (!member) return [{ kind: "deletePeer", peerName: victim.name, deleteVolume: true }];
  if (member.id === leaderId) {
    const successor = members
      .filter((m) => m.id !== member.id && m.healthy && !m.isLearner)
      .sort((a, b) =>
        (ordinalOf(seen.clusterName, a.name) ?? 0) - (ordinalOf(seen.clusterName, b.name) ?? 0)
      )[0];
    if (!successor) return [{ kind: "wait", reason: "no healthy member to hand leadership to" }];
    return [{ kind: "moveLeader", fromId: member.id, toId: successor.id, toName: successor.name }];
  }
  return [{ kind: "removeMember", memberId: member.id, peerName: victim.name }];
}
