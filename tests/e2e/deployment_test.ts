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
import { deployOperator, operatorNamespace } from "./support/deployment.ts";

Deno.test("installed from config/manager, two replicas elect one leader that runs a cluster through member DNS names", async () => {
  await using namespace = await temporaryNamespace("deployed");
  // Scoped to the test's namespace, so it never acts on what other tests run; removed at the end.
  await using operator = await deployOperator(namespace.name);
  assert.ok(operator.leader);

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
    operatorNamespace,
    "deployment/etcd-operator",
  ]);
  // In a pod the operator dials pod IPs without probing (actors/member_access.ts).
  assert.ok(
    logs.split("\n").some((line) =>
      line.includes("member access decided") && line.includes('"mode":"podIP"') &&
      line.includes("running in a pod")
    ),
    logs,
  );
});
