// A spec.version that skips a minor version of what runs: refused at runtime, no member touched.
import assert from "node:assert/strict";
import {
  type ClusterObservation,
  type ClusterStep,
  planCluster,
} from "../../../../actors/cluster/plan.ts";
import { clusterStatus } from "../../../../actors/cluster/status.ts";
import { healthyMember, observation, runningPeer } from "./observation_fixture.ts";

function peer(ordinal: number, version: string, serverVersion: string | undefined = version) {
  return runningPeer(ordinal, version, { serverVersion });
}

const member = healthyMember;

const healthy = {
  reachable: true as const,
  members: [member(0), member(1), member(2)],
  leaderId: "id0",
};

function observe(overrides: Partial<ClusterObservation>): ClusterObservation {
  return observation({
    peers: [peer(0, "3.4.23"), peer(1, "3.4.23"), peer(2, "3.4.23")],
    etcd: healthy,
    clusterVersion: "3.4.0",
    ...overrides,
  });
}

/** A step as one short string: its kind, and for a refusal what it found running. */
function show(steps: readonly ClusterStep[]): string {
  const step = steps.find((s) => s.kind !== "createService" && s.kind !== "applyDisruptionBudget");
  if (!step) return "nothing";
  if (step.kind === "refuseUpgrade") return `refuse (runs ${step.running})`;
  if (step.kind === "replacePeer") return `replacePeer ${step.peerName} → ${step.toVersion}`;
  if (step.kind === "createPeers") return `createPeers ${step.peers.map((p) => p.name).join(",")}`;
  return step.kind;
}

const at35 = [peer(0, "3.5.21"), peer(1, "3.5.21"), peer(2, "3.5.21")];
const mixed = [peer(0, "3.4.23"), peer(1, "3.4.23"), peer(2, "3.5.21")];

const rows: readonly (readonly [string, Partial<ClusterObservation>, string])[] = [
  [
    "one minor version up from what runs is upgraded, highest ordinal first",
    {},
    "replacePeer c-2 → 3.5.21",
  ],
  ["3.6.0 while the members still run 3.4 (spec said 3.5.21 a moment ago) is refused", {
    version: "3.6.0",
    peers: mixed,
  }, "refuse (runs 3.4.23)"],
  ["3.6.0 while every peer runs 3.5 but etcd still reports cluster version 3.4 is refused", {
    version: "3.6.0",
    peers: at35,
  }, "refuse (runs 3.4.0)"],
  ["3.6.0 once every member and etcd's cluster version are at 3.5 is upgraded", {
    version: "3.6.0",
    peers: at35,
    clusterVersion: "3.5.0",
  }, "replacePeer c-2 → 3.6.0"],
  ["a peer at the new minor that has not reported yet counts at its spec version only", {
    version: "3.6.0",
    peers: [peer(0, "3.5.21"), peer(1, "3.5.21"), peer(2, "3.5.21", undefined)],
    clusterVersion: "3.5.0",
  }, "replacePeer c-2 → 3.6.0"],
  ["a member reporting an older version than its peer's spec holds the cluster back", {
    version: "3.6.0",
    peers: [peer(0, "3.5.21"), peer(1, "3.5.21"), peer(2, "3.5.21", "3.4.23")],
    clusterVersion: "3.5.0",
  }, "refuse (runs 3.4.23)"],
  ["a peer deleted for its upgrade is not re-created at a skipping version", {
    version: "3.6.0",
    peers: [peer(0, "3.4.23"), peer(1, "3.4.23")],
  }, "refuse (runs 3.4.23)"],
  ["the same peer is re-created at a version one minor up", {
    peers: [peer(0, "3.4.23"), peer(1, "3.4.23")],
  }, "createPeers c-2"],
  ["a one-member cluster whose peer is gone, etcd unreachable: its recorded version decides", {
    version: "3.6.0",
    replicas: 1,
    peers: [],
    etcd: { reachable: false, reason: "no endpoints" },
    knownMembers: ["c-0"],
  }, "refuse (runs 3.4.0)"],
  ["no learner is added at a skipping version", {
    version: "3.6.0",
    replicas: 5,
    peers: mixed,
  }, "refuse (runs 3.4.23)"],
  ["a major version change is refused", {
    version: "4.0.0",
    peers: at35,
    clusterVersion: "3.5.0",
  }, "refuse (runs 3.5.21)"],
  ["a minor version of ten digits is refused, not waved through", {
    version: "3.1000000000.0",
  }, "refuse (runs 3.4.23)"],
  [
    "a patch change within the running minor goes ahead",
    { version: "3.4.24" },
    "replacePeer c-2 → 3.4.24",
  ],
  ["a new cluster has nothing running to compare with", {
    version: "3.6.0",
    peers: [],
    etcd: { reachable: false, reason: "no members" },
    formed: undefined,
    clusterVersion: undefined,
    knownMembers: [],
  }, "createPeers c-0,c-1,c-2"],
  ["a new cluster's placeholder cluster version 3.0.0 says nothing about what runs", {
    replicas: 5,
    peers: at35,
    clusterVersion: "3.0.0",
  }, "addLearner"],
  ["an unreadable reported version is ignored", {
    version: "3.6.0",
    peers: [peer(0, "3.5.21", "unknown"), peer(1, "3.5.21"), peer(2, "3.5.21")],
    clusterVersion: "3.5.0",
  }, "replacePeer c-2 → 3.6.0"],
];

for (const [name, overrides, expected] of rows) {
  Deno.test(`version skip: ${name}`, () => {
    assert.equal(show(planCluster(observe(overrides))), expected);
  });
}

Deno.test("version skip: the refusal is the only step, says what to do, and is announced once per generation", () => {
  const first = planCluster(observe({ version: "3.6.0", peers: mixed }));
  assert.equal(first.length, 1);
  const [step] = first;
  assert.equal(step.kind, "refuseUpgrade");
  if (step.kind !== "refuseUpgrade") return;
  assert.equal(step.announce, true);
  assert.match(step.message, /spec\.version 3\.6\.0 skips a minor version/);
  assert.match(step.message, /still runs etcd 3\.4/);
  assert.match(step.message, /No member was touched: set spec\.version to a 3\.5\.x release/);
  const again = planCluster(observe({ version: "3.6.0", peers: mixed, upgradeRefused: true }));
  assert.deepEqual(again, [{ ...step, announce: false }]);
});

Deno.test("version skip: the status says Progressing False UpgradeRefused, not Upgrading", () => {
  const seen = observe({ version: "3.6.0", peers: mixed, upgrading: true });
  const status = clusterStatus({
    seen,
    steps: planCluster(seen),
    generation: 4,
    clusterVersion: "3.4.0",
    previous: [],
    now: "2026-12-03T00:00:00Z",
  });
  const progressing = status.conditions.find((condition) => condition.type === "Progressing");
  assert.equal(progressing?.status, "False");
  assert.equal(progressing?.reason, "UpgradeRefused");
  assert.match(progressing?.message ?? "", /skips a minor version/);
  assert.equal(progressing?.observedGeneration, 4);
});
