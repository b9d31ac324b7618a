// The operations guide's "upgrading a cluster", end to end: a rolling upgrade under write load.
import assert from "node:assert/strict";
import {
  apply,
  type Condition,
  kubectl,
  kubectlOk,
  sampleClusterIn,
  temporaryNamespace,
} from "./support/cluster.ts";
import { type RunningOperator, startOperator } from "./support/operator.ts";
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
      return progressing?.reason === "Upgrading" &&
        progressing.message === `0/3 members at ${target}: members not healthy: my-cluster-1`;
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
