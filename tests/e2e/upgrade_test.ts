// The operations guide's "upgrading a cluster", end to end: a rolling upgrade under write load.
import assert from "node:assert/strict";
import {
  apply,
  type Condition,
  kubectl,
  kubectlOk,
  runPodToCompletion,
  sampleClusterIn,
  temporaryNamespace,
} from "./support/cluster.ts";
import { type RunningOperator, startOperator } from "./support/operator.ts";
import { watchPeers } from "./support/peers.ts";
import { clientServiceIP, startWriter } from "./support/writer.ts";

const target = "3.5.21";

interface Peer {
  metadata: { name: string };
  spec: { version: string };
  status?: { serverVersion?: string };
}

async function json<T>(args: string[]): Promise<T> {
  return JSON.parse(await kubectlOk([...args, "-o", "json"])) as T;
}

/** `explain` describes, on a timeout, what was seen instead. */
async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutSeconds: number,
  explain?: () => Promise<unknown>,
) {
  const deadline = Date.now() + timeoutSeconds * 1000;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  const seen = explain ? `; seen instead: ${JSON.stringify(await explain().catch(String))}` : "";
  throw new Error(`timed out after ${timeoutSeconds} s waiting for ${what}${seen}`);
}

async function createCluster(namespace: string): Promise<void> {
  await apply(
    sampleClusterIn(namespace),
  );
  await waitFor("3 healthy members on 3.4.23", async () => {
    const status = (await json<{ status?: { readyReplicas?: number; clusterVersion?: string } }>([
      "get",
      "etcdcluster",
      "-n",
      namespace,
      "my-cluster",
    ])).status; // deno-fmt-ignore
    return status?.readyReplicas === 3 && status.clusterVersion === "3.4.0";
  }, 180);
}

async function upgradeFinished(namespace: string): Promise<boolean> {
  const peers = await json<{ items: Peer[] }>(["get", "etcdpeers", "-n", namespace]);
  const cluster = await json<{
    status?: { clusterVersion?: string; conditions?: { type: string; reason: string }[] };
  }>(["get", "etcdcluster", "-n", namespace, "my-cluster"]);
  const progressing = cluster.status?.conditions?.find((c) => c.type === "Progressing");
  return peers.items.length === 3 &&
    peers.items.every((peer) =>
      peer.spec.version === target && peer.status?.serverVersion === target
    ) &&
    cluster.status?.clusterVersion === "3.5.0" && progressing?.reason !== "Upgrading";
}

async function upgradeUnderLoad(
  namespace: string,
  midway?: (operator: RunningOperator) => Promise<RunningOperator>,
) {
  const scoped = ["--namespace", namespace];
  let operator = startOperator(scoped);
  try {
    await createCluster(namespace);
    const writer = startWriter(await clientServiceIP(namespace, "my-cluster"), 60);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const started = Date.now();
    await kubectlOk([
      "patch",
      "etcdcluster",
      "-n",
      namespace,
      "my-cluster",
      "--type",
      "merge",
      "-p",
      JSON.stringify({ spec: { version: target } }),
    ]);
    if (midway) operator = await midway(operator);
    await waitFor(
      "every peer on 3.5.21 and cluster version 3.5.0",
      () => upgradeFinished(namespace),
      420,
    );
    const seconds = (Date.now() - started) / 1000;
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const result = await writer.stop();
    console.log(
      `upgrade 3.4.23 → ${target}: ${
        seconds.toFixed(1)
      } s; ${result.acknowledged.length} writes acknowledged ` +
        `at ${
          result.rate.toFixed(1)
        }/s, ${result.failed} failed, ${result.missing.length} missing, ` +
        `${result.attempts - result.acknowledged.length - result.failed} retried attempts, ` +
        `${result.reconnects} reconnects`,
    );
    assert.ok(result.rate >= 50, `write rate ${result.rate}`);
    assert.equal(result.failed, 0, "no write may fail during the upgrade");
    assert.deepEqual(result.missing, [], "every acknowledged write survives");
  } finally {
    await operator.stop();
  }
}

async function clusterEventReasons(
  namespace: string,
): Promise<{ reason: string; message: string }[]> {
  const events = await json<
    {
      items: {
        reason: string;
        message: string;
        lastTimestamp?: string;
        firstTimestamp?: string;
        metadata: { creationTimestamp: string };
      }[];
    }
  >([
    "get",
    "events",
    "-n",
    namespace,
    "--field-selector",
    "involvedObject.kind=EtcdCluster",
  ]); // deno-fmt-ignore
  return events.items
    .sort((a, b) => (a.firstTimestamp ?? a.metadata.creationTimestamp).localeCompare(b.firstTimestamp ?? b.metadata.creationTimestamp))
    .map((event) => ({ reason: event.reason, message: event.message }));
}

Deno.test("upgrading a cluster: 3.4.23 → 3.5.21 replaces members highest first, with no failed write at 50+ writes/s", async () => {
  await using namespace = await temporaryNamespace("upgrade");
  await upgradeUnderLoad(namespace.name);
  const events = await clusterEventReasons(namespace.name);
  const upgraded = events.filter((event) => event.reason === "PeerUpgraded").map((event) =>
    /peer (\S+):/.exec(event.message)?.[1]
  );
  assert.deepEqual(
    upgraded,
    ["my-cluster-2", "my-cluster-1", "my-cluster-0"],
    JSON.stringify(events),
  );
  assert.equal(events.filter((event) => event.reason === "UpgradeCompleted").length, 1);
  assert.equal(events.at(-1)?.reason, "UpgradeCompleted", JSON.stringify(events));
  const pvcs = await kubectlOk([
    "get",
    "pvc",
    "-n",
    namespace.name,
    "-o",
    "jsonpath={.items[*].metadata.uid}",
  ]);
  assert.equal(pvcs.split(" ").length, 3, "the volumes are kept");
});

Deno.test("an upgrade resumes after the operator is killed half-way", async () => {
  await using namespace = await temporaryNamespace("upgrade-kill");
  await upgradeUnderLoad(namespace.name, async (operator) => {
    await waitFor(
      "the first peer replaced",
      async () =>
        (await clusterEventReasons(namespace.name)).some((event) =>
          event.reason === "PeerUpgraded"
        ),
      120,
    );
    await operator.kill();
    const logs = operator.logs();
    assert.ok(!logs.includes("UpgradeCompleted"), "killed before the end");
    await new Promise((resolve) => setTimeout(resolve, 3000));
    return startOperator(["--namespace", namespace.name]);
  });
  const peers = await json<{ items: Peer[] }>(["get", "etcdpeers", "-n", namespace.name]);
  assert.deepEqual(peers.items.map((peer) => peer.status?.serverVersion), [target, target, target]);
  const result = await kubectl([
    "get",
    "etcdcluster",
    "-n",
    namespace.name,
    "my-cluster",
    "-o",
    "jsonpath={.status.clusterVersion}",
  ]);
  assert.equal(result.stdout, "3.5.0");
});

async function conditions(namespace: string): Promise<Condition[]> {
  const cluster = await json<{ status?: { conditions?: Condition[] } }>([
    "get",
    "etcdcluster",
    "-n",
    namespace,
    "my-cluster",
  ]);
  return cluster.status?.conditions ?? [];
}

async function scaleReplicaSet(namespace: string, name: string, replicas: number): Promise<void> {
  await kubectlOk(["scale", "replicaset", "-n", namespace, name, "--replicas", String(replicas)]);
}

Deno.test("an upgrade waits while a member is down, says why, and starts by itself once it is back", async () => {
  await using namespace = await temporaryNamespace("upgrade-blocked");
  await using _operator = startOperator(["--namespace", namespace.name]);
  await createCluster(namespace.name);
  // The member's pod goes away, as on a failed node; its volume and etcd membership stay.
  await scaleReplicaSet(namespace.name, "my-cluster-1", 0);
  await waitFor(
    "my-cluster-1 reported unhealthy",
    async () => {
      const degraded = (await conditions(namespace.name)).find((c) => c.type === "Degraded");
      return degraded?.status === "True" && degraded.reason === "MembersUnhealthy" &&
        degraded.message.includes("my-cluster-1");
    },
    60,
    () => conditions(namespace.name),
  );

  await kubectlOk([
    "patch",
    "etcdcluster",
    "-n",
    namespace.name,
    "my-cluster",
    "--type",
    "merge",
    "-p",
    JSON.stringify({ spec: { version: target } }),
  ]);
  await waitFor(
    "the Progressing condition to name the blocker",
    async () => {
      const progressing = (await conditions(namespace.name)).find((c) => c.type === "Progressing");
      // The blocker, and what its pod says about it (scaled away: no pod).
      return progressing?.reason === "Upgrading" &&
        progressing.message ===
          `0/3 members at ${target}: members not healthy: my-cluster-1 (its pod does not exist (yet))`;
    },
    60,
    () => conditions(namespace.name),
  );
  // Several passes later nothing has been replaced.
  await new Promise((resolve) => setTimeout(resolve, 8_000));
  const peers = await json<{ items: Peer[] }>(["get", "etcdpeers", "-n", namespace.name]);
  assert.deepEqual(peers.items.map((peer) => peer.spec.version), ["3.4.23", "3.4.23", "3.4.23"]);
  const early = await clusterEventReasons(namespace.name);
  assert.ok(!early.some((event) => event.reason === "PeerUpgraded"), JSON.stringify(early));

  await scaleReplicaSet(namespace.name, "my-cluster-1", 1);
  await waitFor(
    "every peer on 3.5.21 and cluster version 3.5.0",
    () => upgradeFinished(namespace.name),
    300,
    async () => ({
      conditions: await conditions(namespace.name),
      events: await clusterEventReasons(namespace.name),
      peers: (await json<{ items: Peer[] }>(["get", "etcdpeers", "-n", namespace.name])).items,
    }),
  );
  const events = await clusterEventReasons(namespace.name);
  const upgraded = events.filter((event) => event.reason === "PeerUpgraded").map((event) =>
    /peer (\S+):/.exec(event.message)?.[1]
  );
  assert.deepEqual(upgraded, ["my-cluster-2", "my-cluster-1", "my-cluster-0"]);
  assert.equal(events.at(-1)?.reason, "UpgradeCompleted", JSON.stringify(events));
});

/** etcdctl in a pod of the namespace, against the only member of a one-member cluster. */
function etcdctlOnMember0(namespace: string, podName: string, args: readonly string[]) {
  return runPodToCompletion(namespace, {
    name: podName,
    image: "etcd-operator.local/etcdctl:v3.5.21",
    command: [
      "etcdctl",
      `--endpoints=http://my-cluster-0.my-cluster.${namespace}.svc:2379`,
      "--dial-timeout=5s",
      "--command-timeout=10s",
      ...args,
    ],
  });
}

interface BootstrappedPeer extends Peer {
  metadata: { name: string; uid: string };
  spec: { version: string; bootstrap: { initialClusterState: string } };
}

Deno.test("a one-member cluster upgrades 3.4.23 → 3.5.21 on its kept volume", async () => {
  await using namespace = await temporaryNamespace("upgrade-one");
  // Every version of every peer, so a peer created as "New" and deleted between two reads counts.
  await using peerWatch = watchPeers(namespace.name);
  await using _operator = startOperator(["--namespace", namespace.name]);
  const manifest = sampleClusterIn(namespace.name).replace("replicas: 3\n", "replicas: 1\n");
  assert.notEqual(manifest, sampleClusterIn(namespace.name), "the sample's replicas changed shape");
  await apply(manifest);
  const available = async () => {
    const cluster = await json<{ status?: { readyReplicas?: number; conditions?: Condition[] } }>(
      ["get", "etcdcluster", "-n", namespace.name, "my-cluster"],
    );
    return cluster.status?.readyReplicas === 1 &&
      cluster.status.conditions?.find((c) => c.type === "Available")?.status === "True";
  };
  await waitFor("1 ready member, Available", available, 120, () => conditions(namespace.name));
  const put = await etcdctlOnMember0(namespace.name, "put", ["put", "one-key", "kept"]);
  assert.equal(put.phase, "Succeeded", put.logs);
  const peerBefore = await json<BootstrappedPeer>([
    "get",
    "etcdpeer",
    "-n",
    namespace.name,
    "my-cluster-0",
  ]);
  const pvcUid = () =>
    kubectlOk([
      "get",
      "pvc",
      "-n",
      namespace.name,
      "my-cluster-0",
      "-o",
      "jsonpath={.metadata.uid}",
    ]);
  const volumeBefore = await pvcUid();

  const started = Date.now();
  await kubectlOk([
    "patch",
    "etcdcluster",
    "-n",
    namespace.name,
    "my-cluster",
    "--type",
    "merge",
    "-p",
    JSON.stringify({ spec: { version: target } }),
  ]);
  // No quorum stays up while the only member is replaced: its peer goes, etcd with it, and the
  // operator re-creates the peer as a member of the existing cluster on the same volume.
  await waitFor(
    "my-cluster-0 serving 3.5.21, Available, and an UpgradeCompleted event",
    async () => {
      const peer = await json<BootstrappedPeer>([
        "get",
        "etcdpeer",
        "-n",
        namespace.name,
        "my-cluster-0",
      ]);
      return peer.spec.version === target && peer.status?.serverVersion === target &&
        await available() &&
        (await clusterEventReasons(namespace.name)).some((e) => e.reason === "UpgradeCompleted");
    },
    150,
    async () => ({
      conditions: await conditions(namespace.name),
      events: await clusterEventReasons(namespace.name),
      peers: (await json<{ items: Peer[] }>(["get", "etcdpeers", "-n", namespace.name])).items,
    }),
  );
  console.log(
    `one-member upgrade 3.4.23 → ${target}: ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );

  const get = await etcdctlOnMember0(namespace.name, "get", [
    "get",
    "one-key",
    "--print-value-only",
  ]);
  assert.equal(get.phase, "Succeeded", get.logs);
  assert.equal(get.logs.trim(), "kept", "the key written on 3.4.23 is read on 3.5.21");
  assert.equal(await pvcUid(), volumeBefore, "the member's volume is the same claim");
  const peerAfter = await json<BootstrappedPeer>([
    "get",
    "etcdpeer",
    "-n",
    namespace.name,
    "my-cluster-0",
  ]);
  assert.notEqual(peerAfter.metadata.uid, peerBefore.metadata.uid, "the peer was re-created");
  // A formed cluster never gets a "New" peer: on an empty volume it would start a second cluster.
  assert.equal(peerAfter.spec.bootstrap.initialClusterState, "Existing");
  assert.ok(peerWatch.running(), `the peer watch ended early: ${peerWatch.errors()}`);
  const sightings = peerWatch.sightings();
  assert.deepEqual(
    sightings.slice(1).map((peer) => `${peer.name}:${peer.initialClusterState}`),
    ["my-cluster-0:Existing"],
    `only the first peer bootstraps; seen: ${JSON.stringify(sightings)}`,
  );
  assert.equal(sightings[0]?.uid, peerBefore.metadata.uid, JSON.stringify(sightings));
});
