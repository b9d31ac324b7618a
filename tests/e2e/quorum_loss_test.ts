// A lost quorum, end to end: two of three members lose their volumes at once. Reported and left
// alone until the owner approves (Manual, the default), or recovered by itself (Automatic): the
// surviving member restarts alone on its data, every key it held is kept, writes resume, and the
// cluster grows back to three members.
import assert from "node:assert/strict";
import {
  apply,
  eventually,
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
async function loseTwoVolumes(namespace: string): Promise<void> {
  for (const ordinal of [1, 2]) {
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
