// Node faults on the local three-node cluster: members spread over nodes, a drain the
// PodDisruptionBudget keeps from breaking quorum, and a node that stops dead under a writer.
//
// These tests stop and start nodes of the local cluster (tests/env/nodes.ts), so they run where
// `deno task env:up` made it, as root; they need at least three nodes.
import assert from "node:assert/strict";
import { recordedNodes } from "../env/config.ts";
import { startNode, stopNode } from "../env/nodes.ts";
import {
  apply,
  eventually,
  getJson,
  kubectl,
  kubectlOk,
  sampleClusterIn,
  temporaryNamespace,
} from "./support/cluster.ts";
import { startOperator } from "./support/operator.ts";
import {
  type ClusterStatus,
  clusterStatus,
  healthy,
  underWriter,
  waitHealthy,
} from "./support/health.ts";

interface PeerList {
  readonly items: readonly {
    metadata: { name: string };
    status?: { node?: string };
  }[];
}

/** Each member's node, as its EtcdPeer reports it (the printer column `Node`). */
async function memberNodes(namespace: string): Promise<Map<string, string>> {
  const peers = await getJson<PeerList>(["etcdpeers", "-n", namespace]);
  return new Map(
    (peers?.items ?? []).flatMap((peer) =>
      peer.status?.node ? [[peer.metadata.name, peer.status.node] as const] : []
    ),
  );
}

function spreadOverThreeNodes(namespace: string) {
  return eventually(
    "each member's node in its peer's status, three nodes for three members",
    () => memberNodes(namespace),
    (nodes) => nodes.size === 3 && new Set(nodes.values()).size === 3,
    60,
  );
}

function requireThreeNodes() {
  const nodes = recordedNodes();
  assert.ok(
    nodes.length >= 3,
    `node faults need the three-node local cluster; this one has ${nodes.length} (ETCD_ENV_NODES)`,
  );
  return nodes;
}

async function drain(node: string, timeoutSeconds: number) {
  return await kubectl([
    "drain",
    node,
    "--ignore-daemonsets",
    "--delete-emptydir-data",
    `--timeout=${timeoutSeconds}s`,
  ]);
}

Deno.test("the sample's members spread over three nodes; a drain keeps quorum and the budget refuses a second one", async () => {
  requireThreeNodes();
  await using namespace = await temporaryNamespace("drain");
  await using operator = startOperator(["--namespace", namespace.name]);
  await apply(sampleClusterIn(namespace.name));
  await waitHealthy(namespace.name, 3);
  const placed = (await spreadOverThreeNodes(namespace.name))!;
  const [first, second] = [...placed.values()];
  try {
    await underWriter(namespace.name, "drain", async () => {
      const started = Date.now();
      const drained = await drain(first, 90);
      assert.ok(drained.success, `draining ${first}: ${drained.stderr}`);
      console.log(`drain of ${first}: done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      // Its member cannot come back while the node is cordoned (its volume lives there): the
      // budget has no disruption left, so the next drain must not evict another member.
      const refused = await drain(second, 15);
      assert.ok(!refused.success, `a second drain (${second}) must be refused`);
      assert.match(refused.stderr + refused.stdout, /disruption budget/);
      const status = await clusterStatus(namespace.name);
      assert.equal(status.readyReplicas, 2, "two members kept serving");
    });
  } finally {
    for (const node of [first, second]) await kubectl(["uncordon", node]);
  }
  // Uncordoned, the drained member comes back on its own volume: the same members as before.
  const before = (await clusterStatus(namespace.name)).members?.map((m) => m.id).sort();
  const after = await waitHealthy(namespace.name, 3);
  assert.deepEqual(after?.members?.map((m) => m.id).sort(), before);
  void operator;
});

Deno.test("a node stopped dead under a writer: the cluster keeps serving, its member is replaced on another node, and the node comes back cleanly", async () => {
  const nodes = requireThreeNodes();
  await using namespace = await temporaryNamespace("nodestop");
  await using operator = startOperator([
    "--namespace",
    namespace.name,
    "--replace-unschedulable-after",
    "20",
  ]);
  await apply(sampleClusterIn(namespace.name));
  const before = (await waitHealthy(namespace.name, 3))!;
  const placed = (await spreadOverThreeNodes(namespace.name))!;
  // Not the first node: the control plane answers on its address (the others hold only pods).
  const [victimPeer, victimNodeName] = [...placed.entries()]
    .find(([, node]) => node !== nodes[0].name)!;
  const victim = nodes.find((node) => node.name === victimNodeName)!;
  const oldId = before.members?.find((m) => m.name === victimPeer)?.id;
  let stopped = false;
  try {
    await underWriter(namespace.name, "node stopped", async () => {
      const started = Date.now();
      await stopNode(victim);
      stopped = true;
      const idOf = (status: ClusterStatus) =>
        status.members?.find((m) => m.name === victimPeer)?.id;
      const after = (await eventually(
        `3 healthy members, ${victimPeer} a new member`,
        () => clusterStatus(namespace.name),
        (status) => healthy(status, 3) && idOf(status) !== undefined && idOf(status) !== oldId,
        300,
      ))!;
      const seconds = (Date.now() - started) / 1000;
      console.log(`${victimPeer}: member ${oldId} replaced by ${idOf(after)}`);
      const moved = await eventually(
        `${victimPeer} on another node`,
        () => memberNodes(namespace.name),
        (now) => now.get(victimPeer) !== undefined && now.get(victimPeer) !== victim.name,
        60,
      );
      console.log(
        `node ${victim.name} stopped: ${victimPeer} replaced on ${moved?.get(victimPeer)}, ` +
          `3 healthy members ${seconds.toFixed(1)} s after the stop`,
      );
    });
    const reasons = await kubectlOk([
      "get",
      "events",
      "-n",
      namespace.name,
      "--field-selector",
      "reason=MemberReplaced",
      "-o",
      "jsonpath={.items[*].message}",
    ]);
    assert.match(
      reasons,
      new RegExp(`${victimPeer}.*(node ${victim.name} is not ready|cannot be scheduled)`),
    );
  } finally {
    if (stopped) {
      const started = Date.now();
      await startNode(victim);
      console.log(
        `node ${victim.name} Ready again in ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
    }
  }
  // Back, the node holds nothing of the old member, and the cluster never noticed.
  await eventually(
    `no pod of ${namespace.name} left on ${victim.name}`,
    async () =>
      (await kubectlOk([
        "get",
        "pods",
        "-n",
        namespace.name,
        "--field-selector",
        `spec.nodeName=${victim.name}`,
        "-o",
        "name",
      ])).trim(),
    (pods) => pods === "",
    60,
  );
  await waitHealthy(namespace.name, 3, 30);
  void operator;
});
