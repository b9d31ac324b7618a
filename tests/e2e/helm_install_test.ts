// Installing with Helm: a real `helm install` of charts/etcd-operator, a cluster run through it, an
// upgrade that rolls the operator under a writer, and an uninstall that leaves the data behind.
//
// Each release has a namespace of its own, never etcd-operator-system, where other tests run
// config/manager's Deployment, and acts only in its test's namespace: the namespaced install through
// `watchNamespaces`, the cluster-wide one through `extraArgs: [--namespace, …]` (its ClusterRole
// could reach further; the flag keeps it off other tests' clusters). `--skip-crds`: the shared
// cluster's CRDs are current and owned by env:up (Helm 4 would server-side apply the chart's copies
// over them).
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

type Mode = "namespaced" | "cluster-wide";

interface Release extends AsyncDisposable {
  readonly name: string;
  /** The release's own namespace: its Deployment, ServiceAccount and Service. */
  readonly namespace: string;
  /** The one namespace it acts in. */
  readonly watched: string;
  /** Where its Lease lives: the watched namespace when namespaced, else the release's. */
  readonly leaseNamespace: string;
  readonly instanceSelector: string;
}

/** `helm install` as the README's "Install with Helm" runs it, with this cluster's image. */
function installArgs(release: Release, mode: Mode): string[] {
  const scope = mode === "namespaced"
    ? ["--set-json", `watchNamespaces=${JSON.stringify([release.watched])}`]
    : ["--set-json", `extraArgs=${JSON.stringify(["--namespace", release.watched])}`];
  return [
    "install",
    release.name,
    chartDir,
    ...kubeconfigArgs(release.namespace),
    "--skip-crds",
    // The local cluster's image, imported into every node's containerd: there is no registry.
    "--set",
    "image.repository=etcd-operator.local/operator",
    "--set",
    "image.tag=dev",
    "--set",
    "image.pullPolicy=Never",
    ...scope,
    "--wait",
    "--timeout",
    "3m",
  ];
}

/** `helm upgrade` as the README runs it: the same values, and debug logs. */
function upgradeArgs(release: Release): string[] {
  return [
    "upgrade",
    release.name,
    chartDir,
    ...kubeconfigArgs(release.namespace),
    "--reuse-values",
    "--set-json",
    'extraArgs=["--log-level","debug"]',
    "--wait",
    "--timeout",
    "3m",
  ];
}

function uninstallArgs(release: Release): string[] {
  return ["uninstall", release.name, ...kubeconfigArgs(release.namespace), "--wait"];
}

function kubeconfigArgs(releaseNamespace: string): string[] {
  return ["--kubeconfig", e2e.adminKubeconfig(), "--namespace", releaseNamespace];
}

/**
 * The release's namespace, enforcing the `restricted` Pod Security Standard so the chart's
 * securityContext is checked by the API server, then `helm install` into it. Disposing uninstalls
 * (if the test did not), removes what a killed earlier run left cluster-wide, and deletes the
 * namespace.
 */
async function installRelease(name: string, mode: Mode, watched: string): Promise<Release> {
  const namespace = `helm-release-${crypto.randomUUID().slice(0, 8)}`;
  const instanceSelector = `app.kubernetes.io/instance=${name}`;
  const removeClusterWide = () =>
    kubectl(["delete", "clusterrole,clusterrolebinding", "-l", instanceSelector]);
  const release: Release = {
    name,
    namespace,
    watched,
    leaseNamespace: mode === "namespaced" ? watched : namespace,
    instanceSelector,
    async [Symbol.asyncDispose]() {
      await helm(uninstallArgs(release)).catch(() => {});
      if (mode === "cluster-wide") await removeClusterWide();
      await kubectl(["delete", "namespace", namespace, "--ignore-not-found", "--wait=false"]);
    },
  };
  if (mode === "cluster-wide") await removeClusterWide();
  await kubectlOk(["create", "namespace", namespace]);
  try {
    await kubectlOk([
      "label",
      "namespace",
      namespace,
      "pod-security.kubernetes.io/enforce=restricted",
    ]);
    await helm(installArgs(release, mode));
  } catch (error) {
    await release[Symbol.asyncDispose]();
    throw error;
  }
  return release;
}

interface PodState {
  readonly name: string;
  readonly ready: boolean;
  readonly args: readonly string[];
}

/** The release's operator pods that are not being deleted. */
async function operatorPods(release: Release): Promise<PodState[]> {
  const pods = await getJson<{
    items: {
      metadata: { name: string; deletionTimestamp?: string };
      spec: { containers: { args: string[] }[] };
      status: { conditions?: { type: string; status: string }[] };
    }[];
  }>(["pods", "-n", release.namespace, "-l", release.instanceSelector]);
  return (pods?.items ?? []).filter((pod) => !pod.metadata.deletionTimestamp).map((pod) => ({
    name: pod.metadata.name,
    ready: pod.status.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false,
    args: pod.spec.containers[0].args,
  }));
}

/** The pod holding the release's Lease, once both pods are Ready. */
async function readyLeader(release: Release): Promise<string> {
  const leader = await eventually(
    "both operator pods Ready and one holding the Lease",
    async () => {
      const pods = await operatorPods(release);
      if (pods.length !== 2 || !pods.every((pod) => pod.ready)) return undefined;
      const holder = (await kubectl([
        "get",
        "lease",
        "-n",
        release.leaseNamespace,
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

/** /metrics through the API server's service proxy, as a scrape through the Service reaches a pod. */
function scrapeThroughService(release: Release): Promise<string> {
  return kubectlOk([
    "get",
    "--raw",
    `/api/v1/namespaces/${release.namespace}/services/${release.name}-metrics:metrics/proxy/metrics`,
  ]);
}

/** Names of `kinds` objects labelled as the release's, in `namespace` or cluster-scoped. */
async function releaseObjects(
  release: Release,
  kinds: string,
  namespace?: string,
): Promise<string[]> {
  const where = namespace === undefined ? [] : ["-n", namespace];
  const output = await kubectlOk([
    "get",
    kinds,
    ...where,
    "-l",
    release.instanceSelector,
    "-o",
    "name",
  ]);
  return output.split("\n").filter((line) => line !== "");
}

/** What the release's operator pods have logged (their current containers). */
async function operatorLogs(release: Release): Promise<string> {
  const result = await kubectl([
    "logs",
    "-n",
    release.namespace,
    "-l",
    release.instanceSelector,
    "--prefix",
    "--tail=-1",
  ]);
  return result.stdout + result.stderr;
}

/**
 * `helm uninstall`, then nothing the release made is left: no Deployment, pods, Service,
 * ServiceAccount, Roles or bindings in its namespace or the watched one, nothing cluster-wide.
 */
async function uninstallCompletely(release: Release): Promise<void> {
  await helm([...uninstallArgs(release), "--timeout", "2m"]);
  // helm waits for the Deployment to go; its pods then stop within their grace period.
  await kubectlOk([
    "wait",
    "--for=delete",
    "pod",
    "-n",
    release.namespace,
    "-l",
    release.instanceSelector,
    "--timeout=60s",
  ]);
  const namespaced = "deployments,replicasets,pods,services,serviceaccounts,roles,rolebindings";
  assert.deepEqual(await releaseObjects(release, namespaced, release.namespace), []);
  assert.deepEqual(await releaseObjects(release, "roles,rolebindings", release.watched), []);
  assert.deepEqual(await releaseObjects(release, "clusterroles,clusterrolebindings"), []);
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

function stopwatch(): () => string {
  const started = Date.now();
  return () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
}

Deno.test("installed with Helm for one namespace: the release runs a cluster, upgrades without disturbing it, and uninstalls leaving its data", async () => {
  await using watched = await temporaryNamespace("helm-watched");
  const seconds = stopwatch();
  await using release = await installRelease("etcd-operator", "namespaced", watched.name);
  console.log(`helm install --wait returned after ${seconds()}`);
  const firstLeader = await readyLeader(release);
  console.log(`operator Ready and leading (${firstLeader}) after ${seconds()}`);
  assert.match(await scrapeThroughService(release), /^process_resident_memory_bytes \d+/m);

  await apply(sampleClusterIn(watched.name));
  await waitHealthy(watched.name, 3);
  const members = await memberIds(watched.name);
  console.log(`3 healthy members after ${seconds()}`);
  const formed = await kubectlOk([
    "get",
    "events",
    "-n",
    watched.name,
    "--field-selector",
    "reason=ClusterFormed",
    "-o",
    "name",
  ]);
  assert.notEqual(formed.trim(), "", "the operator records Events where it acts");

  const before = (await operatorPods(release)).map((pod) => pod.name);
  await underWriter(watched.name, "helm upgrade", async () => {
    await helm(upgradeArgs(release));
    const leader = await readyLeader(release);
    assert.ok(!before.includes(leader), `the Deployment rolled: ${before} → ${leader}`);
    for (const pod of await operatorPods(release)) {
      assert.deepEqual(pod.args.slice(-2), ["--log-level", "debug"]);
    }
    await waitHealthy(watched.name, 3);
  });
  assert.deepEqual(await memberIds(watched.name), members, "the upgrade replaced no member");
  console.log(`upgraded and still healthy after ${seconds()}`);

  const logs = await operatorLogs(release);
  assert.doesNotMatch(logs, /forbidden/i, "the release's Role grants all the operator does");
  const claims = await claimsOf(watched.name);
  assert.equal(claims.length, 3, `one PVC per member: ${claims}`);
  await uninstallCompletely(release);
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

Deno.test("installed with Helm for the whole cluster: a ClusterRole, the Lease in the release's namespace, and a cluster that becomes healthy", async () => {
  await using watched = await temporaryNamespace("helm-wide");
  const seconds = stopwatch();
  // Not `etcd-operator`: config/rbac's ClusterRole on this cluster has that name.
  await using release = await installRelease(
    "etcd-operator-helm-e2e",
    "cluster-wide",
    watched.name,
  );
  const leader = await readyLeader(release);
  console.log(`installed, operator Ready and leading (${leader}) after ${seconds()}`);
  assert.deepEqual(await releaseObjects(release, "clusterroles,clusterrolebindings"), [
    "clusterrole.rbac.authorization.k8s.io/etcd-operator-helm-e2e",
    "clusterrolebinding.rbac.authorization.k8s.io/etcd-operator-helm-e2e",
  ]);

  await apply(sampleClusterIn(watched.name));
  await waitHealthy(watched.name, 3);
  console.log(`3 healthy members after ${seconds()}`);
  const logs = await operatorLogs(release);
  assert.doesNotMatch(logs, /forbidden/i, "the ClusterRole grants all the operator does");

  await uninstallCompletely(release);
  console.log(`uninstalled after ${seconds()}`);
  await kubectlOk(["delete", "etcdcluster", "-n", watched.name, clusterName, "--wait=true"]);
});
