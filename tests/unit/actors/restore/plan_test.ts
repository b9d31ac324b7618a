// The restore planner as data: what exists in, the one next step out; and the pods it builds.
import assert from "node:assert/strict";
import {
  planRestore,
  type RestoreObservation,
  type RestorePodState,
  type RestoreStep,
} from "../../../../actors/restore/plan.ts";
import {
  initialClusterFlag,
  members,
  restorePod,
  type RestoreTarget,
} from "../../../../actors/restore/resources.ts";
import { completedStatus, failedStatus } from "../../../../actors/restore/status.ts";

const uid = "11111111-2222-3333-4444-555555555555";

function target(version = "3.5.21", overrides: Partial<RestoreTarget> = {}): RestoreTarget {
  return {
    restore: { name: "from-backup", namespace: "prod", uid },
    clusterName: "restored",
    clusterSpec: {
      replicas: 3,
      version,
      storage: {
        volumeClaimTemplate: {
          storageClassName: "standard",
          resources: { requests: { storage: "1Gi" } },
        },
      },
      podTemplate: {
        resources: { limits: { cpu: "200m", memory: "200Mi" } },
        affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [] } },
      },
    },
    objectURL: "s3://backups/snap.db?endpoint=http://minio:9000&region=us-east-1",
    snapshot: undefined,
    credentialsSecret: undefined,
    etcdRepository: "quay.io/coreos/etcd",
    operatorImage: "etcd-operator.local/operator:dev",
    ...overrides,
  };
}

const ours = (name: string) => ({ name, restoreUid: uid });
const claims = ["restored-0", "restored-1", "restored-2"].map(ours);
const pod = (ordinal: number, phase: string, failure?: string): RestorePodState => ({
  name: `restored-${ordinal}-restore`,
  phase,
  failure,
});

function observe(overrides: Partial<RestoreObservation> = {}): RestoreObservation {
  return {
    phase: "Restoring",
    target: target(),
    cluster: undefined,
    volumeClaims: claims,
    pods: [pod(0, "Succeeded"), pod(1, "Succeeded"), pod(2, "Succeeded")],
    ...overrides,
  };
}

function kindOf(step: RestoreStep): string {
  return step.kind === "fail" ? `fail:${step.reason}` : step.kind;
}

const cases: readonly (readonly [string, Partial<RestoreObservation>, string])[] = [
  ["a new restore into a free name starts", {
    phase: undefined,
    volumeClaims: [],
    pods: [],
  }, "start"],
  ["a Pending restore into a free name starts", {
    phase: "Pending",
    volumeClaims: [],
    pods: [],
  }, "start"],
  ["a new restore refuses an existing cluster of that name", {
    phase: undefined,
    cluster: { name: "restored", restoreUid: undefined },
    volumeClaims: [],
    pods: [],
  }, "fail:ClusterExists"],
  ["a new restore refuses when a PVC of that cluster exists", {
    phase: undefined,
    volumeClaims: [{ name: "restored-1", restoreUid: undefined }],
    pods: [],
  }, "fail:VolumeClaimsExist"],
  ["a PVC made by another restore of the same name (another uid) is not ours", {
    volumeClaims: [{ name: "restored-0", restoreUid: "someone-else" }],
    pods: [],
  }, "fail:VolumeClaimsExist"],
  ["its own PVCs are not existing data: the restore goes on to its pods", {
    pods: [],
  }, "createPods"],
  ["a restoring restore creates the PVCs it is missing", {
    volumeClaims: [ours("restored-0")],
    pods: [],
  }, "createVolumeClaims"],
  ["restore pods still running are waited for", {
    pods: [pod(0, "Succeeded"), pod(1, "Running"), pod(2, "Pending")],
  }, "wait"],
  ["one failed restore pod fails the restore", {
    pods: [
      pod(0, "Succeeded"),
      pod(1, "Failed", "container restore exited with code 1"),
      pod(2, "Running"),
    ],
  }, "fail:RestorePodFailed"],
  ["when every pod succeeded the cluster is created", {}, "createCluster"],
  ["the cluster this restore created completes it", {
    cluster: ours("restored"),
  }, "complete"],
  ["a cluster someone else created meanwhile fails the restore", {
    cluster: { name: "restored", restoreUid: undefined },
  }, "fail:ClusterExists"],
  ["a completed restore does nothing, even though its cluster exists", {
    phase: "Completed",
    cluster: ours("restored"),
  }, "done"],
  ["a failed restore does nothing", { phase: "Failed" }, "done"],
];

// Into an existing cluster: the recovery of a cluster that lost every member's data.
const clusterUid = "99999999-2222-3333-4444-555555555555";
const recovering = target("3.5.21", { intoCluster: clusterUid });
const recoveringCluster = {
  name: "restored",
  restoreUid: undefined,
  uid: clusterUid,
  recoveryRestore: "from-backup",
};
const intoCases: readonly (readonly [string, Partial<RestoreObservation>, string])[] = [
  ["into the cluster that recorded it: starts", {
    phase: undefined,
    cluster: recoveringCluster,
    volumeClaims: [],
    pods: [],
  }, "start"],
  ["into the cluster that recorded it: fills the volumes", {
    cluster: recoveringCluster,
    volumeClaims: [],
    pods: [],
  }, "createVolumeClaims"],
  ["into the cluster that recorded it: every pod done completes it, creating no cluster", {
    cluster: recoveringCluster,
  }, "complete"],
  ["a cluster whose record names another restore is refused", {
    phase: undefined,
    cluster: { ...recoveringCluster, recoveryRestore: "another" },
    volumeClaims: [],
    pods: [],
  }, "fail:ClusterExists"],
  ["a cluster with no recovery under way is refused", {
    cluster: { ...recoveringCluster, recoveryRestore: undefined },
  }, "fail:ClusterExists"],
  ["a namesake of the cluster (another uid) is refused", {
    phase: undefined,
    cluster: { ...recoveringCluster, uid: "someone-else" },
    volumeClaims: [],
    pods: [],
  }, "fail:ClusterGone"],
  ["the cluster gone: refused", { cluster: undefined }, "fail:ClusterGone"],
  ["a PVC the recovery did not clear is refused as for any restore", {
    phase: undefined,
    cluster: recoveringCluster,
    volumeClaims: [{ name: "restored-1", restoreUid: undefined }],
    pods: [],
  }, "fail:VolumeClaimsExist"],
];
for (const [name, overrides, expected] of intoCases) {
  Deno.test(name, () => {
    assert.equal(kindOf(planRestore(observe({ target: recovering, ...overrides }))), expected);
  });
}

Deno.test("a restore into an existing cluster says so when it starts and completes", () => {
  const start = planRestore(observe({
    target: recovering,
    phase: undefined,
    cluster: recoveringCluster,
    volumeClaims: [],
    pods: [],
  }));
  assert.equal(start.kind, "start");
  assert.match(
    (start as { message: string }).message,
    /into 3 member\(s\) of the volumes of existing cluster restored, recovering from a lost quorum/,
  );
  const complete = planRestore(observe({ target: recovering, cluster: recoveringCluster }));
  assert.match(
    (complete as { message: string }).message,
    /EtcdCluster restored, which starts them/,
  );
});

for (const [name, overrides, expected] of cases) {
  Deno.test(name, () => {
    assert.equal(kindOf(planRestore(observe(overrides))), expected);
  });
}

Deno.test("a refusal names what exists and says nothing was touched", () => {
  const step = planRestore(observe({
    phase: undefined,
    volumeClaims: [{ name: "restored-2", restoreUid: undefined }, {
      name: "restored-0",
      restoreUid: undefined,
    }],
  }));
  assert.equal(step.kind, "fail");
  if (step.kind !== "fail") return;
  assert.match(step.message, /\(restored-0, restored-2\)/);
  assert.match(step.message, /touched nothing/);
});

Deno.test("the failure message carries the pod's log tail", () => {
  const step = planRestore(observe({
    pods: [pod(0, "Failed", "container fetch exited with code 1: object: no such key")],
  }));
  assert.deepEqual(step, {
    kind: "fail",
    reason: "RestorePodFailed",
    message:
      "restore pod restored-0-restore failed: container fetch exited with code 1: object: no such key",
  });
});

Deno.test("only the missing PVCs are created, labelled as the peers' and marked with the uid", () => {
  const step = planRestore(observe({ volumeClaims: [ours("restored-1")], pods: [] }));
  assert.equal(step.kind, "createVolumeClaims");
  if (step.kind !== "createVolumeClaims") return;
  assert.deepEqual(step.claims.map((claim) => claim.metadata.name), ["restored-0", "restored-2"]);
  const claim = step.claims[0];
  assert.equal(claim.metadata.labels?.["etcd.improbable.io/cluster-name"], "restored");
  assert.equal(claim.metadata.labels?.["etcd.improbable.io/peer-name"], "restored-0");
  assert.equal(claim.metadata.labels?.["etcd.improbable.io/restore"], "from-backup");
  assert.equal(claim.metadata.annotations?.["etcd.improbable.io/restore-uid"], uid);
  assert.equal(claim.metadata.ownerReferences, undefined);
});

Deno.test("the initial cluster lists every member with the peer URL its pod advertises", () => {
  assert.equal(
    initialClusterFlag(members(target())),
    "restored-0=http://restored-0.restored.prod.svc:2380," +
      "restored-1=http://restored-1.restored.prod.svc:2380," +
      "restored-2=http://restored-2.restored.prod.svc:2380",
  );
});

// deno-lint-ignore no-explicit-any
type Json = any;

function podSpec(version: string, overrides: Partial<RestoreTarget> = {}): Json {
  const member = members(target(version, overrides))[1];
  return (restorePod(target(version, overrides), member) as Json).spec;
}

Deno.test("etcd 3.5 restores with etcdutl straight into the member's data directory", () => {
  const spec = podSpec("3.5.21");
  const restore = spec.containers[0];
  assert.equal(restore.image, "quay.io/coreos/etcd:v3.5.21");
  assert.deepEqual(restore.command, [
    "/usr/local/bin/etcdutl",
    "snapshot",
    "restore",
    "/restore/snapshot.db",
    "--name",
    "restored-1",
    "--initial-cluster",
    initialClusterFlag(members(target())),
    "--initial-cluster-token",
    "restored",
    "--initial-advertise-peer-urls",
    "http://restored-1.restored.prod.svc:2380",
    "--data-dir",
    "/var/lib/etcd",
  ]);
  assert.deepEqual(restore.volumeMounts.map((mount: Json) => mount.mountPath), [
    "/restore",
    "/var/lib/etcd",
  ]);
});

Deno.test("etcd 3.4 restores with etcdctl (v3 API) into a staging dir, then moves member in", () => {
  const restore = podSpec("3.4.23").containers[0];
  assert.equal(restore.image, "quay.io/coreos/etcd:v3.4.23");
  assert.deepEqual(restore.command.slice(0, 2), ["/bin/sh", "-c"]);
  assert.match(restore.command[2], /ETCDCTL_API=3 \/usr\/local\/bin\/etcdctl "\$@"/);
  assert.match(
    restore.command[2],
    /mv \/var\/lib\/etcd\/\.restore\/member \/var\/lib\/etcd\/member/,
  );
  const args = restore.command.slice(4);
  assert.deepEqual(args.slice(0, 5), [
    "snapshot",
    "restore",
    "/restore/snapshot.db",
    "--name",
    "restored-1",
  ]);
  assert.deepEqual(args.slice(-2), ["--data-dir", "/var/lib/etcd/.restore"]);
});

Deno.test("the restore pod runs once, owned by the restore, with the cluster's affinity and resources", () => {
  const member = members(target())[0];
  const pod = restorePod(target(), member) as Json;
  assert.equal(pod.metadata.name, "restored-0-restore");
  assert.equal(pod.metadata.labels["etcd.improbable.io/restore"], "from-backup");
  assert.equal(pod.metadata.labels["etcd.improbable.io/cluster-name"], undefined);
  assert.deepEqual(pod.metadata.ownerReferences[0], {
    apiVersion: "etcd.improbable.io/v1alpha1",
    kind: "EtcdRestore",
    name: "from-backup",
    uid,
    controller: true,
    blockOwnerDeletion: true,
  });
  assert.equal(pod.spec.restartPolicy, "Never");
  assert.deepEqual(pod.spec.affinity, target().clusterSpec.podTemplate?.affinity);
  assert.deepEqual(pod.spec.containers[0].resources, { limits: { cpu: "200m", memory: "200Mi" } });
  assert.deepEqual(pod.spec.volumes[1], {
    name: "data",
    persistentVolumeClaim: { claimName: "restored-0" },
  });
});

Deno.test("the download checks the writing backup's sha256 and uid and takes credentials from the named Secret", () => {
  const sha256 = "ab".repeat(32);
  const snapshot = { backupName: "nightly-1", backupUID: "backup-uid-1", sha256 };
  const fetch = podSpec("3.5.21", { snapshot, credentialsSecret: "minio" }).initContainers[0];
  assert.equal(fetch.image, "etcd-operator.local/operator:dev");
  assert.deepEqual(fetch.command, [
    "/usr/local/bin/deno",
    "run",
    "-A",
    "--cached-only",
    "/app/mod.ts",
    "object",
    "get",
    target().objectURL,
    "--file",
    "/restore/snapshot.db",
    "--sha256",
    sha256,
    "--metadata",
    "etcd-backup-uid=backup-uid-1",
  ]);
  assert.deepEqual(fetch.envFrom, [{ secretRef: { name: "minio" } }]);
  assert.equal(fetch.securityContext.runAsNonRoot, true);
});

Deno.test("without credentials or a recorded digest the download takes neither", () => {
  const fetch = podSpec("3.5.21").initContainers[0];
  assert.equal(fetch.envFrom, undefined);
  assert.equal(fetch.command.includes("--sha256"), false);
  assert.equal(fetch.command.includes("--metadata"), false);
});

Deno.test("the created cluster is the template, owned by nobody and marked with the restore", () => {
  const step = planRestore(observe());
  assert.equal(step.kind, "createCluster");
  if (step.kind !== "createCluster") return;
  const cluster = step.cluster as Json;
  assert.equal(cluster.metadata.name, "restored");
  assert.equal(cluster.metadata.ownerReferences, undefined);
  assert.equal(cluster.metadata.annotations["etcd.improbable.io/restore-uid"], uid);
  assert.deepEqual(cluster.spec, target().clusterSpec);
});

Deno.test("the condition keeps its transition time while its status holds", () => {
  const first = failedStatus(
    { previous: [], generation: 1, now: "2026-01-01T00:00:00Z" },
    "X",
    "m",
  );
  assert.equal(first.phase, "Failed");
  const done = completedStatus({
    previous: first.conditions ?? [],
    generation: 1,
    now: "2026-01-01T00:01:00Z",
  }, "ok");
  assert.equal(done.conditions?.[0].lastTransitionTime, "2026-01-01T00:01:00Z");
  assert.equal(done.conditions?.[0].status, "True");
});
