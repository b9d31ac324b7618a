// The operations guide's cluster sections, end to end: creating, status, scaling, deleting.
import assert from "node:assert/strict";
import { EtcdClient } from "../../etcd/client.ts";
import { moveLeader } from "../../etcd/members.ts";
import {
  apply,
  kubectl,
  kubectlOk,
  runPodToCompletion,
  sampleCluster,
  sampleClusterIn,
  temporaryNamespace,
} from "./support/cluster.ts";
import { startOperator } from "./support/operator.ts";

const clientImage = "etcd-operator.local/etcdctl:v3.5.21";
interface ClusterStatus {
  readonly replicas?: number;
  readonly readyReplicas?: number;
  readonly members?: readonly { name: string; id: string }[];
  readonly leader?: string;
  readonly clusterVersion?: string;
  readonly observedGeneration?: number;
  readonly conditions?: readonly {
    type: string;
    status: string;
    reason: string;
    message: string;
  }[];
}

async function clusterStatus(namespace: string, name: string): Promise<ClusterStatus> {
  const result = await kubectl([
    "get",
    "etcdcluster",
    "-n",
    namespace,
    name,
    "-o",
    "jsonpath={.status}",
  ]);
  return result.success && result.stdout ? JSON.parse(result.stdout) : {};
}

/** Waits until the cluster reports `replicas` peers, all of them healthy voting members. */
async function waitForMembers(
  namespace: string,
  name: string,
  replicas: number,
  timeoutSeconds = 180,
) {
  const deadline = Date.now() + timeoutSeconds * 1000;
  let status: ClusterStatus = {};
  while (Date.now() < deadline) {
    status = await clusterStatus(namespace, name);
    const available = status.conditions?.find((c) => c.type === "Available")?.status === "True";
    if (
      status.replicas === replicas && status.readyReplicas === replicas &&
      status.members?.length === replicas && available
    ) return status;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  throw new Error(
    `cluster ${namespace}/${name} did not reach ${replicas} healthy members: ${
      JSON.stringify(status)
    }`,
  );
}

function etcdctl(namespace: string, podName: string, args: readonly string[]) {
  const endpoints = [0, 1, 2].map((i) => `http://my-cluster-${i}.my-cluster.${namespace}.svc:2379`)
    .join(",");
  return runPodToCompletion(namespace, {
    name: podName,
    image: clientImage,
    command: [
      "etcdctl",
      `--endpoints=${endpoints}`,
      "--dial-timeout=5s",
      "--command-timeout=10s",
      ...args,
    ],
  });
}

async function podIPs(namespace: string): Promise<Map<string, string>> {
  const pods = JSON.parse(
    await kubectlOk([
      "get",
      "pods",
      "-n",
      namespace,
      "-l",
      "app.kubernetes.io/name=etcd",
      "-o",
      "json",
    ]),
  ) as {
    items: {
      metadata: { labels: Record<string, string>; deletionTimestamp?: string };
      status: { podIP?: string };
    }[];
  };
  const ips = new Map<string, string>();
  for (const pod of pods.items) {
    if (pod.status.podIP && !pod.metadata.deletionTimestamp) {
      ips.set(pod.metadata.labels["etcd.improbable.io/peer-name"], pod.status.podIP);
    }
  }
  return ips;
}

/** Polls `read` until `done` holds (or 60 s pass) and returns the last value read. */
async function eventually<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!done(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    value = await read();
  }
  return value;
}

async function scale(namespace: string, replicas: number, timeoutSeconds = 180): Promise<number> {
  const started = Date.now();
  await kubectlOk([
    "scale",
    "etcdcluster",
    "my-cluster",
    "-n",
    namespace,
    "--replicas",
    String(replicas),
  ]);
  await waitForMembers(namespace, "my-cluster", replicas, timeoutSeconds);
  return (Date.now() - started) / 1000;
}

Deno.test("creating a cluster: the sample reaches 3 healthy members that answer put/get by DNS, with status, Events and the pod template", async () => {
  await using namespace = await temporaryNamespace("create");
  // Scoped to its namespace, so tests running side by side never share an operator.
  await using operator = startOperator(["--namespace", namespace.name]);
  const started = Date.now();
  await apply(
    sampleClusterIn(namespace.name),
  );
  const status = await waitForMembers(namespace.name, "my-cluster", 3);
  console.log(`apply → 3/3 healthy members: ${((Date.now() - started) / 1000).toFixed(1)} s`);

  assert.deepEqual(status.members?.map((m) => m.name).sort(), [
    "my-cluster-0",
    "my-cluster-1",
    "my-cluster-2",
  ]);
  for (const member of status.members ?? []) assert.match(member.id, /^[0-9a-f]{1,16}$/);
  // Right after forming, etcd reports 3.0.0 until the members agree on their common version.
  const settled = await eventually(
    async () => (await clusterStatus(namespace.name, "my-cluster")).clusterVersion,
    (version) => version === "3.4.0",
  );
  assert.equal(settled, "3.4.0");
  assert.ok(status.leader?.startsWith("my-cluster-"), `leader ${status.leader}`);

  const put = await etcdctl(namespace.name, "put", ["put", "guide-key", "guide-value"]);
  assert.equal(put.phase, "Succeeded", put.logs);
  const get = await etcdctl(namespace.name, "get", ["get", "guide-key", "--print-value-only"]);
  assert.equal(get.logs.trim(), "guide-value");

  const pod = JSON.parse(
    await kubectlOk([
      "get",
      "pods",
      "-n",
      namespace.name,
      "-l",
      "etcd.improbable.io/peer-name=my-cluster-0",
      "-o",
      "jsonpath={.items[0]}",
    ]),
  );
  assert.equal(pod.metadata.annotations["prometheus.io/scrape"], "true");
  assert.deepEqual(pod.spec.containers[0].resources.limits, { cpu: "200m", memory: "200Mi" });
  assert.ok(pod.spec.affinity?.podAntiAffinity, "affinity reaches the pod");
  const env = Object.fromEntries(
    pod.spec.containers[0].env.map((e: { name: string; value: string }) => [e.name, e.value]),
  );
  assert.equal(env.GOMAXPROCS, "1", "a 200m CPU limit gives GOMAXPROCS=1");
  assert.equal(pod.spec.containers[0].image, "quay.io/coreos/etcd:v3.4.23");

  const events = await kubectlOk([
    "get",
    "events",
    "-n",
    namespace.name,
    "--field-selector",
    "involvedObject.kind=EtcdCluster",
    "-o",
    "jsonpath={.items[*].reason}",
  ]);
  for (const reason of ["ServiceCreated", "PeerCreated"]) {
    assert.ok(events.includes(reason), `${reason} in ${events}`);
  }
  const describe = await kubectlOk(["describe", "etcdcluster", "-n", namespace.name, "my-cluster"]);
  assert.match(describe, /Available/);
  assert.match(describe, /QuorumHealthy/);
  void operator;
});

Deno.test("scaling up and down: 3 → 5 → 3 and 3 → 1 → 3 through the membership API keep the data", async () => {
  await using namespace = await temporaryNamespace("scale");
  // Scoped to its namespace, so tests running side by side never share an operator.
  await using operator = startOperator(["--namespace", namespace.name]);
  await apply(
    sampleClusterIn(namespace.name),
  );
  await waitForMembers(namespace.name, "my-cluster", 3);
  const put = await etcdctl(namespace.name, "put", ["put", "scale-key", "kept"]);
  assert.equal(put.phase, "Succeeded", put.logs);

  console.log(`3 → 5: ${(await scale(namespace.name, 5)).toFixed(1)} s`);
  console.log(`5 → 3: ${(await scale(namespace.name, 3)).toFixed(1)} s`);
  // A removed member's PVC goes once its pod has gone (the pvc-protection finalizer).
  const pvcs = await eventually(
    () =>
      kubectlOk(["get", "pvc", "-n", namespace.name, "-o", "jsonpath={.items[*].metadata.name}"]),
    (names) => names.split(" ").length === 3,
  );
  assert.deepEqual(
    pvcs.split(" ").sort(),
    ["my-cluster-0", "my-cluster-1", "my-cluster-2"],
    "removed members' volumes are deleted",
  );
  await scale(namespace.name, 1);
  const one = await clusterStatus(namespace.name, "my-cluster");
  assert.deepEqual(
    one.members?.map((m) => m.name),
    ["my-cluster-0"],
    "the highest ordinals go first",
  );
  await scale(namespace.name, 3);
  const get = await etcdctl(namespace.name, "get", ["get", "scale-key", "--print-value-only"]);
  assert.equal(get.logs.trim(), "kept");
  const reasons = await kubectlOk([
    "get",
    "events",
    "-n",
    namespace.name,
    "--field-selector",
    "involvedObject.kind=EtcdCluster",
    "-o",
    "jsonpath={.items[*].reason}",
  ]);
  for (const reason of ["MemberAdded", "MemberPromoted", "MemberRemoved", "PeerRemoved"]) {
    assert.ok(reasons.includes(reason), `${reason} in ${reasons}`);
  }
  void operator;
});

Deno.test("scaling down when the highest member leads moves leadership first: a writer sees no failed writes", async () => {
  await using namespace = await temporaryNamespace("leader");
  // Scoped to its namespace, so tests running side by side never share an operator.
  await using operator = startOperator(["--namespace", namespace.name]);
  await apply(
    sampleClusterIn(namespace.name),
  );
  const status = await waitForMembers(namespace.name, "my-cluster", 3);
  const ips = await podIPs(namespace.name);
  const idOf = (name: string) => status.members!.find((m) => m.name === name)!.id;
  if (status.leader !== "my-cluster-2") {
    using admin = new EtcdClient([...ips.values()].map((ip) => `http://${ip}:2379`));
    const moved = await moveLeader(admin, idOf("my-cluster-2"), {
      memberEndpoint: (member) => `http://${ips.get(member.name)}:2379`,
    });
    assert.ok(moved.ok, JSON.stringify(moved));
  }
  assert.equal(await waitForLeader(namespace.name, "my-cluster-2"), "my-cluster-2");

  // The writer talks to the members that stay, as a client of a shrinking cluster should.
  const writer = new EtcdClient([0, 1].map((i) => `http://${ips.get(`my-cluster-${i}`)}:2379`));
  const acknowledged: string[] = [];
  let failed = 0;
  let writing = true;
  const loop = (async () => {
    for (let i = 0; writing; i++) {
      const key = `w-${String(i).padStart(6, "0")}`;
      try {
        await writer.etcd.put(key).value(String(i)).exec(); // deadline: the client default
        acknowledged.push(key);
      } catch {
        failed++;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  try {
    await new Promise((resolve) => setTimeout(resolve, 2000));
    await scale(namespace.name, 2);
    await new Promise((resolve) => setTimeout(resolve, 2000));
  } finally {
    writing = false;
    await loop;
  }
  try {
    const stored = await writer.etcd.getAll().prefix("w-").keys();
    const missing = acknowledged.filter((key) => !stored.includes(key));
    console.log(
      `leader scale-down: ${acknowledged.length} writes acknowledged, ${failed} failed, ${missing.length} missing`,
    );
    assert.equal(failed, 0, "no write may fail while the leader is removed");
    assert.deepEqual(missing, []);
  } finally {
    writer.close();
  }
  const reasons = await kubectlOk([
    "get",
    "events",
    "-n",
    namespace.name,
    "--field-selector",
    "involvedObject.kind=EtcdCluster",
    "-o",
    "jsonpath={.items[*].reason}",
  ]);
  assert.ok(reasons.includes("LeaderMoved"), `LeaderMoved in ${reasons}`);
  // Two replicas are allowed, with a Warning that says why an odd number is better.
  assert.ok(reasons.includes("EvenReplicas"), `EvenReplicas in ${reasons}`);
  void operator;
});

async function waitForLeader(namespace: string, name: string): Promise<string | undefined> {
  const deadline = Date.now() + 60_000;
  let leader: string | undefined;
  while (Date.now() < deadline) {
    leader = (await clusterStatus(namespace, "my-cluster")).leader;
    if (leader === name) return leader;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return leader;
}

Deno.test("deleting a cluster keeps its PVCs, and re-applying the same manifest brings the data back", async () => {
  await using namespace = await temporaryNamespace("delete");
  // Scoped to its namespace, so tests running side by side never share an operator.
  await using operator = startOperator(["--namespace", namespace.name]);
  const manifest = sampleCluster.replace(
    "name: my-cluster\n",
    `name: my-cluster\n  namespace: ${namespace.name}\n`,
  );
  await apply(manifest);
  await waitForMembers(namespace.name, "my-cluster", 3);
  const put = await etcdctl(namespace.name, "put", ["put", "survivor", "still-here"]);
  assert.equal(put.phase, "Succeeded", put.logs);

  await kubectlOk(["delete", "etcdcluster", "-n", namespace.name, "my-cluster", "--wait=true"]);
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const left = await kubectlOk([
      "get",
      "etcdpeers,replicasets,pods,services",
      "-n",
      namespace.name,
      "-o",
      "name",
    ]);
    if (
      !left.split("\n").some((line) =>
        /etcdpeer|replicaset|pod\/my-cluster|service\/my-cluster/.test(line)
      )
    ) break;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  const pvcs = await kubectlOk([
    "get",
    "pvc",
    "-n",
    namespace.name,
    "-l",
    "etcd.improbable.io/cluster-name=my-cluster",
    "-o",
    "jsonpath={.items[*].metadata.name}",
  ]);
  assert.deepEqual(pvcs.split(" ").sort(), ["my-cluster-0", "my-cluster-1", "my-cluster-2"]);

  await apply(manifest);
  await waitForMembers(namespace.name, "my-cluster", 3);
  const get = await etcdctl(namespace.name, "get-again", ["get", "survivor", "--print-value-only"]);
  assert.equal(get.logs.trim(), "still-here");
  void operator;
});
