// A lost quorum as data: who is gone, whether the operator may act, and each recovery step.
import assert from "node:assert/strict";
import type {
  ClusterObservation,
  ClusterStep,
  MemberView,
  PeerView,
} from "../../../../actors/cluster/plan.ts";
import { planCluster } from "../../../../actors/cluster/plan.ts";
import {
  parseQuorumRecovery,
  planQuorumRecovery,
  type QuorumLossView,
  type QuorumRecovery,
} from "../../../../actors/cluster/quorum.ts";
import type { PodView } from "../../../../actors/cluster/diagnose.ts";

const now = Date.parse("2026-12-03T06:00:00Z");
const running: PodView = {
  phase: "Running",
  terminating: false,
  etcd: { running: true, restarts: 0 },
};
const volumeGone = { kind: "lost" as const, reason: "its volume (PVC) was deleted" };

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
    pod: running,
    ...overrides,
  };
}

/** A member that answers Status without quorum (healthy false) at this raft index. */
const survivor = (ordinal: number, raftIndex: number): MemberView => ({
  id: `id${ordinal}`,
  name: `c-${ordinal}`,
  peerURL: `http://c-${ordinal}.c.ns.svc:2380`,
  isLearner: false,
  healthy: false,
  reachable: true,
  raftIndex,
  raftTerm: 7,
});
const silent = (ordinal: number): MemberView => ({
  ...survivor(ordinal, 0),
  reachable: false,
  raftIndex: undefined,
  raftTerm: undefined,
});

function observe(
  overrides: Partial<ClusterObservation> = {},
  loss: Partial<QuorumLossView> = {},
): ClusterObservation {
  return {
    clusterName: "c",
    namespace: "ns",
    replicas: 3,
    version: "3.5.21",
    serviceExists: true,
    disruptionBudget: { minAvailable: 2 },
    // c-1 and c-2 lost their volumes; c-0 survives.
    peers: [
      peer(0),
      peer(1, { volume: volumeGone, pod: undefined }),
      peer(2, { volume: volumeGone }),
    ],
    etcd: {
      reachable: true,
      members: [survivor(0, 120), silent(1), silent(2)],
      leaderId: undefined,
    },
    formed: { clusterId: "cafe" },
    knownMembers: ["c-0", "c-1", "c-2"],
    upgrading: false,
    nowMs: now,
    replaceAfterMs: 60_000,
    quorumLoss: { policy: "Manual", unavailableSinceMs: now - 120_000, ...loss },
    ...overrides,
  };
}

const reasonOf = (steps: ClusterStep[] | undefined) =>
  steps?.[0]?.kind === "wait" ? steps[0].reason : "";

Deno.test("a quorum that holds, or members that answer but refuse (an alarm), is no quorum loss", () => {
  const healthy = (ordinal: number) => ({ ...survivor(ordinal, 5), healthy: true });
  assert.equal(
    planQuorumRecovery(observe({
      peers: [peer(0), peer(1), peer(2)],
      etcd: { reachable: true, members: [healthy(0), healthy(1), silent(2)], leaderId: "id0" },
    })),
    undefined,
  );
  assert.equal(
    planQuorumRecovery(observe({
      peers: [peer(0), peer(1), peer(2)],
      etcd: {
        reachable: true,
        members: [survivor(0, 5), survivor(1, 5), survivor(2, 5)],
        leaderId: "id0",
      },
    })),
    undefined,
  );
});

Deno.test("a lost quorum is reported, then recovered only after the grace period and with approval", () => {
  const cases: [string, ClusterObservation, RegExp | "start"][] = [
    [
      "within the grace period",
      observe({}, { unavailableSinceMs: now - 20_000 }),
      /lost since 2026-12-03T05:59:40Z; from 2026-12-03T06:00:40Z the operator would restart c-0 \(raft index 120\) alone/,
    ],
    [
      "Manual, not approved",
      observe(),
      /waits for approval .*kubectl annotate etcdcluster c --overwrite etcd\.improbable\.io\/approve-quorum-recovery=/,
    ],
    [
      "Manual, approved before this loss began",
      observe({}, { approvedAtMs: now - 600_000 }),
      /waits for approval/,
    ],
    ["Manual, approved since", observe({}, { approvedAtMs: now - 10_000 }), "start"],
    ["Automatic", observe({}, { policy: "Automatic" }), "start"],
  ];
  for (const [name, seen, expected] of cases) {
    const steps = planQuorumRecovery(seen);
    if (expected === "start") {
      assert.equal(steps?.length, 1, name);
      const [step] = steps!;
      assert.equal(step.kind, "startQuorumRecovery", name);
      if (step.kind !== "startQuorumRecovery") continue;
      assert.equal(step.survivor, "c-0", name);
      assert.equal(step.memberId, "id0", name);
      assert.match(
        step.reason,
        /c-1: down \(its pod does not exist\)|c-1: down \(its volume/,
        name,
      );
    } else {
      assert.equal(steps?.[0].kind, "wait", name);
      assert.match(reasonOf(steps), /^quorum lost \(c-0: answers, raft index 120 term 7/, name);
      assert.match(reasonOf(steps), expected, name);
    }
  }
});

Deno.test("never on a partition: a member that does not answer but whose pod runs stops the recovery", () => {
  const steps = planQuorumRecovery(observe(
    { peers: [peer(0), peer(1), peer(2, { volume: volumeGone })] },
    { policy: "Automatic" },
  ));
  assert.equal(steps?.[0].kind, "wait");
  assert.match(reasonOf(steps), /not recovering: c-1 does not answer but its pod runs/);
});

Deno.test("what makes a silent member provably gone", () => {
  const gone: [string, Partial<PeerView>][] = [
    ["volume lost", { volume: volumeGone }],
    ["no pod", { pod: undefined }],
    ["node not ready", {
      pod: { ...running, node: { name: "n2", ready: false, detail: "Ready=Unknown" } },
    }],
    ["pod pending", { pod: { phase: "Pending", terminating: false } }],
    ["etcd not running", {
      pod: { phase: "Running", terminating: false, etcd: { running: false, restarts: 3 } },
    }],
  ];
  for (const [name, overrides] of gone) {
    const steps = planQuorumRecovery(observe(
      { peers: [peer(0), peer(1, overrides), peer(2, { volume: volumeGone })] },
      { policy: "Automatic" },
    ));
    assert.equal(steps?.[0].kind, "startQuorumRecovery", name);
  }
});

Deno.test("the survivor with the highest raft index is chosen; a tie goes to the lowest ordinal", () => {
  const five = [0, 1, 2, 3, 4].map((n) => peer(n, n >= 2 ? { volume: volumeGone } : {}));
  const pick = (a: number, b: number) => {
    const steps = planQuorumRecovery(observe({
      replicas: 5,
      peers: five,
      etcd: {
        reachable: true,
        members: [survivor(0, a), survivor(1, b), silent(2), silent(3), silent(4)],
        leaderId: undefined,
      },
    }, { policy: "Automatic" }));
    return steps?.[0].kind === "startQuorumRecovery" ? steps[0].survivor : undefined;
  };
  assert.equal(pick(10, 12), "c-1");
  assert.equal(pick(12, 10), "c-0");
  assert.equal(pick(12, 12), "c-0");
});

Deno.test("no member answers at all: the report says only a backup can help", () => {
  const steps = planQuorumRecovery(observe({
    peers: [
      peer(0, { volume: volumeGone }),
      peer(1, { volume: volumeGone }),
      peer(2, { volume: volumeGone }),
    ],
    etcd: { reachable: true, members: [silent(0), silent(1), silent(2)], leaderId: undefined },
  }, { policy: "Automatic" }));
  assert.match(reasonOf(steps), /no member answers: nothing to recover from but a backup/);
});

Deno.test("a recovery under way: restart alone, clear the flag, done; each step from what is observed", () => {
  const forcing: QuorumRecovery = { survivor: "c-0", memberId: "id0", phase: "forcing" };
  const clearing: QuorumRecovery = { ...forcing, phase: "clearing" };
  const alone = {
    reachable: true as const,
    members: [{ ...survivor(0, 130), healthy: true }],
    leaderId: "id0",
  };
  const others = [peer(1, { volume: volumeGone }), peer(2, { volume: volumeGone })];
  const step = (recovery: QuorumRecovery, overrides: Partial<ClusterObservation>) =>
    planQuorumRecovery(observe(overrides, { recovery }))?.[0];
  assert.deepEqual(step(forcing, {}), {
    kind: "restartPeer",
    peerName: "c-0",
    forceNewCluster: true,
  });
  assert.deepEqual(step(forcing, { peers: [peer(0, { terminating: true }), ...others] }), {
    kind: "wait",
    reason: "quorum recovery: c-0 is restarting",
  });
  assert.deepEqual(step(forcing, { peers: others, etcd: { reachable: false, reason: "down" } }), {
    kind: "createPeers",
    peers: [{
      name: "c-0",
      initialClusterState: "Existing",
      initialCluster: [{ name: "c-0", host: "c-0.c.ns.svc" }],
      dataExists: true,
      forceNewCluster: true,
    }],
  });
  const flagged = [peer(0, { forceNewCluster: true }), ...others];
  assert.equal(
    step(forcing, { peers: flagged, etcd: { reachable: false, reason: "starting" } })?.kind,
    "wait",
  );
  assert.deepEqual(step(forcing, { peers: flagged, etcd: alone }), {
    kind: "advanceQuorumRecovery",
    recovery: clearing,
  });
  assert.deepEqual(step(clearing, { peers: flagged, etcd: alone }), {
    kind: "restartPeer",
    peerName: "c-0",
    forceNewCluster: false,
  });
  assert.deepEqual(step(clearing, { peers: others, etcd: { reachable: false, reason: "down" } }), {
    kind: "createPeers",
    peers: [{
      name: "c-0",
      initialClusterState: "Existing",
      initialCluster: [{ name: "c-0", host: "c-0.c.ns.svc" }],
      dataExists: true,
      forceNewCluster: false,
    }],
  });
  assert.deepEqual(step(clearing, { peers: [peer(0), ...others], etcd: alone }), {
    kind: "finishQuorumRecovery",
    survivor: "c-0",
  });
  // A record read long after the recovery ended, with members back and quorum: no restart.
  const backTogether = {
    reachable: true as const,
    members: [0, 1, 2].map((n) => ({ ...survivor(n, 200), healthy: true })),
    leaderId: "id0",
  };
  assert.match(
    reasonOf([step(forcing, { peers: [peer(0), peer(1), peer(2)], etcd: backTogether })!]),
    /2 other member\(s\) answer with quorum: not restarting it/,
  );
});

Deno.test("while a recovery runs nothing else is planned; after it the others are deleted and re-added", () => {
  const recovery: QuorumRecovery = { survivor: "c-0", memberId: "id0", phase: "forcing" };
  const steps = planCluster(observe({}, { recovery }));
  assert.deepEqual(steps.map((s) => s.kind), ["restartPeer"]);
  // Done: the survivor serves alone; the peers of the members it dropped are orphans.
  const after = planCluster(observe({
    etcd: { reachable: true, members: [{ ...survivor(0, 130), healthy: true }], leaderId: "id0" },
  }, { unavailableSinceMs: undefined }));
  assert.deepEqual(after.filter((s) => s.kind !== "applyDisruptionBudget"), [
    { kind: "deletePeer", peerName: "c-1", deleteVolume: true },
  ]);
});

Deno.test("the recovery record parses back, and anything else is no record", () => {
  const recovery: QuorumRecovery = { survivor: "c-0", memberId: "id0", phase: "clearing" };
  assert.deepEqual(parseQuorumRecovery(JSON.stringify(recovery)), recovery);
  for (
    const text of [
      undefined,
      "",
      "{",
      '{"survivor":"c-0"}',
      '{"survivor":1,"memberId":"a","phase":"forcing"}',
    ]
  ) {
    assert.equal(parseQuorumRecovery(text), undefined, String(text));
  }
});
