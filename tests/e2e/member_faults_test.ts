// Members that fail, end to end: each case under a writer through the client Service, ending at
// the spec with every member healthy, 0 failed and 0 lost acknowledged writes.
//
// The operator is killed (a failpoint: it exits at once, as SIGKILL would leave it) right after
// every step of a replacement, and each time a fresh one carries on from what it finds.
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
  type ClusterStatus,
  clusterStatus,
  condition,
  eventReasons,
  healthy,
  underWriter,
  waitHealthy,
} from "./support/health.ts";

const peerLabel = "etcd.improbable.io/peer-name";

async function deletePeerPod(namespace: string, peer: string): Promise<void> {
  await kubectlOk(["delete", "pod", "-n", namespace, "-l", `${peerLabel}=${peer}`, "--wait=false"]);
}

async function nodeNames(): Promise<string[]> {
  return (await kubectlOk(["get", "nodes", "-o", "jsonpath={.items[*].metadata.name}"]))
    .split(/\s+/).filter(Boolean);
}

/** Cordons every node until disposed: new pods stay Pending, "unschedulable". */
async function cordoned(): Promise<AsyncDisposable> {
  const nodes = await nodeNames();
  for (const node of nodes) await kubectlOk(["cordon", node]);
  return {
    async [Symbol.asyncDispose]() {
      for (const node of nodes) await kubectl(["uncordon", node]);
    },
  };
}

async function createCluster(namespace: string): Promise<ClusterStatus> {
  await using operator = startOperator(["--namespace", namespace]);
  await apply(sampleClusterIn(namespace));
  const status = await waitHealthy(namespace, 3);
  void operator;
  return status;
}

const idOf = (status: ClusterStatus, name: string) =>
  status.members?.find((member) => member.name === name)?.id;

Deno.test("a member whose volume is lost is replaced, the operator killed after every step, under a writer", async () => {
  await using namespace = await temporaryNamespace("lostvolume");
  const before = await createCluster(namespace.name);
  const oldId = idOf(before, `${clusterName}-2`);
  await underWriter(namespace.name, "volume lost", async () => {
    // The disk and the pod are gone; the new pod finds no volume.
    const started = Date.now();
    await kubectlOk(["delete", "pvc", "-n", namespace.name, `${clusterName}-2`, "--wait=false"]);
    await deletePeerPod(namespace.name, `${clusterName}-2`);
    const points = [
      "after:removeMember",
      "deletePeer:afterVolume",
      "after:deletePeer",
      "after:addLearner",
      "after:createPeers",
      "after:promote",
    ];
    await killedAt(namespace.name, points);
    await using operator = startOperator(["--namespace", namespace.name]);
    const after = await waitHealthy(namespace.name, 3);
    const seconds = (Date.now() - started) / 1000;
    const newId = idOf(after, `${clusterName}-2`);
    assert.ok(newId && newId !== oldId, `a new member replaced ${oldId}: ${newId}`);
    console.log(`volume lost: healthy at 3 members again ${seconds.toFixed(1)} s after the fault`);
    // (Each step's Event died with the operator that took it, as it would under SIGKILL; the
    // unschedulable case below checks the Events of a replacement.)
    void operator;
  });
});

Deno.test("a member pod deleted comes back as the same member; nothing is replaced", async () => {
  await using namespace = await temporaryNamespace("podgone");
  const before = await createCluster(namespace.name);
  await using operator = startOperator(["--namespace", namespace.name]);
  let after: ClusterStatus = {};
  await underWriter(namespace.name, "pod deleted", async () => {
    const started = Date.now();
    await deletePeerPod(namespace.name, `${clusterName}-1`);
    // The pod is recreated on its kept volume: first the member is down, then back.
    await eventually(
      "the member to go down",
      () => clusterStatus(namespace.name),
      (status) => !healthy(status, 3),
      60,
      250,
    ).catch(() => undefined);
    after = await waitHealthy(namespace.name, 3);
    console.log(`pod deleted: healthy again ${((Date.now() - started) / 1000).toFixed(1)} s later`);
  });
  assert.deepEqual(after.members, before.members, "the same members, the same ids");
  assert.ok(!(await eventReasons(namespace.name)).includes("MemberReplaced"));
  void operator;
});

Deno.test("a member whose pod cannot be scheduled is replaced after the grace period; the condition quotes the scheduler", async () => {
  await using namespace = await temporaryNamespace("unschedulable");
  const before = await createCluster(namespace.name);
  const oldId = idOf(before, `${clusterName}-2`);
  await using operator = startOperator([
    "--namespace",
    namespace.name,
    "--replace-unschedulable-after",
    "20",
  ]);
  await underWriter(namespace.name, "unschedulable", async () => {
    const started = Date.now();
    {
      await using _nodes = await cordoned();
      await deletePeerPod(namespace.name, `${clusterName}-2`);
      const degraded = await eventually(
        "Degraded to quote the scheduler",
        () => clusterStatus(namespace.name),
        (status) =>
          /cannot be scheduled since \S+: .*unschedulable/.test(
            condition(status, "Degraded")?.message ?? "",
          ),
        90,
      );
      console.log(`unschedulable: ${condition(degraded, "Degraded")?.message}`);
      await eventually(
        "the unschedulable member to be replaced",
        () => eventReasons(namespace.name),
        (reasons) => reasons.includes("MemberReplaced"),
        120,
      );
      // Its replacement needs a node too: the nodes come back.
    }
    const after = await waitHealthy(namespace.name, 3);
    const seconds = (Date.now() - started) / 1000;
    const newId = idOf(after, `${clusterName}-2`);
    assert.ok(newId && newId !== oldId, `a new member replaced ${oldId}: ${newId}`);
    console.log(`unschedulable: healthy at 3 members ${seconds.toFixed(1)} s after the fault`);
  });
  void operator;
});

Deno.test("a learner that never starts does not block scaling back down", async () => {
  await using namespace = await temporaryNamespace("stuck");
  await createCluster(namespace.name);
  await using operator = startOperator(["--namespace", namespace.name]);
  await underWriter(namespace.name, "stuck learner", async () => {
    await using _nodes = await cordoned();
    await kubectlOk(["scale", "etcdcluster", "-n", namespace.name, clusterName, "--replicas", "4"]);
    await eventually(
      "a learner that cannot start",
      () => clusterStatus(namespace.name),
      (status) => /learner .*-3/.test(condition(status, "Progressing")?.message ?? ""),
      90,
    );
    const started = Date.now();
    await kubectlOk(["scale", "etcdcluster", "-n", namespace.name, clusterName, "--replicas", "3"]);
    await waitHealthy(namespace.name, 3, 120);
    console.log(`stuck learner: back at 3 in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const peers = await kubectlOk(["get", "etcdpeers", "-n", namespace.name, "-o", "name"]);
    assert.ok(!peers.includes(`${clusterName}-3`), `the learner's peer is gone: ${peers}`);
    const claims = await kubectlOk(["get", "pvc", "-n", namespace.name, "-o", "name"]);
    assert.ok(!claims.includes(`${clusterName}-3`), `the learner's volume is gone: ${claims}`);
  });
  void operator;
});

Deno.test("a mistyped version rolled back re-creates the member that could never start", async () => {
  await using namespace = await temporaryNamespace("typo");
  await createCluster(namespace.name);
  await using operator = startOperator(["--namespace", namespace.name]);
  await underWriter(namespace.name, "typo", async () => {
    const patch = (version: string) =>
      kubectlOk([
        "patch",
        "etcdcluster",
        "-n",
        namespace.name,
        clusterName,
        "--type",
        "merge",
        "-p",
        JSON.stringify({ spec: { version } }),
      ]);
    await patch("3.4.99");
    const stuck = await eventually(
      "the first upgraded member to fail to pull its image",
      () => clusterStatus(namespace.name),
      (status) => /image cannot be pulled/.test(condition(status, "Degraded")?.message ?? ""),
      120,
    );
    console.log(`typo: ${condition(stuck, "Degraded")?.message}`);
    const started = Date.now();
    await patch("3.4.23");
    await waitHealthy(namespace.name, 3, 180);
    console.log(`typo rolled back: healthy in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const versions = await kubectlOk([
      "get",
      "etcdpeers",
      "-n",
      namespace.name,
      "-o",
      "jsonpath={.items[*].spec.version}",
    ]);
    assert.deepEqual(versions.split(/\s+/).filter(Boolean), ["3.4.23", "3.4.23", "3.4.23"]);
  });
  void operator;
});

Deno.test("scaling down and up resume after the operator is killed after every step, under a writer", async () => {
  await using namespace = await temporaryNamespace("killedscale");
  await createCluster(namespace.name);
  await underWriter(namespace.name, "killed scaling", async () => {
    const scale = (replicas: number) =>
      kubectlOk([
        "scale",
        "etcdcluster",
        "-n",
        namespace.name,
        clusterName,
        "--replicas",
        String(replicas),
      ]);
    let started = Date.now();
    await scale(2);
    await killedAt(namespace.name, ["after:removeMember", "deletePeer:afterVolume"]);
    {
      await using operator = startOperator(["--namespace", namespace.name]);
      await waitHealthy(namespace.name, 2);
      void operator;
    }
    console.log(`killed scale-down: at 2 in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    // The highest ordinal leaves, unless another member was down when the scale-down was
    // planned (a slow health probe on a busy machine is enough): that one leaves instead.
    const kept = ((await clusterStatus(namespace.name)).members ?? []).map((m) => m.name);
    const removed = [0, 1, 2].map((n) => `${clusterName}-${n}`).filter((n) => !kept.includes(n));
    assert.equal(removed.length, 1, `one member removed: kept ${kept}`);
    // The removed member's volume went before its peer: nothing of it is left to mount (it may
    // still be finishing: a PVC goes once the last pod using it has stopped).
    await eventually(
      `${removed[0]}'s volume gone`,
      () => kubectlOk(["get", "pvc", "-n", namespace.name, "-o", "name"]),
      (claims) => !claims.split("\n").includes(`persistentvolumeclaim/${removed[0]}`),
      60,
    );
    started = Date.now();
    await scale(3);
    await killedAt(namespace.name, ["after:addLearner", "after:createPeers", "after:promote"]);
    {
      await using operator = startOperator(["--namespace", namespace.name]);
      await waitHealthy(namespace.name, 3);
      void operator;
    }
    console.log(`killed scale-up: at 3 in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });
});
