// The cluster planner as data: observations in, steps out.
import assert from "node:assert/strict";
import {
  type ClusterObservation,
  type MemberView,
  type PeerView,
  planCluster,
  quorum,
} from "../../../../actors/cluster/plan.ts";
import { ordinalOf } from "../../../../actors/member.ts";
import type { PodView } from "../../../../actors/cluster/diagnose.ts";

/** A member's pod that runs etcd. */
const runningPod: PodView = {
  phase: "Running",
  terminating: false,
  etcd: { running: true, restarts: 0 },
};

const names = (count: number, cluster = "c") =>
  Array.from({ length: count }, (_, i) => `${cluster}-${i}`);

function peer(ordinal: number, overrides: Partial<PeerView> = {}): PeerView {
  return {
    name: `c-${ordinal}`,
    ordinal,
    initialClusterState: "New",
    initialCluster: names(3),
    terminating: false,
    version: "3.4.23",
    serverVersion: "3.4.23",
    volume: { kind: "present", uid: `v${ordinal}`, recorded: true },
    pod: runningPod,
    ...overrides,
  };
}

function member(ordinal: number, overrides: Partial<MemberView> = {}): MemberView {
  return {
    id: `id${ordinal}`,
    name: `c-${ordinal}`,
    peerURL: `http://c-${ordinal}.c.ns.svc:2380`,
    isLearner: false,
    healthy: true,
    ...overrides,
  };
}

function observe(overrides: Partial<ClusterObservation> = {}): ClusterObservation {
  return {
    clusterName: "c",
    namespace: "ns",
    replicas: 3,
    version: "3.4.23",
    serviceExists: true,
    disruptionBudget: { minAvailable: 2 },
    peers: [peer(0), peer(1), peer(2)],
    etcd: { reachable: true, members: [member(0), member(1), member(2)], leaderId: "id0" },
    formed: { clusterId: "cafe" },
    knownMembers: ["c-0", "c-1", "c-2"],
    upgrading: false,
    nowMs: Date.parse("2026-12-03T00:00:00Z"),
    replaceAfterMs: 300_000,
    ...overrides,
  };
}

const membership = (seen: ClusterObservation) =>
  planCluster(seen).filter((step) =>
    step.kind !== "createService" && step.kind !== "applyDisruptionBudget"
  );

Deno.test("a new cluster gets its service and every peer at once, bootstrapped New with the same initial cluster", () => {
  const steps = planCluster(
    observe({
      serviceExists: false,
      disruptionBudget: undefined,
      peers: [],
      etcd: { reachable: false, reason: "no members" },
      formed: undefined,
    }),
  );
  assert.deepEqual(steps[0], { kind: "createService" });
  assert.equal(steps[1].kind, "createPeers");
  if (steps[1].kind !== "createPeers") return;
  assert.deepEqual(steps[1].peers.map((p) => p.name), ["c-0", "c-1", "c-2"]);
  for (const created of steps[1].peers) {
    assert.equal(created.initialClusterState, "New");
    assert.deepEqual(created.initialCluster, [
      { name: "c-0", host: "c-0.c.ns.svc" },
      { name: "c-1", host: "c-1.c.ns.svc" },
      { name: "c-2", host: "c-2.c.ns.svc" },
    ]);
  }
});

Deno.test("a bootstrap cut short by a crash creates only the missing initial peers", () => {
  const steps = membership(
    observe({
      peers: [peer(0), peer(2)],
      etcd: { reachable: false, reason: "dial timeout" },
      formed: undefined,
    }),
  );
  assert.equal(steps.length, 1);
  assert.equal(steps[0].kind, "createPeers");
  if (steps[0].kind !== "createPeers") return;
  assert.deepEqual(steps[0].peers.map((p) => [p.name, p.initialClusterState]), [["c-1", "New"]]);
});

Deno.test("a converged cluster needs nothing", () => {
  assert.deepEqual(planCluster(observe()), []);
});

Deno.test("the disruption budget keeps a quorum of the current peers", () => {
  assert.deepEqual(planCluster(observe({ disruptionBudget: undefined })), [{
    kind: "applyDisruptionBudget",
    minAvailable: 2,
  }]);
  assert.deepEqual([1, 2, 3, 4, 5].map(quorum), [1, 2, 2, 3, 3]);
});

Deno.test("scale up adds the next member as a learner before its peer exists", () => {
  assert.deepEqual(membership(observe({ replicas: 4 })), [
    { kind: "addLearner", peerName: "c-3", peerURL: "http://c-3.c.ns.svc:2380" },
  ]);
});

Deno.test("after the learner is added its peer is created to join the existing cluster", () => {
  const learner = member(3, { name: "", isLearner: true, healthy: false });
  const steps = membership(
    observe({
      replicas: 4,
      etcd: {
        reachable: true,
        members: [member(0), member(1), member(2), learner],
        leaderId: "id0",
      },
    }),
  );
  assert.equal(steps.length, 1);
  assert.equal(steps[0].kind, "createPeers");
  if (steps[0].kind !== "createPeers") return;
  assert.equal(steps[0].peers[0].name, "c-3");
  assert.equal(steps[0].peers[0].initialClusterState, "Existing");
  assert.deepEqual(steps[0].peers[0].initialCluster.map((m) => m.name), [
    "c-0",
    "c-1",
    "c-2",
    "c-3",
  ]);
});

Deno.test("scale up waits while the learner catches up, then promotes it", () => {
  const peers = [peer(0), peer(1), peer(2), peer(3, { initialClusterState: "Existing" })];
  const catchingUp = member(3, { isLearner: true, healthy: false });
  assert.deepEqual(
    membership(
      observe({
        replicas: 4,
        peers,
        etcd: {
          reachable: true,
          members: [member(0), member(1), member(2), catchingUp],
          leaderId: "id0",
        },
      }),
    ),
    [
      { kind: "wait", reason: "learner c-3 is catching up" },
    ],
  );
  const caughtUp = member(3, { isLearner: true, healthy: true });
  assert.deepEqual(
    membership(
      observe({
        replicas: 4,
        peers,
        etcd: {
          reachable: true,
          members: [member(0), member(1), member(2), caughtUp],
          leaderId: "id0",
        },
      }),
    ),
    [
      { kind: "promote", memberId: "id3", peerName: "c-3" },
    ],
  );
});

Deno.test("an unhealthy member blocks every change but the way out: scaling down removes it first", () => {
  const members = [member(0), member(1, { healthy: false }), member(2)];
  const cases: [number, unknown][] = [
    [1, [{ kind: "removeMember", memberId: "id1", peerName: "c-1" }]],
    [2, [{ kind: "removeMember", memberId: "id1", peerName: "c-1" }]],
    [3, [{ kind: "wait", reason: "members not healthy: c-1" }]],
    [5, [{ kind: "wait", reason: "members not healthy: c-1" }]],
  ];
  for (const [replicas, expected] of cases) {
    assert.deepEqual(
      membership(observe({ replicas, etcd: { reachable: true, members, leaderId: "id0" } })),
      expected,
      `replicas ${replicas}`,
    );
  }
});

Deno.test("an unreachable cluster is waited for, not changed", () => {
  const steps = membership(
    observe({ replicas: 5, etcd: { reachable: false, reason: "deadline exceeded" } }),
  );
  assert.deepEqual(steps, [{ kind: "wait", reason: "etcd is unreachable: deadline exceeded" }]);
});

Deno.test("scale down moves leadership off the highest member first", () => {
  assert.deepEqual(
    membership(
      observe({
        replicas: 2,
        etcd: { reachable: true, members: [member(0), member(1), member(2)], leaderId: "id2" },
      }),
    ),
    [
      { kind: "moveLeader", fromId: "id2", toId: "id0", toName: "c-0" },
    ],
  );
});

Deno.test("scale down removes the highest member from etcd, then deletes its peer and volume", () => {
  assert.deepEqual(membership(observe({ replicas: 2 })), [{
    kind: "removeMember",
    memberId: "id2",
    peerName: "c-2",
  }]);
  const removed = observe({
    replicas: 2,
    etcd: { reachable: true, members: [member(0), member(1)], leaderId: "id0" },
  });
  assert.deepEqual(membership(removed), [{
    kind: "deletePeer",
    peerName: "c-2",
    deleteVolume: true,
  }]);
});

Deno.test("scale down orders ordinals numerically: c-10 goes before c-9", () => {
  const ordinals = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const peers = ordinals.map((i) => peer(i, { initialCluster: names(11) }));
  const members = ordinals.map((i) => member(i));
  const steps = membership(
    observe({ replicas: 9, peers, etcd: { reachable: true, members, leaderId: "id0" } }),
  );
  assert.deepEqual(steps, [{ kind: "removeMember", memberId: "id10", peerName: "c-10" }]);
});

Deno.test("a member added just before a crash gets its peer back", () => {
  const steps = membership(
    observe({
      peers: [peer(0), peer(1)],
      etcd: { reachable: true, members: [member(0), member(1), member(2)], leaderId: "id0" },
    }),
  );
  assert.equal(steps[0].kind, "createPeers");
});

Deno.test("ordinals are read only from names the operator makes", () => {
  assert.equal(ordinalOf("c", "c-10"), 10);
  assert.equal(ordinalOf("c", "c-0"), 0);
  assert.equal(ordinalOf("c", "c-01"), undefined);
  assert.equal(ordinalOf("c", "cc-1"), undefined);
  assert.equal(ordinalOf("c", "c-x"), undefined);
});

Deno.test("a cluster that has formed never bootstraps a missing peer as new, even while etcd is unreachable", () => {
  // After 3 → 1 the survivor still carries the original three-member bootstrap.
  const survivor = [peer(0)];
  const unreachable = { reachable: false as const, reason: "deadline exceeded" };
  assert.deepEqual(
    membership(observe({ replicas: 1, knownMembers: ["c-0"], peers: survivor, etcd: unreachable })),
    [
      { kind: "wait", reason: "etcd is unreachable: deadline exceeded" },
    ],
  );
  const reachable = { reachable: true as const, members: [member(0)], leaderId: "id0" };
  assert.deepEqual(membership(observe({ replicas: 1, peers: survivor, etcd: reachable })), []);
});

const upgrade = (overrides: Partial<ClusterObservation> = {}) =>
  observe({ version: "3.5.21", upgrading: true, ...overrides });
const atNew = (ordinal: number, reported = true) =>
  peer(ordinal, {
    version: "3.5.21",
    serverVersion: reported ? "3.5.21" : undefined,
    initialClusterState: "Existing",
  });

Deno.test("an upgrade replaces the highest ordinal first, keeping its volume", () => {
  assert.deepEqual(membership(upgrade({ upgrading: false })), [
    { kind: "replacePeer", peerName: "c-2", fromVersion: "3.4.23", toVersion: "3.5.21" },
  ]);
});

Deno.test("an upgrade moves leadership off the member it is about to replace, preferring upgraded members", () => {
  const members = {
    reachable: true as const,
    members: [member(0), member(1), member(2)],
    leaderId: "id1",
  };
  const steps = membership(upgrade({ peers: [peer(0), peer(1), atNew(2)], etcd: members }));
  assert.deepEqual(steps, [{ kind: "moveLeader", fromId: "id1", toId: "id2", toName: "c-2" }]);
});

Deno.test("an upgrade waits for the replaced member to report the new version before the next", () => {
  assert.deepEqual(membership(upgrade({ peers: [peer(0), peer(1), atNew(2, false)] })), [
    { kind: "wait", reason: "c-2 has not reported etcd 3.5.21 yet" },
  ]);
  assert.deepEqual(membership(upgrade({ peers: [peer(0), peer(1), atNew(2)] })), [
    { kind: "replacePeer", peerName: "c-1", fromVersion: "3.4.23", toVersion: "3.5.21" },
  ]);
});

Deno.test("an upgrade does not start while a member is unhealthy", () => {
  const sick = {
    reachable: true as const,
    members: [member(0), member(1, { healthy: false }), member(2)],
    leaderId: "id0",
  };
  assert.deepEqual(membership(upgrade({ upgrading: false, etcd: sick })), [
    { kind: "wait", reason: "members not healthy: c-1" },
  ]);
});

Deno.test("an upgrade resumes after a restart from a mixed-version cluster", () => {
  // The operator died after replacing c-2 and c-1: only c-0 is left, and c-1 leads.
  const leaderOne = {
    reachable: true as const,
    members: [member(0), member(1), member(2)],
    leaderId: "id1",
  };
  assert.deepEqual(membership(upgrade({ peers: [peer(0), atNew(1), atNew(2)], etcd: leaderOne })), [
    { kind: "replacePeer", peerName: "c-0", fromVersion: "3.4.23", toVersion: "3.5.21" },
  ]);
});

Deno.test("a replaced peer whose member is still in etcd comes back at the new version", () => {
  const steps = membership(upgrade({ peers: [peer(0), peer(1)] }));
  assert.equal(steps[0].kind, "createPeers");
  if (steps[0].kind !== "createPeers") return;
  assert.equal(steps[0].peers[0].name, "c-2");
  assert.equal(steps[0].peers[0].initialClusterState, "Existing");
});

Deno.test("once every member reports the new version the upgrade is announced complete, once", () => {
  const done = [atNew(0), atNew(1), atNew(2)];
  assert.deepEqual(membership(upgrade({ peers: done })), [{
    kind: "completeUpgrade",
    version: "3.5.21",
  }]);
  assert.deepEqual(membership(upgrade({ peers: done, upgrading: false })), []);
});

Deno.test("a one-member cluster is upgraded in place: there is nobody to hand leadership to", () => {
  const single = { reachable: true as const, members: [member(0)], leaderId: "id0" };
  assert.deepEqual(
    membership(upgrade({ replicas: 1, peers: [peer(0)], etcd: single, upgrading: false })),
    [
      { kind: "replacePeer", peerName: "c-0", fromVersion: "3.4.23", toVersion: "3.5.21" },
    ],
  );
});

const unreachable = { reachable: false as const, reason: "dial timeout" };
const existing = (ordinal: number) => peer(ordinal, { initialClusterState: "Existing" });
const created = (steps: readonly ReturnType<typeof planCluster>[number][]) =>
  steps.flatMap((step) =>
    step.kind === "createPeers"
      ? step.peers.map((made) => `${made.name}:${made.initialClusterState}`)
      : []
  );

// Every path into peer creation, and the ones that must never create a "new" peer.
const peerCreationCases: readonly {
  readonly name: string;
  readonly seen: Partial<ClusterObservation>;
  readonly created: readonly string[];
}[] = [
  {
    name: "not formed, no peers: the whole initial cluster, New",
    seen: { formed: undefined, peers: [], etcd: unreachable },
    created: ["c-0:New", "c-1:New", "c-2:New"],
  },
  {
    name: "not formed, an interrupted bootstrap: only the missing initial peers, New",
    seen: { formed: undefined, peers: [peer(1)], etcd: unreachable },
    created: ["c-0:New", "c-2:New"],
  },
  {
    name: "formed, no peers and no known members, etcd unreachable: nothing",
    seen: { formed: { clusterId: "cafe" }, knownMembers: [], peers: [], etcd: unreachable },
    created: [],
  },
  {
    name: "formed, the only member's peer replaced for an upgrade, etcd unreachable: it, Existing",
    seen: { replicas: 1, knownMembers: ["c-0"], peers: [], etcd: unreachable },
    created: ["c-0:Existing"],
  },
  {
    name:
      "formed (legacy status only), peers deleted by hand, etcd unreachable: known ones, Existing",
    seen: { formed: { clusterId: undefined }, peers: [], etcd: unreachable },
    created: ["c-0:Existing", "c-1:Existing", "c-2:Existing"],
  },
  {
    name: "formed, some known members' peers missing, etcd unreachable: those, Existing",
    seen: { peers: [peer(0)], etcd: unreachable },
    created: ["c-1:Existing", "c-2:Existing"],
  },
  {
    name: "formed, after 3 → 1 the survivor's peer alone, etcd unreachable: nothing",
    seen: { replicas: 1, knownMembers: ["c-0"], peers: [peer(0)], etcd: unreachable },
    created: [],
  },
  {
    name: "not formed, but a peer joined an existing cluster: nothing until etcd answers",
    seen: { formed: undefined, peers: [peer(0), existing(3)], etcd: unreachable },
    created: [],
  },
  {
    name: "not formed, peers disagree on the initial cluster: nothing",
    seen: {
      formed: undefined,
      peers: [peer(0), peer(1, { initialCluster: names(5) })],
      etcd: unreachable,
    },
    created: [],
  },
  {
    name: "formed, a member in etcd without its peer: that peer, Existing",
    seen: { peers: [peer(0), peer(2)] },
    created: ["c-1:Existing"],
  },
  {
    name: "not formed yet but etcd answers, a member without its peer: Existing, after the record",
    seen: {
      formed: undefined,
      peers: [peer(0), peer(1)],
      etcd: {
        reachable: true,
        clusterId: "beef",
        members: [member(0), member(1), member(2)],
        leaderId: "id0",
      },
    },
    created: ["c-2:Existing"],
  },
  {
    name: "another cluster answers behind the members' names: nothing",
    seen: {
      formed: { clusterId: "cafe" },
      knownMembers: ["c-0", "c-1", "c-2"],
      peers: [peer(0), peer(2)],
      etcd: {
        reachable: true,
        clusterId: "beef",
        members: [member(0), member(1), member(2)],
        leaderId: "id0",
      },
    },
    created: [],
  },
];

for (const { name, seen, created: expected } of peerCreationCases) {
  Deno.test(`peer creation: ${name}`, () => {
    assert.deepEqual(created(planCluster(observe(seen))), expected);
  });
}

Deno.test("a formed cluster with no peers left says why it will not bootstrap again", () => {
  const steps = membership(observe({ peers: [], knownMembers: [], etcd: unreachable }));
  assert.equal(steps.length, 1);
  assert.equal(steps[0].kind, "wait");
  assert.match(
    steps[0].kind === "wait" ? steps[0].reason : "",
    /will not bootstrap a second cluster/,
  );
});

Deno.test("the formation is recorded first, once etcd answers with the cluster's id", () => {
  const answering = {
    reachable: true as const,
    clusterId: "beef",
    members: [member(0), member(1), member(2)],
    leaderId: "id0",
  };
  assert.deepEqual(planCluster(observe({ formed: undefined, etcd: answering }))[0], {
    kind: "recordFormed",
    clusterId: "beef",
  });
  // A cluster known as formed only from its status gets the durable record too.
  assert.deepEqual(planCluster(observe({ formed: { clusterId: undefined }, etcd: answering })), [
    { kind: "recordFormed", clusterId: "beef" },
  ]);
  assert.deepEqual(planCluster(observe({ formed: { clusterId: "beef" }, etcd: answering })), []);
});

Deno.test("a different cluster id behind the members' names blocks every membership step", () => {
  const steps = membership(observe({
    replicas: 5,
    etcd: {
      reachable: true,
      clusterId: "beef",
      members: [member(0), member(1), member(2)],
      leaderId: "id0",
    },
  }));
  assert.equal(steps.length, 1);
  assert.equal(steps[0].kind, "wait");
  assert.match(steps[0].kind === "wait" ? steps[0].reason : "", /cluster beef.*formed as cafe/);
});

// --- members that cannot come back by themselves ---------------------------------------------

const now = Date.parse("2026-12-03T00:00:00Z");
const lostVolume = { volume: { kind: "lost" as const, reason: "its volume (PVC) was deleted" } };
const fatalExit = (log: string): Partial<PeerView> => ({
  pod: {
    phase: "Running",
    terminating: false,
    etcd: {
      running: false,
      restarts: 4,
      waiting: { reason: "CrashLoopBackOff", message: "back-off 40s" },
      lastExit: { exitCode: 1, reason: "Error", log },
    },
  },
});
const unschedulableFor = (ms: number): Partial<PeerView> => ({
  pod: {
    phase: "Pending",
    terminating: false,
    unschedulable: { message: "0/1 nodes are available: 1 Insufficient cpu.", sinceMs: now - ms },
  },
});
const onDeadNodeFor = (ms: number): Partial<PeerView> => ({
  pod: {
    phase: "Running",
    terminating: false,
    node: {
      name: "node-2",
      ready: false,
      sinceMs: now - ms,
      detail: "Ready=Unknown (NodeStatusUnknown)",
    },
    etcd: { running: true, restarts: 0 },
  },
});
const down = (ordinal: number) => member(ordinal, { healthy: false });
const withPeer = (ordinal: number, overrides: Partial<PeerView>) =>
  [0, 1, 2].map((n) => n === ordinal ? peer(n, overrides) : peer(n));

Deno.test("a lost member is removed from etcd to be replaced, whatever made it lost", () => {
  const cases: [string, Partial<PeerView>, RegExp][] = [
    ["volume deleted", lostVolume, /volume \(PVC\) was deleted/],
    [
      "new member on a bootstrapped id",
      fatalExit(
        '{"level":"fatal","msg":"discovery failed","error":"member 8e9e05c52164694d has already been bootstrapped"}',
      ),
      /data was lost.*has already been bootstrapped/,
    ],
    [
      "raft log behind its commit",
      fatalExit(
        "panic: tocommit(107) is out of range [lastIndex(0)]. Was the raft log corrupted, truncated, or lost?",
      ),
      /raft log/,
    ],
    [
      "removed member restarting on its old data",
      fatalExit('{"msg":"the member has been permanently removed from the cluster"}'),
      /removed it/,
    ],
    ["unschedulable past the grace period", unschedulableFor(301_000), /Insufficient cpu/],
    [
      "on a node not ready past the grace period",
      onDeadNodeFor(300_000),
      /node node-2 has not been ready since 2026-12-02T23:55:00Z \(Ready=Unknown \(NodeStatusUnknown\)\)/,
    ],
  ];
  for (const [name, overrides, reason] of cases) {
    const steps = membership(observe({
      peers: withPeer(2, overrides),
      etcd: { reachable: true, members: [member(0), member(1), down(2)], leaderId: "id0" },
    }));
    assert.equal(steps.length, 1, name);
    const [step] = steps;
    assert.equal(step.kind, "removeMember", name);
    if (step.kind !== "removeMember") continue;
    assert.equal(step.memberId, "id2", name);
    assert.match(step.replacing?.reason ?? "", reason, name);
    assert.equal(step.replacing?.volumeLost, overrides === lostVolume, name);
  }
});

Deno.test("a member that may still recover is waited for, with its pod's reason", () => {
  const cases: [string, Partial<PeerView>, RegExp][] = [
    [
      "unschedulable within the grace period",
      unschedulableFor(60_000),
      /cannot be scheduled since 2026-12-02T23:59:00Z: 0\/1 nodes/,
    ],
    [
      "crash-looping on something else",
      fatalExit('{"msg":"listen tcp :2379: bind: address already in use"}'),
      /exited with code 1 \(Error\), 4 restarts: listen tcp/,
    ],
    [
      "image that cannot be pulled",
      {
        pod: {
          phase: "Pending",
          terminating: false,
          etcd: {
            running: false,
            restarts: 0,
            waiting: { reason: "ImagePullBackOff", message: "etcd:v3.4.99 not found" },
          },
        },
      },
      /image cannot be pulled \(ImagePullBackOff\): etcd:v3.4.99 not found/,
    ],
    ["no pod", { pod: undefined }, /pod does not exist/],
    [
      "on a node not ready within the grace period",
      onDeadNodeFor(20_000),
      /not been ready since 2026-12-02T23:59:40Z/,
    ],
  ];
  for (const [name, overrides, reason] of cases) {
    const steps = membership(observe({
      peers: withPeer(2, overrides),
      etcd: { reachable: true, members: [member(0), member(1), down(2)], leaderId: "id0" },
    }));
    assert.equal(steps.length, 1, name);
    assert.equal(steps[0].kind, "wait", name);
    assert.match(steps[0].kind === "wait" ? steps[0].reason : "", reason, name);
  }
});

Deno.test("a member etcd still finds healthy is never replaced for what Kubernetes says of its node or pod", () => {
  for (const overrides of [onDeadNodeFor(3_600_000), unschedulableFor(3_600_000)]) {
    assert.deepEqual(
      membership(observe({
        peers: withPeer(2, overrides),
        etcd: { reachable: true, members: [member(0), member(1), member(2)], leaderId: "id0" },
      })),
      [],
    );
  }
  // A lost volume is the exception: etcd answers from data that is no longer on any disk.
  assert.equal(
    membership(observe({
      peers: withPeer(2, lostVolume),
      etcd: { reachable: true, members: [member(0), member(1), member(2)], leaderId: "id0" },
    }))[0]?.kind,
    "removeMember",
  );
});

Deno.test("a replacement is guarded: never without quorum, never beside another change, leader moved first", () => {
  // Two of three down: the survivor alone is no quorum. Nothing is replaced; the quorum loss
  // is reported (and, approved, recovered: see the quorum tests).
  const noQuorum = membership(observe({
    peers: [peer(0), peer(1, lostVolume), peer(2, lostVolume)],
    etcd: { reachable: true, members: [member(0), down(1), down(2)], leaderId: "id0" },
  }));
  assert.equal(noQuorum.length, 1);
  assert.equal(noQuorum[0].kind, "wait");
  assert.match(
    noQuorum[0].kind === "wait" ? noQuorum[0].reason : "",
    /quorum lost \(c-0: .*c-1: down \(its volume \(PVC\) was deleted\)/,
  );
  // A learner is being added: that change finishes (or is undone) first.
  const learning = membership(observe({
    replicas: 4,
    peers: [...withPeer(2, lostVolume), peer(3, { initialClusterState: "Existing" })],
    etcd: {
      reachable: true,
      members: [member(0), member(1), down(2), member(3, { isLearner: true, healthy: false })],
      leaderId: "id0",
    },
  }));
  assert.equal(learning[0].kind, "wait");
  assert.match(learning[0].kind === "wait" ? learning[0].reason : "", /once learner c-3/);
  // A lost learner goes at once.
  assert.deepEqual(
    membership(observe({
      replicas: 4,
      peers: [peer(0), peer(1), peer(2), peer(3, lostVolume)],
      etcd: {
        reachable: true,
        members: [member(0), member(1), member(2), member(3, { isLearner: true })],
        leaderId: "id0",
      },
    })),
    [{
      kind: "removeMember",
      memberId: "id3",
      peerName: "c-3",
      replacing: { reason: "its volume (PVC) was deleted", volumeLost: true },
    }],
  );
  // Its volume deleted under a running leader: leadership moves before the removal.
  assert.deepEqual(
    membership(observe({
      peers: withPeer(0, lostVolume),
      etcd: { reachable: true, members: [member(0), member(1), member(2)], leaderId: "id0" },
    })),
    [{ kind: "moveLeader", fromId: "id0", toId: "id1", toName: "c-1" }],
  );
});

Deno.test("after the removal the peer and its volume go, the volume first; then the member is re-added", () => {
  // The lost member is out of etcd: its peer is an orphan.
  assert.deepEqual(
    membership(observe({
      peers: withPeer(2, lostVolume),
      etcd: { reachable: true, members: [member(0), member(1)], leaderId: "id0" },
    })),
    [{ kind: "deletePeer", peerName: "c-2", deleteVolume: true }],
  );
  // Peer gone: the missing member is added again as a learner under the same name.
  assert.deepEqual(
    membership(observe({
      peers: [peer(0), peer(1)],
      etcd: { reachable: true, members: [member(0), member(1)], leaderId: "id0" },
    })),
    [{ kind: "addLearner", peerName: "c-2", peerURL: "http://c-2.c.ns.svc:2380" }],
  );
  // The learner has never run: its peer starts on an empty volume.
  const created = membership(observe({
    peers: [peer(0), peer(1)],
    etcd: {
      reachable: true,
      members: [member(0), member(1), member(2, { name: "", isLearner: true, healthy: false })],
      leaderId: "id0",
    },
  }));
  assert.equal(created[0].kind, "createPeers");
  if (created[0].kind === "createPeers") {
    assert.equal(created[0].peers[0].dataExists, false);
    assert.equal(created[0].peers[0].initialClusterState, "Existing");
  }
});

Deno.test("a member that has run gets its peer back on its kept volume, never an empty one", () => {
  const steps = membership(observe({ peers: [peer(0), peer(1)] }));
  assert.equal(steps[0].kind, "createPeers");
  if (steps[0].kind === "createPeers") {
    assert.equal(steps[0].peers[0].name, "c-2");
    assert.equal(steps[0].peers[0].dataExists, true);
  }
});

Deno.test("scaling down removes a stuck learner or a down member before a healthy one", () => {
  const cases: [string, MemberView[], number, unknown][] = [
    [
      "stuck learner",
      [member(0), member(1), member(2), member(3, { isLearner: true, healthy: false })],
      3,
      { kind: "removeMember", memberId: "id3", peerName: "c-3" },
    ],
    [
      "down member, not the highest",
      [member(0), down(1), member(2)],
      2,
      { kind: "removeMember", memberId: "id1", peerName: "c-1" },
    ],
    [
      "learner before a down member",
      [member(0), down(1), member(2), member(3, { isLearner: true })],
      2,
      { kind: "removeMember", memberId: "id3", peerName: "c-3" },
    ],
  ];
  for (const [name, members, replicas, expected] of cases) {
    const peers = members.map((_, ordinal) => peer(ordinal));
    assert.deepEqual(
      membership(observe({ replicas, peers, etcd: { reachable: true, members, leaderId: "id0" } })),
      [expected],
      name,
    );
  }
});

Deno.test("scaling down removes every down voter before any healthy one", () => {
  // Two down of five, scale to 4: a down one goes; then (still one down) the next step waits.
  const members = [member(0), member(1), member(2), down(3), down(4)];
  const peers = members.map((_, ordinal) => peer(ordinal));
  assert.deepEqual(
    membership(
      observe({ replicas: 4, peers, etcd: { reachable: true, members, leaderId: "id0" } }),
    ),
    [{ kind: "removeMember", memberId: "id4", peerName: "c-4" }],
  );
  const fewer = [member(0), member(1), member(2), down(3)];
  const steps = membership(observe({
    replicas: 2,
    peers: fewer.map((_, ordinal) => peer(ordinal)),
    etcd: { reachable: true, members: fewer, leaderId: "id0" },
  }));
  assert.deepEqual(steps, [{ kind: "removeMember", memberId: "id3", peerName: "c-3" }]);
});

Deno.test("a mistyped version rolled back re-creates the member that never started at it", () => {
  // c-2 was upgraded to a version whose image does not exist; spec is back at 3.4.23.
  const typo = { version: "3.4.99", serverVersion: "3.4.23" };
  assert.deepEqual(
    membership(observe({
      peers: withPeer(2, typo),
      etcd: { reachable: true, members: [member(0), member(1), down(2)], leaderId: "id0" },
    })),
    [{ kind: "replacePeer", peerName: "c-2", fromVersion: "3.4.99", toVersion: "3.4.23" }],
  );
  // A member that did run the other version is not rolled back behind etcd's back.
  const ran = { version: "3.5.21", serverVersion: "3.5.21" };
  const steps = membership(observe({
    peers: withPeer(2, ran),
    etcd: { reachable: true, members: [member(0), member(1), down(2)], leaderId: "id0" },
  }));
  assert.equal(steps[0].kind, "wait");
});

Deno.test("a member merely down at the version the others run is waited for during an upgrade, reported or not", () => {
  for (const serverVersion of ["3.4.23", undefined]) {
    const steps = membership(observe({
      version: "3.5.21",
      peers: withPeer(1, { serverVersion }),
      etcd: { reachable: true, members: [member(0), down(1), member(2)], leaderId: "id0" },
    }));
    assert.equal(steps[0].kind, "wait", String(serverVersion));
  }
});
