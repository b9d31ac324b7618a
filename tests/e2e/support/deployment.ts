// The operator installed as users install it: config/manager's Deployment, scoped to one namespace.
import { apply, eventually, getJson, kubectl, kubectlOk } from "./cluster.ts";

/** Where config/manager puts the Deployment and its Lease; shared by every test that uses them. */
export const operatorNamespace = "etcd-operator-system";
const deploymentName = "etcd-operator";
const leaseName = "etcd-operator";
const podSelector = "app.kubernetes.io/name=etcd-operator";

const deploymentManifest = await Deno.readTextFile(
  new URL("../../../config/manager/deployment.yaml", import.meta.url),
);

export interface DeployedOperator extends AsyncDisposable {
  /** The pod that held the Lease once both replicas were ready. */
  readonly leader: string;
}

/** config/manager/deployment.yaml with `--namespace`, so it never acts on other tests' objects. */
export function scopedDeployment(namespace: string): string {
  const scoped = deploymentManifest.replace(
    'args: [run, --leader-elect, --metrics-addr, ":8080"]',
    `args: [run, --leader-elect, --metrics-addr, ":8080", --namespace, ${namespace}]`,
  );
  if (scoped === deploymentManifest) {
    throw new Error("config/manager/deployment.yaml's args changed shape: update scopedDeployment");
  }
  return scoped;
}

/**
 * Applies the scoped Deployment and waits for both replicas to be ready and for one of them to
 * hold the Lease. Disposing deletes the Deployment, waits for its pods to go and removes the Lease,
 * so the next test that installs the operator starts from nothing.
 */
export async function deployOperator(namespace: string): Promise<DeployedOperator> {
  // A run that was killed before its cleanup leaves a Deployment scoped to another namespace.
  await removeOperator();
  await apply(scopedDeployment(namespace));
  try {
    await eventually(
      "both operator pods ready",
      async () => (await deploymentField("{.status.readyReplicas}")).trim(),
      (ready) => ready === "2",
      120,
    );
    // A Lease left by an earlier run's pods expires first (15 s): wait for one of these pods.
    const leader = await eventually("one of the operator pods holding the Lease", leaderPod, (
      pod,
    ) => pod !== undefined, 90);
    return { leader: leader!, [Symbol.asyncDispose]: removeOperator };
  } catch (error) {
    await removeOperator();
    throw error;
  }
}

/** The running operator pod whose identity holds the Lease; undefined while none of them does. */
export async function leaderPod(): Promise<string | undefined> {
  const holder = (await kubectl([
    "get",
    "lease",
    "-n",
    operatorNamespace,
    leaseName,
    "-o",
    "jsonpath={.spec.holderIdentity}",
  ])).stdout.trim();
  if (holder === "") return undefined;
  // The identity is `<pod name>-<8 hex digits>` (mod.ts).
  return (await operatorPods()).find((pod) => holder === pod || holder.startsWith(`${pod}-`));
}

/** The operator pods that exist and are not being deleted. */
export async function operatorPods(): Promise<string[]> {
  const pods = await getJson<{
    items: { metadata: { name: string; deletionTimestamp?: string } }[];
  }>(["pods", "-n", operatorNamespace, "-l", podSelector]);
  return (pods?.items ?? []).filter((pod) => !pod.metadata.deletionTimestamp)
    .map((pod) => pod.metadata.name);
}

/** What every operator pod has logged (the current containers), for assertions and failures. */
export async function operatorLogs(): Promise<string> {
  const result = await kubectl([
    "logs",
    "-n",
    operatorNamespace,
    "-l",
    podSelector,
    "--prefix",
    "--tail=-1",
  ]);
  return result.stdout + result.stderr;
}

function deploymentField(jsonpath: string): Promise<string> {
  return kubectlOk([
    "get",
    "deployment",
    "-n",
    operatorNamespace,
    deploymentName,
    "-o",
    `jsonpath=${jsonpath}`,
  ]);
}

async function removeOperator(): Promise<void> {
  await kubectl([
    "delete",
    "deployment",
    "-n",
    operatorNamespace,
    deploymentName,
    "--ignore-not-found",
    "--wait=true",
  ]);
  // Its pods may still take the Lease while they stop: remove it only once they are gone.
  await kubectl([
    "wait",
    "--for=delete",
    "pod",
    "-n",
    operatorNamespace,
    "-l",
    podSelector,
    "--timeout=60s",
  ]);
  await kubectl(["delete", "lease", "-n", operatorNamespace, leaseName, "--ignore-not-found"]);
}

/**
 * Stops an operator pod as a node failure would: its process gets SIGKILL, so it releases no Lease
 * and finishes no step, then the pod is force-deleted and the Deployment replaces it.
 * `kubectl delete --force --grace-period=0` alone is a clean stop: the kubelet still sends SIGTERM
 * (and SIGKILL only after its 2 s minimum grace), and the operator shuts down in about 0.2 s,
 * releasing its Lease (mod.ts), so the standby takes over at once. The process is found on this
 * host (the local cluster runs its pods here); on another cluster only the force deletion
 * happens, and `killedProcesses` is 0.
 */
export async function killOperatorPod(pod: string): Promise<{ killedProcesses: number }> {
  let killedProcesses = 0;
  for (const pid of await hostProcessesOf(pod)) {
    try {
      Deno.kill(pid, "SIGKILL");
      killedProcesses++;
    } catch { /* exited meanwhile */ }
  }
  await kubectlOk([
    "delete",
    "pod",
    "-n",
    operatorNamespace,
    pod,
    "--grace-period=0",
    "--force",
    "--wait=false",
  ]);
  return { killedProcesses };
}

/** Processes of this host whose environment says they are `pod` (POD_NAME, from the Deployment). */
async function hostProcessesOf(pod: string): Promise<number[]> {
  const wanted = [`POD_NAME=${pod}`, `POD_NAMESPACE=${operatorNamespace}`];
  const pids: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const environment = await Deno.readTextFile(`/proc/${entry.name}/environ`).catch(() => "");
    const variables = environment.split("\0");
    if (wanted.every((variable) => variables.includes(variable))) pids.push(Number(entry.name));
  }
  return pids;
}
