// The EtcdCluster status as data: members, counts, conditions and their transition times.
import assert from "node:assert/strict";
import type { ClusterObservation } from "../../../../actors/cluster/plan.ts";
import type { ClusterCondition } from "../../../../actors/types.ts";
import { statusPatch as patchOf } from "../../../../actors/status_writer.ts";
import { clusterStatus, ownedStatusFields } from "../../../../actors/cluster/status.ts";

/** The cluster actor's patch: over the fields it owns, removing those it no longer sets. */
const statusPatch = (previous: object, next: object) => patchOf(previous, next, ownedStatusFields);

const peers = [0, 1, 2].map((ordinal) => ({
  name: `c-${ordinal}`,
  ordinal,
  initialClusterState: "New" as const,
  initialCluster: ["c-0", "c-1", "c-2"],
  terminating: false,
  version: "3.4.23",
  serverVersion: "3.4.23",
  volume: { kind: "present" as const, uid: `v${ordinal}`, recorded: true },
  pod: { phase: "Running", terminating: false, etcd: { running: true, restarts: 0 } },
}));
const members = [0, 1, 2].map((ordinal) => ({
  id: `00000000000000a${ordinal}`,
  name: `c-${ordinal}`,
  peerURL: `http://c-${ordinal}.c.ns.svc:2380`,
  isLearner: false,
  healthy: true,
}));
const seen: ClusterObservation = {
  clusterName: "c",
  namespace: "ns",
  replicas: 3,
  version: "3.4.23",
  serviceExists: true,
  disruptionBudget: { minAvailable: 2 },
  peers,
  etcd: { reachable: true, members, leaderId: "00000000000000a1" },
  formed: { clusterId: "cafe" },
  knownMembers: ["c-0", "c-1", "c-2"],
  upgrading: false,
  nowMs: Date.parse("2026-12-03T00:00:00Z"),
  replaceAfterMs: 300_000,
};
const input = {
  seen,
  steps: [],
  generation: 4,
  clusterVersion: "3.4.0",
  previous: [],
  now: "2026-01-01T00:00:00Z",
};
const condition = (conditions: readonly ClusterCondition[], type: ClusterCondition["type"]) =>
  conditions.find((c) => c.type === type);

Deno.test("a healthy cluster reports its members with ids, leader, version and Available", () => {
  const status = clusterStatus(input);
  assert.equal(status.replicas, 3);
  assert.equal(status.readyReplicas, 3);
  assert.deepEqual(status.members.map((m) => m.name), ["c-0", "c-1", "c-2"]);
  assert.equal(status.leader, "c-1");
  assert.equal(status.clusterVersion, "3.4.0");
  assert.equal(status.observedGeneration, 4);
  assert.equal(status.selector, "app.kubernetes.io/name=etcd,etcd.improbable.io/cluster-name=c");
  assert.equal(condition(status.conditions, "Available")?.status, "True");
  assert.equal(condition(status.conditions, "Progressing")?.reason, "Converged");
  assert.equal(condition(status.conditions, "Degraded")?.status, "False");
});

Deno.test("an unhealthy member makes the cluster Degraded and names it", () => {
  const sick = {
    ...seen,
    etcd: {
      reachable: true as const,
      members: [members[0], { ...members[1], healthy: false }, members[2]],
      leaderId: undefined,
    },
  };
  const status = clusterStatus({ ...input, seen: sick });
  const degraded = condition(status.conditions, "Degraded");
  assert.equal(degraded?.status, "True");
  assert.match(degraded?.message ?? "", /c-1/);
  assert.equal(condition(status.conditions, "Available")?.status, "True");
});

Deno.test("losing quorum makes the cluster unavailable with the counts in the message", () => {
  const lost = {
    ...seen,
    etcd: {
      reachable: true as const,
      members: members.map((m, i) => ({ ...m, healthy: i === 0 })),
      leaderId: undefined,
    },
  };
  const available = condition(clusterStatus({ ...input, seen: lost }).conditions, "Available");
  assert.equal(available?.status, "False");
  assert.match(
    available?.message ?? "",
    /^1 of 3 members are healthy; 2 are needed for quorum \(.*c-1: unreachable, its pod runs.*\); not recovering/,
  );
});

Deno.test("a pending step shows as Progressing with its reason", () => {
  const status = clusterStatus({
    ...input,
    steps: [{ kind: "addLearner", peerName: "c-3", peerURL: "http://c-3.c.ns.svc:2380" }],
  });
  const progressing = condition(status.conditions, "Progressing");
  assert.equal(progressing?.status, "True");
  assert.equal(progressing?.reason, "ScalingUp");
  assert.equal(progressing?.message, "adding c-3 as a learner");
});

Deno.test("an even replica count is explained in the condition message", () => {
  const status = clusterStatus({ ...input, seen: { ...seen, replicas: 4 } });
  assert.match(condition(status.conditions, "Progressing")?.message ?? "", /use an odd number/);
});

Deno.test("lastTransitionTime changes only when a condition's status changes", () => {
  const first = clusterStatus(input).conditions;
  const same = clusterStatus({ ...input, previous: first, now: "2026-01-02T00:00:00Z" }).conditions;
  assert.equal(condition(same, "Available")?.lastTransitionTime, "2026-01-01T00:00:00Z");
  const unreachable = { ...seen, etcd: { reachable: false as const, reason: "timeout" } };
  const flipped =
    clusterStatus({ ...input, seen: unreachable, previous: first, now: "2026-01-03T00:00:00Z" })
      .conditions;
  assert.equal(condition(flipped, "Available")?.lastTransitionTime, "2026-01-03T00:00:00Z");
});

Deno.test("an upgrade shows its progress in the Progressing condition, whatever it waits for", () => {
  const upgrading = {
    ...seen,
    version: "3.5.21",
    peers: [peers[0], peers[1], { ...peers[2], version: "3.5.21", serverVersion: "3.5.21" }],
  };
  const status = clusterStatus({
    ...input,
    seen: upgrading,
    steps: [{ kind: "wait", reason: "members not healthy: c-1" }],
  });
  const progressing = condition(status.conditions, "Progressing");
  assert.equal(progressing?.reason, "Upgrading");
  assert.equal(progressing?.message, "1/3 members at 3.5.21: members not healthy: c-1");
});

Deno.test("an upgrade stays in progress while its last replaced peer is being re-created", () => {
  const newPeer = (p: typeof peers[number]) => ({
    ...p,
    version: "3.5.21",
    serverVersion: "3.5.21",
  });
  const recreating = {
    ...seen,
    version: "3.5.21",
    upgrading: true,
    peers: [newPeer(peers[1]), newPeer(peers[2])],
  };
  const status = clusterStatus({
    ...input,
    seen: recreating,
    steps: [{ kind: "createPeers", peers: [] }],
  });
  const progressing = condition(status.conditions, "Progressing");
  assert.equal(progressing?.reason, "Upgrading");
  assert.match(progressing?.message ?? "", /^2\/3 members at 3\.5\.21/);
});

Deno.test("while etcd cannot be asked, the members the last status listed are kept, not blanked", () => {
  const kept = [{ name: "c-0", id: "00000000000000a0" }];
  const status = clusterStatus({
    ...input,
    seen: { ...seen, etcd: { reachable: false, reason: "deadline exceeded" } },
    previousMembers: kept,
  });
  assert.deepEqual(status.members, kept);
  assert.equal(status.leader, undefined);
});

Deno.test("status is written only when its meaning changes, whatever the key order read back", () => {
  const status = clusterStatus(input);
  // The API server returns fields in its own order: same values, another serialisation.
  const readBack = JSON.parse(JSON.stringify({
    conditions: status.conditions.map((c) => Object.fromEntries(Object.entries(c).reverse())),
    members: status.members.map((m) => ({ id: m.id, name: m.name })),
    selector: status.selector,
    observedGeneration: status.observedGeneration,
    leader: status.leader,
    clusterVersion: status.clusterVersion,
    readyReplicas: status.readyReplicas,
    replicas: status.replicas,
    somethingElse: "not ours",
  }));
  assert.notEqual(JSON.stringify(readBack), JSON.stringify(status));
  assert.equal(statusPatch(readBack, status), undefined);
});

Deno.test("a status patch carries only what changed, and removes a field no longer known with null", () => {
  const before = JSON.parse(JSON.stringify(clusterStatus(input)));
  const after = clusterStatus({
    ...input,
    seen: { ...seen, etcd: { reachable: false, reason: "deadline exceeded" } },
    previousMembers: before.members,
  });
  const patch = statusPatch(before, after);
  assert.ok(patch);
  assert.equal(patch.leader, null);
  assert.equal("members" in patch, false);
  assert.equal("selector" in patch, false);
  assert.ok(Array.isArray(patch.conditions));
});

Deno.test("a status patch removes a key gone from status.tls (a finished CA rotation's phase) with null", () => {
  const status = clusterStatus(input);
  const certificates = [{ secretName: "c-tls-ca", role: "ca", notAfter: "2036-01-01T00:00:00Z" }];
  const before = { ...status, tls: { caRotationPhase: "DroppingOldCA", certificates } };
  const patch = statusPatch(before, { ...status, tls: { certificates } });
  assert.deepEqual(patch, { tls: { certificates, caRotationPhase: null } });
});

Deno.test("a member restarted onto new certificates shows as Progressing: RotatingCertificates", () => {
  const status = clusterStatus({
    ...input,
    certificates: "restarting c-2 onto new TLS material (its TLS Secrets changed)",
  });
  const progressing = condition(status.conditions, "Progressing");
  assert.equal(progressing?.status, "True");
  assert.equal(progressing?.reason, "RotatingCertificates");
  assert.match(progressing?.message ?? "", /restarting c-2/);
});
