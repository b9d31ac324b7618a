// How a pass combines the cluster's steps with its certificates' steps. Pure.
//
// Secret writes disturb no running member, and a member must find its Secrets before its pod
// starts: they come first, and the pass ends after them (the next pass reads them back). A member
// restart or a CA phase is disruptive: only on a cluster with nothing else to do (no scaling, no
// upgrade, no repair), one at a time, and the leader's restart becomes a moveLeader first.
import { memberPeerName, ordinalOf } from "../member.ts";
import type { MemberInput } from "../tls/observe.ts";
import type { TLSStep } from "../tls/plan.ts";
import type { ClusterObservation, ClusterStep } from "./plan.ts";

export type PassPlan =
  /** Write these Secrets, then look again. */
  | { readonly kind: "secrets"; readonly steps: readonly TLSStep[] }
  /** The cluster's own steps, as planned (a TLS reason to hold back new members folded in). */
  | { readonly kind: "cluster"; readonly steps: readonly ClusterStep[] }
  /** One member restart or CA phase (the cluster has nothing else to do). */
  | { readonly kind: "roll"; readonly step: TLSStep };

const secretWrites: readonly TLSStep["kind"][] = [
  "issueCA",
  "startCARotation",
  "issueLeaf",
  "updateTrust",
];

const addsMember = (step: ClusterStep) => step.kind === "createPeers" || step.kind === "addLearner";

/**
 * `blockingProblems`: why new members may not start yet (a user-provided Secret missing or not
 * naming them); they would start on material that cuts them off.
 */
export function planPass(
  seen: ClusterObservation,
  clusterSteps: readonly ClusterStep[],
  tlsSteps: readonly TLSStep[],
  blockingProblems: readonly string[] = [],
): PassPlan {
  const writes = tlsSteps.filter((step) => secretWrites.includes(step.kind));
  if (writes.length > 0) return { kind: "secrets", steps: writes };
  if (blockingProblems.length > 0 && clusterSteps.some(addsMember)) {
    const kept = clusterSteps.filter((step) => !addsMember(step));
    return {
      kind: "cluster",
      steps: [...kept, {
        kind: "wait",
        reason: `no new member until its TLS Secrets are usable: ${blockingProblems.join("; ")}`,
      }],
    };
  }
  if (clusterSteps.length > 0) return { kind: "cluster", steps: clusterSteps };
  const roll = tlsSteps.find((step) => step.kind !== "wait");
  if (!roll) {
    return { kind: "cluster", steps: tlsSteps.filter((step) => step.kind === "wait") };
  }
  if (roll.kind === "restartMember" && roll.moveLeaderFirst) {
    return { kind: "cluster", steps: [moveLeaderOff(seen, roll.peerName)] };
  }
  return { kind: "roll", step: roll };
}

/** Leadership to the healthy voter with the lowest ordinal before the leader restarts. */
function moveLeaderOff(seen: ClusterObservation, peerName: string): ClusterStep {
  if (!seen.etcd.reachable) return { kind: "wait", reason: "etcd is unreachable" };
  const { members, leaderId } = seen.etcd;
  const leader = members.find((member) => member.id === leaderId);
  const successor = members
    .filter((member) =>
      member.id !== leaderId && member.healthy && !member.isLearner &&
      memberPeerName(seen.clusterName, member) !== peerName
    )
    .sort((a, b) =>
      (ordinalOf(seen.clusterName, a.name) ?? 0) - (ordinalOf(seen.clusterName, b.name) ?? 0)
    )[0];
  if (!leader || !successor) {
    return {
      kind: "wait",
      reason: `no healthy member to hand leadership to before ${peerName} restarts`,
    };
  }
  return { kind: "moveLeader", fromId: leader.id, toId: successor.id, toName: successor.name };
}

/**
 * The members whose certificates the cluster needs: every live peer, every peer this pass is about
 * to create (its Secrets must exist before its pod starts), and every etcd member (a learner whose
 * peer comes next, a member whose peer is being replaced for an upgrade).
 */
export function tlsMembers(
  seen: ClusterObservation,
  clusterSteps: readonly ClusterStep[],
  runningDigest: (peerName: string) => string | undefined,
): MemberInput[] {
  const names = new Set<string>();
  for (const peer of seen.peers) if (!peer.terminating) names.add(peer.name);
  for (const step of clusterSteps) {
    if (step.kind === "createPeers") { for (const peer of step.peers) names.add(peer.name); }
    if (step.kind === "addLearner") names.add(step.peerName);
  }
  const members = seen.etcd.reachable ? seen.etcd.members : [];
  for (const member of members) {
    const name = memberPeerName(seen.clusterName, member);
    if (name) names.add(name);
  }
  const leaderId = seen.etcd.reachable ? seen.etcd.leaderId : undefined;
  return [...names].sort((a, b) =>
    (ordinalOf(seen.clusterName, a) ?? 0) - (ordinalOf(seen.clusterName, b) ?? 0)
  ).map((peerName) => {
    const member = members.find((candidate) =>
      memberPeerName(seen.clusterName, candidate) === peerName
    );
    const digest = runningDigest(peerName);
    return {
      peerName,
      leader: member !== undefined && member.id === leaderId,
      healthy: member?.healthy ?? false,
      ...(digest !== undefined ? { runningDigest: digest } : {}),
    };
  });
}
