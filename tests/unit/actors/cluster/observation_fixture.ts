// A three-member cluster as the planner sees it, healthy, for tests to change one thing of.
import type { ClusterObservation, MemberView, PeerView } from "../../../../actors/cluster/plan.ts";

export const fixtureNowMs = Date.parse("2026-12-03T00:00:00Z");

/** Peer `c-<ordinal>` running etcd `version`, on its volume; `overrides` replace fields. */
export function runningPeer(
  ordinal: number,
  version = "3.5.21",
  overrides: Partial<PeerView> = {},
): PeerView {
  return {
    name: `c-${ordinal}`,
    ordinal,
    initialClusterState: "New",
    initialCluster: ["c-0", "c-1", "c-2"],
    terminating: false,
    version,
    serverVersion: version,
    volume: { kind: "present", uid: `v${ordinal}`, recorded: true },
    pod: { phase: "Running", terminating: false, etcd: { running: true, restarts: 0 } },
    ...overrides,
  };
}

export function healthyMember(ordinal: number): MemberView {
  return {
    id: `id${ordinal}`,
    name: `c-${ordinal}`,
    peerURL: `http://c-${ordinal}.c.ns.svc:2380`,
    isLearner: false,
    healthy: true,
  };
}

/** Cluster `c` of three healthy 3.5.21 members, formed, at `fixtureNowMs`, with `overrides`. */
export function observation(overrides: Partial<ClusterObservation> = {}): ClusterObservation {
  return {
    clusterName: "c",
    namespace: "ns",
    replicas: 3,
    version: "3.5.21",
    serviceExists: true,
    disruptionBudget: { minAvailable: 2 },
    peers: [runningPeer(0), runningPeer(1), runningPeer(2)],
    etcd: {
      reachable: true,
      members: [healthyMember(0), healthyMember(1), healthyMember(2)],
      leaderId: "id0",
    },
    formed: { clusterId: "cafe" },
    knownMembers: ["c-0", "c-1", "c-2"],
    upgrading: false,
    nowMs: fixtureNowMs,
    replaceAfterMs: 300_000,
    ...overrides,
  };
}
