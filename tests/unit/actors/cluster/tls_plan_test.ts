// How a pass combines the cluster's steps with the certificates' steps, as tables.
import assert from "node:assert/strict";
import type {
  ClusterObservation,
  ClusterStep,
  MemberView,
  PeerView,
} from "../../../../actors/cluster/plan.ts";
import { type PassPlan, planPass, tlsMembers } from "../../../../actors/cluster/tls_plan.ts";
import type { TLSStep } from "../../../../actors/tls/plan.ts";

function peer(ordinal: number, overrides: Partial<PeerView> = {}): PeerView {
  return {
    name: `c-${ordinal}`,
    ordinal,
    initialClusterState: "New",
    initialCluster: ["c-0", "c-1", "c-2"],
    terminating: false,
    version: "3.5.21",
    serverVersion: "3.5.21",
    volume: { kind: "present", uid: `v${ordinal}`, recorded: true },
    pod: { phase: "Running", terminating: false, etcd: { running: true, restarts: 0 } },
    ...overrides,
  };
}

function member(ordinal: number, overrides: Partial<MemberView> = {}): MemberView {
  return {
    id: `id${ordinal}`,
    name: `c-${ordinal}`,
    peerURL: `https://c-${ordinal}.c.ns.svc:2380`,
    isLearner: false,
    healthy: true,
    ...overrides,
  };
}

const seen: ClusterObservation = {
  clusterName: "c",
  namespace: "ns",
  replicas: 3,
  peerScheme: "https",
  version: "3.5.21",
  serviceExists: true,
  disruptionBudget: { minAvailable: 2 },
  peers: [peer(0), peer(1), peer(2)],
  etcd: { reachable: true, members: [member(0), member(1), member(2)], leaderId: "id0" },
  formed: { clusterId: "cafe" },
  knownMembers: ["c-0", "c-1", "c-2"],
  upgrading: false,
  nowMs: 0,
  replaceAfterMs: 300_000,
};

const issue = (secretName: string): TLSStep => ({
  kind: "issueLeaf",
  reason: "it is missing or unreadable",
  issue: {
    secretName,
    role: "member",
    subject: { commonName: secretName },
    profile: { kind: "member", dnsNames: [] },
    notBefore: new Date(0),
    notAfter: new Date(1),
  },
});
const restart = (peerName: string, moveLeaderFirst = false): TLSStep => ({
  kind: "restartMember",
  peerName,
  digest: "d",
  moveLeaderFirst,
  reason: "its TLS Secrets changed",
});
const createPeer: ClusterStep = {
  kind: "createPeers",
  peers: [{ name: "c-3", initialClusterState: "Existing", initialCluster: [], dataExists: false }],
};
const addLearner: ClusterStep = {
  kind: "addLearner",
  peerName: "c-3",
  peerURL: "https://c-3.c.ns.svc:2380",
};
const budget: ClusterStep = { kind: "applyDisruptionBudget", minAvailable: 3 };

/** A pass plan in a word or two per step. */
function summary(plan: PassPlan): string {
  const describe = (step: TLSStep | ClusterStep) =>
    step.kind === "wait"
      ? `wait (${step.reason.slice(0, 40)})`
      : step.kind === "issueLeaf"
      ? `issueLeaf ${step.issue.secretName}`
      : step.kind === "restartMember"
      ? `restart ${step.peerName}`
      : step.kind === "moveLeader"
      ? `moveLeader ${step.fromId}>${step.toId}`
      : step.kind;
  return plan.kind === "roll"
    ? `roll: ${describe(plan.step)}`
    : `${plan.kind}: ${plan.steps.map(describe).join(", ")}`;
}

const table: [string, ClusterStep[], TLSStep[], string[], string][] = [
  ["nothing to do", [], [], [], "cluster: "],
  [
    "Secret writes come first and alone, whatever the cluster has to do",
    [addLearner],
    [issue("c-3-tls"), restart("c-2")],
    [],
    "secrets: issueLeaf c-3-tls",
  ],
  [
    "the cluster's steps come before any restart",
    [budget],
    [restart("c-2")],
    [],
    "cluster: applyDisruptionBudget",
  ],
  [
    "a restart on a cluster with nothing else to do",
    [],
    [restart("c-2")],
    [],
    "roll: restart c-2",
  ],
  [
    "the leader's restart is a moveLeader first, to the healthy voter with the lowest ordinal",
    [],
    [restart("c-0", true)],
    [],
    "cluster: moveLeader id0>id1",
  ],
  [
    "a CA phase runs only when the cluster has nothing else to do",
    [],
    [{ kind: "promoteNextCA" }],
    [],
    "roll: promoteNextCA",
  ],
  [
    "a user-provided Secret that does not name a new member holds back the new member only",
    [budget, createPeer],
    [],
    ["the certificate in Secret server does not name c-3.c.ns.svc"],
    "cluster: applyDisruptionBudget, wait (no new member until its TLS Secrets are )",
  ],
  [
    "the same problem does not hold back a scale-down or a repair",
    [{ kind: "removeMember", memberId: "id2", peerName: "c-2" }],
    [],
    ["Secret server is missing or holds no readable tls.crt"],
    "cluster: removeMember",
  ],
  [
    "a TLS wait on a converged cluster is what the pass says",
    [],
    [{ kind: "wait", reason: "members c-1 need a restart, which waits" }],
    [],
    "cluster: wait (members c-1 need a restart, which waits)",
  ],
];

for (const [name, clusterSteps, tlsSteps, problems, expected] of table) {
  Deno.test(`TLS pass: ${name}`, () => {
    assert.equal(summary(planPass(seen, clusterSteps, tlsSteps, problems)), expected);
  });
}

Deno.test("TLS members: live peers, peers about to be created or added, and etcd members, with their health and running digest", () => {
  const members = tlsMembers(
    {
      ...seen,
      peers: [peer(0), peer(1), peer(2, { terminating: true })],
      etcd: {
        reachable: true,
        // c-4's peer is being replaced for an upgrade: its member stays and so does its Secret.
        members: [member(0), member(1, { healthy: false }), member(4)],
        leaderId: "id4",
      },
    },
    [addLearner],
    (peerName) => peerName === "c-0" ? "d0" : undefined,
  );
  assert.deepEqual(members, [
    { peerName: "c-0", leader: false, healthy: true, runningDigest: "d0" },
    { peerName: "c-1", leader: false, healthy: false },
    { peerName: "c-3", leader: false, healthy: false },
    { peerName: "c-4", leader: true, healthy: true },
  ]);
});
