// A lost quorum, end to end: two of three members lose their volumes at once. Reported and left
// alone until the owner approves (Manual, the default), or recovered by itself (Automatic): the
// surviving member restarts alone on its data, every key it held is kept, writes resume, and the
// cluster grows back to three members.
import assert from "node:assert/strict";
import {
  apply,
  e2e,
  eventually,
  getJson,
  kubectl,
  kubectlOk,
  sampleClusterIn,
  temporaryNamespace,
} from "./support/cluster.ts";
import { killedAt, startOperator } from "./support/operator.ts";
import {
  clusterName,
  clusterStatus,
  condition,
  eventReasons,
  healthy,
  waitHealthy,
} from "./support/health.ts";
import { clientServiceIP, startWriter, storedKeys, writeOnce } from "./support/writer.ts";

const peerLabel = "etcd.improbable.io/peer-name";
const graceSeconds = 20;

/** Keys acknowledged by a writer that ran for a few seconds, then a quiet moment to catch up. */
async function writeSome(serviceIP: string): Promise<string[]> {
  const writer = startWriter(serviceIP, 20);
  await new Promise((resolve) => setTimeout(resolve, 5_000));
  const result = await writer.stop();
  assert.equal(result.failed, 0);
  assert.deepEqual(result.missing, []);
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  return [...result.acknowledged];
}

/** The disks of two members are gone, and so are their pods. */
function loseTwoVolumes(namespace: string): Promise<void> {
  return loseVolumes(namespace, [1, 2]);
}

async function loseVolumes(namespace: string, ordinals: readonly number[]): Promise<void> {
  for (const ordinal of ordinals) {
    const peer = `${clusterName}-${ordinal}`;
    await kubectlOk(["delete", "pvc", "-n", namespace, peer, "--wait=false"]);
    await kubectlOk([
      "delete",
      "pod",
      "-n",
      namespace,
      "-l",
      `${peerLabel}=${peer}`,
      "--wait=false",
    ]);
  }
}

async function recovered(
  namespace: string,
  serviceIP: string,
  keys: readonly string[],
  faultAt: number,
  /** Each step's Event dies with an operator killed right after the step (as under SIGKILL). */
  expectEvents = true,
) {
  await eventually(
    "a write through the client Service",
    () => writeOnce(serviceIP, `after-${Date.now()}`),
    (ok) => ok,
    300,
    1_000,
  );
  const writable = (Date.now() - faultAt) / 1000;
  const stored = await storedKeys(serviceIP);
  assert.deepEqual(keys.filter((key) => !stored.has(key)), [], "every key the survivor held");
  await waitHealthy(namespace, 3, 300);
  const full = (Date.now() - faultAt) / 1000;
  const reasons = expectEvents ? await eventReasons(namespace) : [];
  for (
    const reason of expectEvents
      ? ["QuorumRecoveryStarted", "MemberRestarted", "QuorumRestored"]
      : []
  ) {
    assert.ok(reasons.includes(reason), `Event ${reason}: ${reasons}`);
  }
  return { writable, full };
}

Deno.test("quorum lost with the default Manual policy: explained, untouched until approved, then recovered with every key", async () => {
  await using namespace = await temporaryNamespace("quorummanual");
  await using operator = startOperator([
    "--namespace",
    namespace.name,
    "--replace-unschedulable-after",
    String(graceSeconds),
  ]);
  await apply(sampleClusterIn(namespace.name));
  await waitHealthy(namespace.name, 3);
  const serviceIP = await clientServiceIP(namespace.name, clusterName);
  const keys = await writeSome(serviceIP);
  const faultAt = Date.now();
  await loseTwoVolumes(namespace.name);
  const waiting = await eventually(
    "Available=False QuorumLost, waiting for approval",
    () => clusterStatus(namespace.name),
    (status) => /waits for approval/.test(condition(status, "Available")?.message ?? ""),
    120 + graceSeconds,
  );
  const message = condition(waiting!, "Available")!.message;
  console.log(`manual: ${message}`);
  assert.equal(condition(waiting!, "Available")?.reason, "QuorumLost");
  assert.match(message, new RegExp(`${clusterName}-0: answers, raft index \\d+`));
  // The first member to go may already have been replaced (removed, re-added as a learner that
  // cannot start without a quorum) before the second went: at least one voter is down.
  assert.match(message, new RegExp(`${clusterName}-[12]: down \\(`));
  // Nothing happens without the approval.
  await new Promise((resolve) => setTimeout(resolve, 10_000));
  assert.ok(!(await eventReasons(namespace.name)).includes("QuorumRecoveryStarted"));
  assert.ok(!(await writeOnce(serviceIP, "refused")), "no quorum, no write");
  const approvedAt = Date.now();
  await kubectlOk([
    "annotate",
    "etcdcluster",
    "-n",
    namespace.name,
    clusterName,
    "--overwrite",
    `etcd.improbable.io/approve-quorum-recovery=${
      new Date().toISOString().replace(/\.\d+Z$/, "Z")
    }`,
  ]);
  const { writable, full } = await recovered(namespace.name, serviceIP, keys, approvedAt);
  console.log(
    `manual: ${keys.length} keys kept; writable ${writable.toFixed(1)} s and 3 healthy members ` +
      `${full.toFixed(1)} s after the approval (${((approvedAt - faultAt) / 1000).toFixed(1)} s ` +
      `after the fault)`,
  );
  const status = await clusterStatus(namespace.name);
  assert.ok(healthy(status, 3));
  void operator;
});

Deno.test("quorum lost with quorumLossRecovery Automatic: recovered by itself once the grace period is over", async () => {
  await using namespace = await temporaryNamespace("quorumauto");
  await using operator = startOperator([
    "--namespace",
    namespace.name,
    "--replace-unschedulable-after",
    String(graceSeconds),
  ]);
  await apply(
    sampleClusterIn(namespace.name).replace(
      /\nspec:\n/,
      "\nspec:\n  quorumLossRecovery: Automatic\n",
    ),
  );
  await waitHealthy(namespace.name, 3);
  const serviceIP = await clientServiceIP(namespace.name, clusterName);
  const keys = await writeSome(serviceIP);
  const faultAt = Date.now();
  await loseTwoVolumes(namespace.name);
  // The first write after the fault may still commit (the pods take a moment to go): only a
  // refused one shows the quorum lost, after which "writable again" means recovered.
  await eventually(
    "a write refused: the quorum lost",
    () => writeOnce(serviceIP, `during-${Date.now()}`),
    (ok) => !ok,
    120,
    500,
  );
  const { writable, full } = await recovered(namespace.name, serviceIP, keys, faultAt);
  console.log(
    `automatic: ${keys.length} keys kept; writable ${writable.toFixed(1)} s and 3 healthy ` +
      `members ${full.toFixed(1)} s after the fault (grace period ${graceSeconds} s)`,
  );
  void operator;
  void kubectl;
});

Deno.test("a quorum recovery resumes after the operator is killed after every one of its steps", async () => {
  await using namespace = await temporaryNamespace("quorumkilled");
  const flags = ["--replace-unschedulable-after", String(graceSeconds)];
  {
    await using operator = startOperator(["--namespace", namespace.name, ...flags]);
    await apply(
      sampleClusterIn(namespace.name).replace(
        /\nspec:\n/,
        "\nspec:\n  quorumLossRecovery: Automatic\n",
      ),
    );
    await waitHealthy(namespace.name, 3);
    void operator;
  }
  const serviceIP = await clientServiceIP(namespace.name, clusterName);
  const keys = await writeSome(serviceIP);
  const faultAt = Date.now();
  await loseTwoVolumes(namespace.name);
  await killedAt(namespace.name, [
    "after:startQuorumRecovery",
    "after:restartPeer", // the survivor goes, to come back alone
    "after:createPeers", // … with --force-new-cluster
    "after:advanceQuorumRecovery",
    "after:restartPeer", // the survivor goes again, to come back without the flag
    "after:createPeers",
    "after:finishQuorumRecovery",
  ], flags);
  await using operator = startOperator(["--namespace", namespace.name, ...flags]);
  const { writable, full } = await recovered(namespace.name, serviceIP, keys, faultAt, false);
  console.log(
    `killed after every step: ${keys.length} keys kept; writable ${writable.toFixed(1)} s and ` +
      `3 healthy members ${full.toFixed(1)} s after the fault`,
  );
  void operator;
});

// ---- Every member's data lost: recovery from the latest backup ----

interface Phased {
  readonly status?: { readonly phase?: string };
}

/**
 * A 3-member cluster with keys, a Completed backup of it in MinIO, then more keys the backup does
 * not hold; the operator that did it is stopped. Returns the keys on each side of the backup.
 */
async function backedUpCluster(namespace: string, flags: readonly string[]) {
  await using operator = startOperator(["--namespace", namespace, ...flags]);
  await apply(
    sampleClusterIn(namespace).replace(/\nspec:\n/, "\nspec:\n  quorumLossRecovery: Automatic\n"),
  );
  await waitHealthy(namespace, 3);
  const serviceIP = await clientServiceIP(namespace, clusterName);
  const kept = await writeSome(serviceIP);
  const s3 = e2e.s3();
  await apply(JSON.stringify({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "minio", namespace },
    stringData: { AWS_ACCESS_KEY_ID: s3.accessKey, AWS_SECRET_ACCESS_KEY: s3.secretKey },
  }));
  const takeBackup = async (name: string) => {
    await apply(JSON.stringify({
      apiVersion: "etcd.improbable.io/v1alpha1",
      kind: "EtcdBackup",
      metadata: { name, namespace },
      spec: {
        source: { clusterURL: `http://${clusterName}-client.${namespace}.svc:2379` },
        destination: {
          // As the operator reaches MinIO; the restore pods reach the same address.
          objectURLTemplate:
            `s3://${s3.bucket}/${namespace}/${name}.db?endpoint=${s3.endpoint}&region=${s3.region}`,
        },
        credentialsSecretRef: { name: "minio" },
      },
    }));
    return await eventually(
      `backup ${name} finished`,
      () =>
        getJson<Phased & { status?: { conditions?: { reason?: string }[] } }>(
          ["etcdbackup", "-n", namespace, name],
        ),
      (found) => found?.status?.phase === "Completed" || found?.status?.phase === "Failed",
      120,
    );
  };
  let backup = await takeBackup("before-loss");
  // A backup that could not reach etcd is Failed for good, by design (a schedule takes the next
  // one). Seen in CI as a first dial to a member that did not answer within 10 s: this test is
  // about the recovery, so one more backup is taken, and the miss is printed.
  if (backup?.status?.conditions?.some((condition) => condition.reason === "EtcdUnreachable")) {
    console.log(`backup: before-loss could not reach etcd: ${JSON.stringify(backup.status)}`);
    backup = await takeBackup("before-loss-again");
  }
  assert.equal(backup?.status?.phase, "Completed", JSON.stringify(backup?.status));
  const after: string[] = [];
  for (let i = 0; i < 20; i++) {
    const key = `u-after-backup-${i}`;
    // One try has a 2 s deadline; a write that lands in a snapshot's I/O burst may need another.
    await eventually(`write ${key}`, () => writeOnce(serviceIP, key), (ok) => ok, 20, 500);
    after.push(key);
  }
  void operator;
  return { serviceIP, kept, after };
}

async function recoveredFromBackup(
  namespace: string,
  serviceIP: string,
  keys: { readonly kept: readonly string[]; readonly after: readonly string[] },
  faultAt: number,
) {
  await eventually(
    "a write through the client Service",
    () => writeOnce(serviceIP, `after-${Date.now()}`),
    (ok) => ok,
    420,
    1_000,
  );
  const writable = (Date.now() - faultAt) / 1000;
  const stored = await storedKeys(serviceIP);
  assert.deepEqual(keys.kept.filter((key) => !stored.has(key)), [], "every key the backup held");
  assert.deepEqual(
    keys.after.filter((key) => stored.has(key)),
    [],
    "the data is the backup's: writes after it are gone",
  );
  await waitHealthy(namespace, 3, 300);
  const full = (Date.now() - faultAt) / 1000;
  const restores = await getJson<{ items: (Phased & { metadata: { name: string } })[] }>([
    "etcdrestores",
    "-n",
    namespace,
  ]);
  assert.deepEqual(
    restores?.items.map((restore) => restore.status?.phase),
    ["Completed"],
    JSON.stringify(restores?.items.map((restore) => restore.metadata.name)),
  );
  return { writable, full };
}

Deno.test("every member's data lost: recovered from the latest backup into the same cluster", async () => {
  await using namespace = await temporaryNamespace("quorumbackup");
  const flags = ["--replace-unschedulable-after", String(graceSeconds)];
  const { serviceIP, kept, after } = await backedUpCluster(namespace.name, flags);
  // Live: the operator may replace the first member to go before the others are gone.
  await using operator = startOperator(["--namespace", namespace.name, ...flags]);
  await waitHealthy(namespace.name, 3);
  const faultAt = Date.now();
  await loseVolumes(namespace.name, [0, 1, 2]);
  const lost = await eventually(
    "Available=False DataLost",
    () => clusterStatus(namespace.name),
    (status) => condition(status, "Available")?.reason === "DataLost",
    120,
  );
  console.log(`backup: ${condition(lost!, "Available")!.message}`);
  assert.match(condition(lost!, "Available")!.message, /EtcdBackup before-loss/);
  const { writable, full } = await recoveredFromBackup(
    namespace.name,
    serviceIP,
    { kept, after },
    faultAt,
  );
  const reasons = await eventReasons(namespace.name);
  for (const reason of ["QuorumRecoveryStarted", "RestoreCreated", "QuorumRestored"]) {
    assert.ok(reasons.includes(reason), `Event ${reason}: ${reasons}`);
  }
  console.log(
    `backup: ${kept.length} keys of the backup kept, ${after.length} later writes gone; writable ` +
      `${writable.toFixed(1)} s and 3 healthy members ${full.toFixed(1)} s after the fault ` +
      `(grace period ${graceSeconds} s)`,
  );
  void operator;
});

Deno.test("a recovery from a backup resumes after the operator is killed after every one of its steps", async () => {
  await using namespace = await temporaryNamespace("quorumbackupkilled");
  const flags = ["--replace-unschedulable-after", String(graceSeconds)];
  const { serviceIP, kept, after } = await backedUpCluster(namespace.name, flags);
  const faultAt = Date.now();
  await loseVolumes(namespace.name, [0, 1, 2]);
  await killedAt(namespace.name, [
    "after:startBackupRecovery",
    "after:deletePeer", // the first lost peer and its volume go
    "after:advanceQuorumRecovery", // cleared: to restoring
    "after:createRecoveryRestore",
    "after:createPeers", // the restore completed: the members start on its volumes
    "after:finishBackupRecovery",
  ], flags);
  await using operator = startOperator(["--namespace", namespace.name, ...flags]);
  const { writable, full } = await recoveredFromBackup(
    namespace.name,
    serviceIP,
    { kept, after },
    faultAt,
  );
  console.log(
    `backup, killed after every step: ${kept.length} keys kept; writable ${
      writable.toFixed(1)
    } s ` +
      `and 3 healthy members ${full.toFixed(1)} s after the fault`,
  );
  void operator;
});
