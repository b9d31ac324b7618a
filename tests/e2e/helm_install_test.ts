// Installing with Helm: a real `helm install` of charts/etcd-operator, a cluster run through it, an
// upgrade that rolls the operator under a writer, and an uninstall that leaves the data behind.
//
// The release is namespaced (`watchNamespaces`), so it acts only in this test's namespace and
// creates nothing cluster-scoped; its own namespace is not etcd-operator-system, where other tests
// run config/manager's Deployment. `--skip-crds`: the shared cluster's CRDs are current and owned
// by env:up (Helm 4 would server-side apply the chart's copies over them).
import assert from "node:assert/strict";
import { clusterLabel } from "../../actors/member.ts";
import { chartDir, helm } from "../support/chart.ts";
import {
  apply,
  e2e,
  eventually,
  getJson,
  kubectl,
  kubectlOk,
  sampleClusterIn,
  temporaryNamespace,
} from "./support/cluster.ts";
import { clusterName, clusterStatus, underWriter, waitHealthy } from "./support/health.ts";

const release = "etcd-operator";
const instanceSelector = `app.kubernetes.io/instance=${release}`;

interface Release extends AsyncDisposable {
  /** The release's own namespace: its Deployment, ServiceAccount and Service. */
  readonly namespace: string;
}

/** `helm install` as the README's "Install with Helm" runs it, with this cluster's image. */
function installArgs(releaseNamespace: string, watched: string): string[] {
  return [
    "install",
    release,
    chartDir,
    ...kubeconfigArgs(releaseNamespace),
    "--skip-crds",
    // The local cluster's image, imported into every node's containerd: there is no registry.
    "--set",
    "image.repository=etcd-operator.local/operator",
    "--set",
    "image.tag=dev",
    "--set",
    "image.pullPolicy=Never",
    "--set-json",
    `watchNamespaces=${JSON.stringify([watched])}`,
    "--wait",
    "--timeout",
    "3m",
  ];
}

/** `helm upgrade` as the README runs it: the same values, and debug logs. */
function upgradeArgs(releaseNamespace: string): string[] {
  return [
    "upgrade",
    release,
    chartDir,
    ...kubeconfigArgs(releaseNamespace),
    "--reuse-values",
    "--set-json",
    'extraArgs=["--log-level","debug"]',
    "--wait",
    "--timeout",
    "3m",
  ];
}

function kubeconfigArgs(releaseNamespace: string): string[] {
  return ["--kubeconfig", e2e.adminKubeconfig(), "--namespace", releaseNamespace];
}

/**
 * The release's namespace, enforcing the `restricted` Pod Security Standard so the chart's
 * securityContext is checked by the API server, then `helm install` into it. Disposing uninstalls
 * (if the test did not) and deletes the namespace.
 */
async function installRelease(watched: string): Promise<Release> {
  const namespace = `helm-release-${crypto.randomUUID().slice(0, 8)}`;
  await kubectlOk(["create", "namespace", namespace]);
  const dispose = async () => {
    await helm(["uninstall", release, ...kubeconfigArgs(namespace)]).catch(() => {});
    await kubectl(["delete", "namespace", namespace, "--ignore-not-found", "--wait=false"]);
  };
  try {
    await kubectlOk([
      "label",
      "namespace",
      namespace,
      "pod-security.kubernetes.io/enforce=restricted",
    ]);
    await helm(installArgs(namespace, watched));
  } catch (error) {
    await dispose();
    throw error;
  }
  return { namespace, [Symbol.asyncDispose]: dispose };
}

interface PodState {
  readonly name: string;
  readonly ready: boolean;
  readonly args: readonly string[];
}

/** The release's operator pods that are not being deleted. */
async function operatorPods(releaseNamespace: string): Promise<PodState[]> {
  const pods = await getJson<{
    items: {
      metadata: { name: string; deletionTimestamp?: string };
      spec: { containers: { args: string[] }[] };
      status: { conditions?: { type: string; status: string }[] };
    }[];
  }>(["pods", "-n", releaseNamespace, "-l", instanceSelector]);
  return (pods?.items ?? []).filter((pod) => !pod.metadata.deletionTimestamp).map((pod) => ({
    name: pod.metadata.name,
    ready: pod.status.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false,
    args: pod.spec.containers[0].args,
  }));
}

/** The pod holding the Lease in `watched` (namespaced mode puts it there), once both are Ready. */
async function readyLeader(releaseNamespace: string, watched: string): Promise<string> {
  const leader = await eventually(
    "both operator pods Ready and one holding the Lease",
    async () => {
      const pods = await operatorPods(releaseNamespace);
      if (pods.length !== 2 || !pods.every((pod) => pod.ready)) return undefined;
      const holder = (await kubectl([
        "get",
        "lease",
        "-n",
        watched,
        "etcd-operator",
        "-o",
        "jsonpath={.spec.holderIdentity}",
      ])).stdout.trim();
      // The identity is `<pod name>-<8 hex digits>` (mod.ts).
      return pods.find((pod) => holder.startsWith(`${pod.name}-`))?.name;
    },
    (pod) => pod !== undefined,
    180,
  );
  return leader!;
}

/** Names of `kind` objects labelled as the release's in `namespace`. */
async function releaseObjects(kind: string, namespace: string): Promise<string[]> {
  const output = await kubectlOk([
    "get",
    kind,
    "-n",
    namespace,
    "-l",
    instanceSelector,
    "-o",
    "name",
  ]);
  return output.split("\n").filter((line) => line !== "");
}

/** What the release's operator pods have logged (their current containers). */
async function operatorLogs(releaseNamespace: string): Promise<string> {
  const result = await kubectl([
    "logs",
    "-n",
    releaseNamespace,
    "-l",
    instanceSelector,
    "--prefix",
    "--tail=-1",
  ]);
  return result.stdout + result.stderr;
}

async function memberPods(namespace: string): Promise<string[]> {
  const output = await kubectlOk([
    "get",
    "pods",
    "-n",
    namespace,
    "-l",
    `${clusterLabel}=${clusterName}`,
    "-o",
    "name",
  ]);
  return output.split("\n").filter((line) => line !== "");
}

async function claimsOf(namespace: string): Promise<string[]> {
  const output = await kubectlOk(["get", "pvc", "-n", namespace, "-o", "name"]);
  return output.split("\n").filter((line) => line !== "").sort();
}

const memberIds = async (namespace: string) =>
  (await clusterStatus(namespace)).members?.map((member) => member.id).sort();

Deno.test("installed with Helm for one namespace: the release runs a cluster, upgrades without disturbing it, and uninstalls leaving its data", async () => {
  await using watched = await temporaryNamespace("helm-watched");
  const started = Date.now();
  const seconds = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
  await using installed = await installRelease(watched.name);
  console.log(`helm install --wait returned after ${seconds()}`);

  const firstLeader = await readyLeader(installed.namespace, watched.name);
  console.log(`operator Ready and leading (${firstLeader}) after ${seconds()}`);

  // Through the API server's service proxy, as a scrape through the Service would reach a pod.
  const metrics = await kubectlOk([
    "get",
    "--raw",
    `/api/v1/namespaces/${installed.namespace}/services/${release}-metrics:metrics/proxy/metrics`,
  ]);
  assert.match(metrics, /^process_resident_memory_bytes \d+/m);

  await apply(sampleClusterIn(watched.name));
  await waitHealthy(watched.name, 3);
  const members = await memberIds(watched.name);
  console.log(`3 healthy members after ${seconds()}`);

  const before = (await operatorPods(installed.namespace)).map((pod) => pod.name);
  await underWriter(watched.name, "helm upgrade", async () => {
    await helm(upgradeArgs(installed.namespace));
    const leader = await readyLeader(installed.namespace, watched.name);
    const pods = await operatorPods(installed.namespace);
    assert.ok(!before.includes(leader), `the Deployment rolled: ${before} → ${leader}`);
    for (const pod of pods) assert.deepEqual(pod.args.slice(-2), ["--log-level", "debug"]);
    await waitHealthy(watched.name, 3);
  });
  assert.deepEqual(await memberIds(watched.name), members, "the upgrade replaced no member");
  console.log(`upgraded and still healthy after ${seconds()}`);

  const logs = await operatorLogs(installed.namespace);
  assert.doesNotMatch(logs, /forbidden/i, "the release's Role grants all the operator does");
  const claims = await claimsOf(watched.name);
  assert.equal(claims.length, 3, `one PVC per member: ${claims}`);
  await helm([
    "uninstall",
    release,
    ...kubeconfigArgs(installed.namespace),
    "--wait",
    "--timeout",
    "2m",
  ]);
  // helm waits for the Deployment to go; its pods then stop within their grace period.
  await kubectlOk([
    "wait",
    "--for=delete",
    "pod",
    "-n",
    installed.namespace,
    "-l",
    instanceSelector,
    "--timeout=60s",
  ]);
  for (const kind of ["deployments", "replicasets", "pods", "services", "serviceaccounts"]) {
    assert.deepEqual(await releaseObjects(kind, installed.namespace), [], `${kind} left`);
  }
  for (const namespace of [installed.namespace, watched.name]) {
    assert.deepEqual(await releaseObjects("roles,rolebindings", namespace), [], namespace);
  }
  console.log(`uninstalled after ${seconds()}`);

  // What the operator made is not the release's: the cluster runs on, and deleting it keeps the
  // members' volumes (PVCs have no owner).
  assert.equal((await memberPods(watched.name)).length, 3, "the members run on, unmanaged");
  await kubectlOk(["delete", "etcdcluster", "-n", watched.name, clusterName, "--wait=true"]);
  await kubectlOk([
    "wait",
    "--for=delete",
    "pod",
    "-n",
    watched.name,
    "-l",
    `${clusterLabel}=${clusterName}`,
    "--timeout=120s",
  ]);
  assert.deepEqual(await claimsOf(watched.name), claims, "the members' PVCs stay");
});
