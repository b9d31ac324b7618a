// The installation guide's "air-gapped install", end to end: `deno task airgap`'s archive, unpacked
// elsewhere and started with no registry reachable (a network namespace that routes only to the
// API server, no DNS, an empty environment and HOME), runs a cluster to health.
import assert from "node:assert/strict";
import { join } from "node:path";
import { artifactName, buildAirgap } from "../../tools/airgap.ts";
import {
  apply,
  eventually,
  getJson,
  sampleClusterIn,
  temporaryNamespace,
} from "./support/cluster.ts";
import { grantPortForward, isolatedNetwork, reachableHosts } from "./support/netns.ts";
import { startOperator } from "./support/operator.ts";

async function tar(args: readonly string[]): Promise<void> {
  const output = await new Deno.Command("tar", { args: [...args], stderr: "piped" }).output();
  if (!output.success) throw new Error(new TextDecoder().decode(output.stderr));
}

Deno.test("air-gapped install: the archive runs a cluster with no registry reachable", async () => {
  const workDir = await Deno.makeTempDir({ prefix: "airgap-e2e-" });
  try {
    const started = Date.now();
    const archive = await buildAirgap(join(workDir, "build"));
    const sizeMiB = (await Deno.stat(archive)).size / 2 ** 20;
    console.log(`archive: ${sizeMiB.toFixed(0)} MiB, built in ${(Date.now() - started) / 1000} s`);
    // Unpacked somewhere else: nothing may point back into the build or this repository.
    const installDir = join(workDir, "installed");
    await Deno.mkdir(installDir);
    await tar(["-xzf", archive, "-C", installDir]);
    await Deno.remove(join(workDir, "build"), { recursive: true });
    const home = join(workDir, "home");
    await Deno.mkdir(home);

    await using namespace = await temporaryNamespace("airgap");
    const ns = namespace.name;
    await grantPortForward(ns);
    await using network = await isolatedNetwork(await reachableHosts());
    await using operator = startOperator(["--namespace", ns], {
      wrap: network.wrap,
      launch: [join(installDir, artifactName, "etcd-operator")],
      clearEnv: true,
      env: { HOME: home, PATH: "/usr/bin:/bin" },
    });
    const ready = Date.now();
    await apply(sampleClusterIn(ns).replace("replicas: 3", "replicas: 1"));
    await eventually(
      "a healthy one-member cluster",
      () =>
        getJson<{ status?: { readyReplicas?: number; members?: unknown[] } }>(
          ["etcdcluster", "-n", ns, "my-cluster"],
        ),
      (cluster) => cluster?.status?.readyReplicas === 1 && cluster.status.members?.length === 1,
      180,
    ).catch((error) => {
      throw new Error(`${error.message}\noperator log:\n${operator.logs().slice(-4000)}`);
    });
    console.log(
      `one member ready through the air-gapped operator: ${(Date.now() - ready) / 1000} s`,
    );
    assert.match(operator.logs(), /"msg":"member access decided"[^\n]*"mode":"portForward"/);
  } finally {
    await Deno.remove(workDir, { recursive: true });
  }
});
