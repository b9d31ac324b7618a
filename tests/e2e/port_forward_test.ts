// The operations guide's "running the operator outside the cluster", end to end: the operator runs
// in a network namespace that reaches only the API server and MinIO, so pod IPs do not route and
// every member is reached through the API server's port-forward. Create a one-member cluster,
// scale it to three, upgrade it, back it up to MinIO, delete it: all of it must work from there.
import assert from "node:assert/strict";
import {
  apply,
  e2e,
  eventually,
  getJson,
  kubectlOk,
  sampleClusterIn,
  temporaryNamespace,
  waitForPodPhase,
} from "./support/cluster.ts";
import { grantPortForward, isolatedNetwork, reachableHosts } from "./support/netns.ts";
import { startOperator } from "./support/operator.ts";

interface ClusterStatus {
  readonly replicas?: number;
  readonly readyReplicas?: number;
  readonly clusterVersion?: string;
  readonly members?: readonly unknown[];
}

const upgradeTo = "3.5.21";

async function clusterStatus(namespace: string): Promise<ClusterStatus> {
  const cluster = await getJson<{ status?: ClusterStatus }>([
    "etcdcluster",
    "-n",
    namespace,
    "my-cluster",
  ]);
  return cluster?.status ?? {};
}

async function peerVersions(namespace: string): Promise<string[]> {
  const peers = await getJson<{ items: { status?: { serverVersion?: string } }[] }>(
    ["etcdpeers", "-n", namespace],
  );
  return (peers?.items ?? []).map((peer) => peer.status?.serverVersion ?? "?").sort();
}

function logLines(logs: string): Record<string, unknown>[] {
  return logs.split("\n").flatMap((line) => {
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

async function timed<T>(what: string, run: () => Promise<T>): Promise<T> {
  const started = Date.now();
  const value = await run();
  console.log(`${what}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return value;
}

Deno.test("running the operator where pod IPs do not route: create, scale, upgrade and back up through port-forward", async () => {
  await using namespace = await temporaryNamespace("port-forward");
  const ns = namespace.name;
  const s3 = e2e.s3();
  await grantPortForward(ns);
  // Something on the pod network for the operator to probe at start: its IP must not answer.
  await apply(JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "probe-target", namespace: ns },
    spec: {
      containers: [{
        name: "pause",
        image: "registry.k8s.io/pause:3.10",
        imagePullPolicy: "IfNotPresent",
      }],
    },
  }));
  await waitForPodPhase(ns, "probe-target", ["Running"], 120);
  await using network = await isolatedNetwork(await reachableHosts({ objectStore: true }));
  // auto, not forced: the operator must find out by itself that pod IPs do not route.
  await using operator = startOperator(
    ["--namespace", ns, "--member-access", "auto", "--log-level", "debug"],
    { wrap: network.wrap },
  );
  const explain = () => `operator log tail:\n${operator.logs().split("\n").slice(-40).join("\n")}`;
  try {
    await timed("one member ready", async () => {
      await apply(sampleClusterIn(ns).replace("replicas: 3", "replicas: 1"));
      await eventually(
        "1 ready member",
        () => clusterStatus(ns),
        (status) => status.readyReplicas === 1 && status.members?.length === 1,
        180,
      );
    });
    const decided = logLines(operator.logs()).find((line) => line.msg === "member access decided");
    assert.equal(decided?.mode, "portForward", JSON.stringify(decided));
    assert.match(String(decided?.reason), /pod IPs are not reachable from here \(noRoute\)/);

    await timed("scaled 1 → 3", async () => {
      await kubectlOk(["scale", "etcdcluster", "-n", ns, "my-cluster", "--replicas", "3"]);
      await eventually(
        "3 ready members",
        () => clusterStatus(ns),
        (status) => status.readyReplicas === 3 && status.members?.length === 3,
        300,
      );
    });

    await timed(`upgraded 3.4.23 → ${upgradeTo}`, async () => {
      await kubectlOk([
        "patch",
        "etcdcluster",
        "-n",
        ns,
        "my-cluster",
        "--type",
        "merge",
        "-p",
        JSON.stringify({ spec: { version: upgradeTo } }),
      ]);
      await eventually(
        `every member on ${upgradeTo}, cluster version 3.5.0`,
        async () => ({ versions: await peerVersions(ns), status: await clusterStatus(ns) }),
        ({ versions, status }) =>
          versions.length === 3 && versions.every((version) => version === upgradeTo) &&
          status.clusterVersion === "3.5.0" && status.readyReplicas === 3,
        480,
      );
    });

    await timed("backup to MinIO", async () => {
      await apply(JSON.stringify({
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "minio", namespace: ns },
        stringData: { AWS_ACCESS_KEY_ID: s3.accessKey, AWS_SECRET_ACCESS_KEY: s3.secretKey },
      }));
      await apply(JSON.stringify({
        apiVersion: "etcd.improbable.io/v1alpha1",
        kind: "EtcdBackup",
        metadata: { name: "through-port-forward", namespace: ns },
        spec: {
          source: { clusterURL: `http://my-cluster-client.${ns}.svc:2379` },
          destination: {
            objectURLTemplate:
              `s3://${s3.bucket}/${ns}/{{ .Name }}.db?endpoint=${s3.endpoint}&region=${s3.region}`,
          },
          credentialsSecretRef: { name: "minio" },
        },
      }));
      const backup = await eventually(
        "the backup finished",
        () =>
          getJson<{ status?: { phase?: string; sizeBytes?: number; sha256?: string } }>(
            ["etcdbackup", "-n", ns, "through-port-forward"],
          ),
        (item) => item?.status?.phase === "Completed" || item?.status?.phase === "Failed",
        180,
      );
      assert.equal(backup?.status?.phase, "Completed", JSON.stringify(backup?.status));
      assert.ok((backup?.status?.sizeBytes ?? 0) > 0);
      assert.match(backup?.status?.sha256 ?? "", /^[0-9a-f]{64}$/);
      console.log(`backup: ${backup?.status?.sizeBytes} bytes`);
    });

    await timed("cluster deleted, its forwards closed", async () => {
      await kubectlOk(["delete", "etcdcluster", "-n", ns, "my-cluster", "--wait=true"]);
      await eventually(
        "the members' pods gone",
        () =>
          getJson<{ items: unknown[] }>([
            "pods",
            "-n",
            ns,
            "-l",
            "etcd.improbable.io/cluster-name=my-cluster",
          ]),
        (pods) => pods?.items.length === 0,
        180,
      );
      await eventually(
        "every port-forward listener closed",
        () => {
          const lines = logLines(operator.logs());
          const count = (msg: string) => lines.filter((line) => line.msg === msg).length;
          return Promise.resolve({
            opened: count("port-forward listening"),
            closed: count("port-forward closed"),
          });
        },
        ({ opened, closed }) => opened > 0 && opened === closed,
        60,
      );
    });
    const opened = logLines(operator.logs()).filter((line) =>
      line.msg === "port-forward listening"
    );
    // One listener per member pod incarnation: 3 members, each replaced once by the upgrade.
    console.log(`port-forward listeners opened over the run: ${opened.length}`);
  } catch (error) {
    throw new Error(`${error instanceof Error ? error.message : error}\n${explain()}`);
  }
});
