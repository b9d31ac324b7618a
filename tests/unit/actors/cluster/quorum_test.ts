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
  type BackupView,
  chooseBackup,
  planQuorumRecovery,
  type QuorumLossView,
  recoveryRestoreName,
} from "../../../../actors/cluster/quorum.ts";
import {
  type BackupRecovery,
  parseQuorumRecovery,
  type QuorumRecovery,
  restoreOfRecord,
} from "../../../../actors/recovery_record.ts";
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
  const forcing: QuorumRecovery = {
    source: "survivor",
    survivor: "c-0",
    memberId: "id0",
    phase: "forcing",
  };
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
  const recovery: QuorumRecovery = {
    source: "survivor",
    survivor: "c-0",
    memberId: "id0",
    phase: "forcing",
  };
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
  const recovery: QuorumRecovery = {
    source: "survivor",
    survivor: "c-0",
    memberId: "id0",
    phase: "clearing",
  };
  assert.deepEqual(parseQuorumRecovery(JSON.stringify(recovery)), recovery);
  // Written before recoveries from a backup existed: no `source`.
  assert.deepEqual(
    parseQuorumRecovery('{"survivor":"c-0","memberId":"id0","phase":"clearing"}'),
    recovery,
  );
  const fromBackup: BackupRecovery = {
    source: "backup",
    backup: "nightly-1",
    backupUID: "u1",
    objectURL: "s3://b/k",
    completionTime: "2026-12-03T05:00:00Z",
    credentialsSecret: "creds",
    phase: "restoring",
    restore: "c-recovery-1",
  };
  assert.deepEqual(parseQuorumRecovery(JSON.stringify(fromBackup)), fromBackup);
  assert.equal(restoreOfRecord(JSON.stringify(fromBackup)), "c-recovery-1");
  assert.equal(restoreOfRecord(JSON.stringify(recovery)), undefined);
  for (
    const text of [
      undefined,
      "",
      "{",
      '{"survivor":"c-0"}',
      '{"survivor":1,"memberId":"a","phase":"forcing"}',
      '{"source":"backup","backup":"b","phase":"clearing"}',
      '{"source":"backup","backup":"b","backupUID":"u","objectURL":"s3://b/k",' +
      '"completionTime":"t","phase":"forcing"}',
      '{"source":"elsewhere","survivor":"c-0","memberId":"id0","phase":"forcing"}',
    ]
  ) {
    assert.equal(parseQuorumRecovery(text), undefined, String(text));
  }
});

// ---- No member's data survives: recovery from the latest backup ----

const created = Date.parse("2026-12-01T00:00:00Z");
function backup(name: string, completionTime: string, overrides: Partial<BackupView> = {}) {
  return {
    name,
    uid: `uid-${name}`,
    objectURL: `s3://b/${name}.db`,
    completionTime,
    lastWriter: true,
    ...overrides,
  };
}
const backups: BackupView[] = [
  backup("before-creation", "2026-11-30T23:00:00Z"),
  backup("old", "2026-12-02T00:00:00Z"),
  backup("new", "2026-12-03T05:00:00Z", { credentialsSecret: "creds" }),
  // Its object was written again since, by a backup of some other cluster: not its bytes any more.
  backup("overwritten", "2026-12-03T05:30:00Z", { lastWriter: false }),
];
const allLost = [
  peer(0, { volume: volumeGone, pod: undefined }),
  peer(1, { volume: volumeGone, pod: undefined }),
  peer(2, { volume: volumeGone, pod: undefined }),
];
const unreachable = { reachable: false as const, reason: "no member answered" };
/** Every member's volume is lost and etcd answers nothing. */
const dataLost = (
  overrides: Partial<ClusterObservation> = {},
  loss: Partial<QuorumLossView> = {},
) =>
  observe({
    peers: allLost,
    etcd: unreachable,
    createdAtMs: created,
    backups,
    volumeClaims: [],
    ...overrides,
  }, loss);

const fromNew: BackupRecovery = {
  source: "backup",
  backup: "new",
  backupUID: "uid-new",
  objectURL: "s3://b/new.db",
  completionTime: "2026-12-03T05:00:00Z",
  credentialsSecret: "creds",
  phase: "clearing",
};

Deno.test("the backup chosen is the newest whose object still holds its bytes, taken since the cluster was created", () => {
  assert.equal(chooseBackup(dataLost())?.name, "new");
  assert.equal(
    chooseBackup(dataLost({ backups: backups.filter((b) => b.name !== "new") }))?.name,
    "old",
  );
  assert.equal(chooseBackup(dataLost({ backups: [backups[0]] })), undefined);
  assert.equal(chooseBackup(dataLost({ backups: [] })), undefined);
});

Deno.test("every member's data lost: reported, then recovered from the backup after the grace period and with approval", () => {
  const inGrace = planQuorumRecovery(dataLost({}, { unavailableSinceMs: now - 10_000 }));
  assert.match(reasonOf(inGrace), /^no member's data survives \(c-0: data lost \(its volume/);
  assert.match(reasonOf(inGrace), /the operator would restore EtcdBackup new \(completed/);
  const manual = planQuorumRecovery(dataLost());
  assert.match(reasonOf(manual), /waits for approval \(quorumLossRecovery is Manual\)/);
  assert.match(reasonOf(manual), /writes after it are lost/);
  const approved = planQuorumRecovery(dataLost({}, { approvedAtMs: now - 1_000 }));
  assert.deepEqual(approved, [{
    kind: "startBackupRecovery",
    recovery: fromNew,
    reason: [0, 1, 2].map((n) => `c-${n}: data lost (its volume (PVC) was deleted)`).join("; "),
  }]);
  // An approval given before this loss began does not cover it.
  assert.equal(
    planQuorumRecovery(dataLost({}, { approvedAtMs: now - 200_000 }))?.[0].kind,
    "wait",
  );
  assert.equal(
    planQuorumRecovery(dataLost({}, { policy: "Automatic" }))?.[0].kind,
    "startBackupRecovery",
  );
  // Through the cluster's whole plan too: it is what the members' loss leads to.
  assert.deepEqual(
    planCluster(dataLost({}, { policy: "Automatic" })).map((s) => s.kind),
    ["startBackupRecovery"],
  );
  const none = planQuorumRecovery(dataLost({ backups: [] }, { policy: "Automatic" }));
  assert.match(reasonOf(none), /no Completed EtcdBackup of this cluster .*nothing to recover from/);
});

Deno.test("not a data loss: a volume that may hold data, a known member without a peer, or etcd answering", () => {
  const automatic = { policy: "Automatic" as const };
  const cases: [string, Partial<ClusterObservation>][] = [
    ["one volume present", { peers: [peer(0, { pod: undefined }), allLost[1], allLost[2]] }],
    ["a known member has no peer (its volume may be kept)", { peers: allLost.slice(1) }],
    ["volumes that never existed only", {
      peers: [0, 1, 2].map((n) => peer(n, { volume: { kind: "missing" }, pod: undefined })),
    }],
    ["not formed", { formed: undefined }],
  ];
  for (const [name, overrides] of cases) {
    const steps = planQuorumRecovery(dataLost(overrides, automatic));
    assert.ok(
      steps === undefined || (steps[0].kind !== "startBackupRecovery" &&
        !/data survives/.test(reasonOf(steps))),
      `${name}: ${JSON.stringify(steps)}`,
    );
  }
  // A learner that never started holds nothing: it does not stop the recovery.
  assert.equal(
    planQuorumRecovery(dataLost({
      peers: [...allLost, peer(3, { volume: { kind: "missing" }, pod: undefined })],
    }, automatic))?.[0].kind,
    "startBackupRecovery",
  );
  // Nor does one re-added for a lost member since etcd last answered (c-1 here), on a fresh
  // volume: it could not even publish its name without a quorum.
  const readded = peer(1, { initialClusterState: "Existing", pod: undefined });
  const cascade = dataLost({
    peers: [allLost[0], readded, allLost[2]],
    knownMembers: ["c-0", "c-2"],
  }, automatic);
  const started = planQuorumRecovery(cascade);
  assert.equal(started?.[0].kind, "startBackupRecovery");
  assert.match(
    (started?.[0] as { reason: string }).reason,
    /c-1: added since etcd last answered, never served/,
  );
  // Listed by the last status, or part of the initial cluster: it may hold data.
  for (
    const overrides of [
      { peers: [allLost[0], readded, allLost[2]] },
      {
        peers: [allLost[0], peer(1, { pod: undefined }), allLost[2]],
        knownMembers: ["c-0", "c-2"],
      },
      { peers: [allLost[0], readded, allLost[2]], knownMembers: [] },
    ]
  ) {
    assert.notEqual(
      planQuorumRecovery(dataLost(overrides, automatic))?.[0].kind,
      "startBackupRecovery",
      JSON.stringify(overrides.knownMembers),
    );
  }
});

Deno.test("a recovery from a backup: clear the lost peers and volumes, restore, start the members, done", () => {
  const restoreName = recoveryRestoreName("c", now);
  assert.match(restoreName, /^c-recovery-[0-9a-z]+$/);
  const restoring: BackupRecovery = { ...fromNew, phase: "restoring", restore: restoreName };
  const step = (recovery: BackupRecovery, overrides: Partial<ClusterObservation>) =>
    planQuorumRecovery(dataLost(overrides, { recovery }))?.[0];
  // Clearing, one peer at a time, then whatever PVC is left.
  assert.deepEqual(step(fromNew, {}), { kind: "deletePeer", peerName: "c-0", deleteVolume: true });
  assert.deepEqual(step(fromNew, { peers: [peer(0, { terminating: true }), allLost[1]] }), {
    kind: "deletePeer",
    peerName: "c-1",
    deleteVolume: true,
  });
  assert.match(
    reasonOf([step(fromNew, { peers: [peer(0, { terminating: true })] })!]),
    /waiting for the lost peers and volumes to go/,
  );
  assert.deepEqual(
    step(fromNew, { peers: [], volumeClaims: [{ name: "c-4", terminating: false }] }),
    {
      kind: "deletePeer",
      peerName: "c-4",
      deleteVolume: true,
    },
  );
  assert.equal(
    step(fromNew, { peers: [], volumeClaims: [{ name: "c-4", terminating: true }] })?.kind,
    "wait",
  );
  assert.deepEqual(step(fromNew, { peers: [] }), {
    kind: "advanceQuorumRecovery",
    recovery: restoring,
  });
  // A member answers after all: nothing of it is deleted.
  const answering = {
    reachable: true as const,
    members: [{ ...survivor(0, 90), healthy: true }],
    leaderId: "id0",
  };
  assert.match(reasonOf([step(fromNew, { etcd: answering })!]), /etcd answers: not deleting/);
  // Restoring: the restore is created, then waited for.
  assert.deepEqual(step(restoring, { peers: [] }), {
    kind: "createRecoveryRestore",
    recovery: restoring,
    replicas: 3,
  });
  const restore = (phase: string | undefined, message?: string) => ({
    name: restoreName,
    phase,
    message,
    replicas: 3,
  });
  assert.match(
    reasonOf([step(restoring, { peers: [], recoveryRestore: restore("Restoring") })!]),
    /EtcdRestore c-recovery-\w+ is filling the members' volumes \(Restoring\)/,
  );
  assert.match(
    reasonOf([step(restoring, { peers: [], recoveryRestore: restore("Failed", "pod failed") })!]),
    /failed \(pod failed\); delete it to try again/,
  );
  // Deleted after failing: what it left goes, and a new attempt gets a new name.
  assert.deepEqual(
    step(restoring, {
      peers: [],
      volumeClaims: [{ name: "c-0", terminating: false, restore: restoreName }],
    }),
    {
      kind: "advanceQuorumRecovery",
      recovery: { ...restoring, phase: "clearing", restore: undefined },
    },
  );
  // Completed: every member starts on its filled volume as the initial cluster.
  const completed = { peers: [], recoveryRestore: restore("Completed") };
  const names = ["c-0", "c-1", "c-2"];
  assert.deepEqual(step(restoring, completed), {
    kind: "createPeers",
    peers: names.map((name) => ({
      name,
      initialClusterState: "New",
      initialCluster: names.map((member) => ({ name: member, host: `${member}.c.ns.svc` })),
      dataExists: true,
    })),
  });
  const started = [0, 1, 2].map((n) =>
    peer(n, { volume: { kind: "present", uid: `r${n}`, recorded: false } })
  );
  assert.match(
    reasonOf([step(restoring, { ...completed, peers: started })!]),
    /waiting for the restored members to serve/,
  );
  const serving = {
    reachable: true as const,
    clusterId: "beef",
    members: [0, 1, 2].map((n) => ({ ...survivor(n, 5), healthy: true })),
    leaderId: "id0",
  };
  assert.deepEqual(step(restoring, { ...completed, peers: started, etcd: serving }), {
    kind: "finishBackupRecovery",
    backup: "new",
    completionTime: "2026-12-03T05:00:00Z",
    clusterId: "beef",
  });
  // The restore deleted once the members run changes nothing.
  assert.equal(step(restoring, { peers: started, etcd: serving })?.kind, "finishBackupRecovery");
  // The whole plan: the new cluster id differs from the recorded one; the recovery decides.
  assert.deepEqual(
    planCluster(dataLost({ ...completed, peers: started, etcd: serving }, { recovery: restoring }))
      .map((s) => s.kind),
    ["finishBackupRecovery"],
  );
});
