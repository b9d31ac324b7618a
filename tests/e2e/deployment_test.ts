// The operator as users install it: its image in a Deployment, in-cluster config, leader election.
import assert from "node:assert/strict";
import {
  apply,
  eventually,
  kubectl,
  kubectlOk,
  sampleClusterIn,
  temporaryNamespace,
} from "./support/cluster.ts";

const deployment = await Deno.readTextFile(
  new URL("../../config/manager/deployment.yaml", import.meta.url),
);
Deno.test("installed from config/manager, two replicas elect one leader that runs a cluster through member DNS names", async () => {
  await using namespace = await temporaryNamespace("deployed");
  // Scoped to the test's namespace, so it never acts on what other tests run.
  const scoped = deployment.replace(
    'args: [run, --leader-elect, --metrics-addr, ":8080"]',
    `args: [run, --leader-elect, --metrics-addr, ":8080", --namespace, ${namespace.name}]`,
  );
  assert.notEqual(scoped, deployment, "the Deployment's args changed shape: update this test");
  await apply(scoped);
  try {
    await eventually(
      "both operator pods ready",
      async () =>
        (await kubectlOk([
          "get",
          "deployment",
          "-n",
          "etcd-operator-system",
          "etcd-operator",
          "-o",
          "jsonpath={.status.readyReplicas}",
        ])).trim(),
      (ready) => ready === "2",
      120,
    ); // deno-fmt-ignore
    // A Lease left by an earlier run's pods expires first (15 s): wait for one of these pods.
    const podNames = async () =>
      (await kubectlOk(["get", "pods", "-n", "etcd-operator-system", "-l", "app.kubernetes.io/name=etcd-operator", "-o", "jsonpath={.items[*].metadata.name}"])).split(" ");
    const leader = await eventually(
      "one of the operator pods holding the Lease",
      async () => {
        const holder = (await kubectl([
          "get",
          "lease",
          "-n",
          "etcd-operator-system",
          "etcd-operator",
          "-o",
          "jsonpath={.spec.holderIdentity}",
        ])).stdout.trim();
        return (await podNames()).find((pod) => holder !== "" && holder.startsWith(pod));
      },
      (pod) => pod !== undefined,
      90,
    ); // deno-fmt-ignore
    assert.ok(leader);

    await apply(
      sampleClusterIn(namespace.name),
    );
    const status = await eventually(
      "3 healthy members",
      async () =>
        JSON.parse(
          (await kubectl([
            "get",
            "etcdcluster",
            "-n",
            namespace.name,
            "my-cluster",
            "-o",
            "jsonpath={.status}",
          ])).stdout || "{}",
        ),
      (s: { readyReplicas?: number; members?: unknown[] }) => s.readyReplicas === 3,
      180,
    ); // deno-fmt-ignore
    assert.equal(status.members?.length, 3);
    const logs = await kubectlOk([
      "logs",
      "-n",
      "etcd-operator-system",
      "deployment/etcd-operator",
    ]);
    assert.ok(
      logs.split("\n").some((line) => line.includes('"endpoints":"dns"')) ||
        !logs.includes('"endpoints":"podIP"'),
      logs,
    );
  } finally {
    await kubectl([
      "delete",
      "deployment",
      "-n",
      "etcd-operator-system",
      "etcd-operator",
      "--wait=true",
    ]);
    // Its pods may still take the Lease while they stop: remove it only once they are gone.
    await kubectl([
      "wait",
      "--for=delete",
      "pod",
      "-n",
      "etcd-operator-system",
      "-l",
      "app.kubernetes.io/name=etcd-operator",
      "--timeout=60s",
    ]);
    await kubectl([
      "delete",
      "lease",
      "-n",
      "etcd-operator-system",
      "etcd-operator",
      "--ignore-not-found",
    ]);
  }
});
