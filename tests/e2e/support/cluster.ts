// What e2e tests know about the cluster under test, and kubectl-based helpers for driving it.

/** Reads a required E2E_* variable; `deno task test` sets them for the local cluster. */
export function required(name: string): string {
  const value = Deno.env.get(name);
  if (!value) {
    throw new Error(
      `${name} is not set: run e2e tests through \`deno task test:e2e\`, which starts the local ` +
        "cluster and sets it, or set it yourself for another cluster (see README)",
    );
  }
  return value;
}

export const e2e = {
  adminKubeconfig: () => required("E2E_ADMIN_KUBECONFIG"),
  operatorKubeconfig: () => required("E2E_OPERATOR_KUBECONFIG"),
  kubectl: () => Deno.env.get("E2E_KUBECTL") ?? "kubectl",
  s3: () => ({
    endpoint: required("E2E_S3_ENDPOINT"),
    inClusterEndpoint: required("E2E_S3_INCLUSTER_ENDPOINT"),
    bucket: required("E2E_S3_BUCKET"),
    accessKey: required("E2E_S3_ACCESS_KEY"),
    secretKey: required("E2E_S3_SECRET_KEY"),
    region: required("E2E_S3_REGION"),
  }),
  gcs: () => ({
    endpoint: required("E2E_GCS_ENDPOINT"),
    inClusterEndpoint: required("E2E_GCS_INCLUSTER_ENDPOINT"),
    bucket: required("E2E_GCS_BUCKET"),
  }),
};

export interface CommandResult {
  readonly success: boolean;
  readonly stdout: string;
  readonly stderr: string;
}

/** kubectl as the admin (or as `kubeconfig`); never throws, the caller asserts on the result. */
export async function kubectl(
  args: readonly string[],
  options: { stdin?: string; kubeconfig?: string } = {},
): Promise<CommandResult> {
  const child = new Deno.Command(e2e.kubectl(), {
    args: ["--kubeconfig", options.kubeconfig ?? e2e.adminKubeconfig(), ...args],
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const output = await child.output();
  return {
    success: output.success,
    stdout: new TextDecoder().decode(output.stdout),
    stderr: new TextDecoder().decode(output.stderr),
  };
}

/** kubectl that must succeed; the error carries kubectl's own message. */
export async function kubectlOk(
  args: readonly string[],
  options: { stdin?: string; kubeconfig?: string } = {},
): Promise<string> {
  const result = await kubectl(args, options);
  if (!result.success) {
    throw new Error(`kubectl ${args.join(" ")} failed: ${result.stderr.trim()}`);
  }
  return result.stdout;
}

/** The sample EtcdCluster (config/samples), as the guide's readers apply it. */
export const sampleCluster = await Deno.readTextFile(
  new URL("../../../config/samples/etcd_v1alpha1_etcdcluster.yaml", import.meta.url),
);

/** The sample EtcdCluster, placed in `namespace`. */
export function sampleClusterIn(namespace: string): string {
  return sampleCluster.replace(
    "name: my-cluster\n",
    `name: my-cluster\n  namespace: ${namespace}\n`,
  );
}

/** A status condition as the operator writes it. */
export interface Condition {
  readonly type: string;
  readonly status: string;
  readonly reason: string;
  readonly message: string;
}

export function apply(manifest: string): Promise<string> {
  return kubectlOk(["apply", "-f", "-"], { stdin: manifest });
}

/** A fresh namespace for one test; the returned function deletes it (and waits for nothing). */
export async function temporaryNamespace(prefix: string): Promise<{
  name: string;
  [Symbol.asyncDispose](): Promise<void>;
}> {
  const name = `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
  await kubectlOk(["create", "namespace", name]);
  return {
    name,
    async [Symbol.asyncDispose]() {
      await kubectl(["delete", "namespace", name, "--wait=false"]);
    },
  };
}

/** Runs a pod to completion and returns its phase and logs. */
export async function runPodToCompletion(
  namespace: string,
  pod: { name: string; image: string; command: readonly string[]; extraSpec?: string },
  timeoutSeconds = 120,
): Promise<{ phase: string; logs: string }> {
  const command = JSON.stringify(pod.command);
  await apply(`apiVersion: v1
kind: Pod
metadata: {name: ${pod.name}, namespace: ${namespace}}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: ${pod.image}
    imagePullPolicy: IfNotPresent
    command: ${command}
${pod.extraSpec ?? ""}`);
  const phase = await waitForPodPhase(namespace, pod.name, ["Succeeded", "Failed"], timeoutSeconds);
  const logs = await kubectl(["logs", "-n", namespace, pod.name]);
  return { phase, logs: logs.stdout + logs.stderr };
}

export async function waitForPodPhase(
  namespace: string,
  name: string,
  phases: readonly string[],
  timeoutSeconds: number,
): Promise<string> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  let phase = "";
  while (Date.now() < deadline) {
    const result = await kubectl([
      "get",
      "pod",
      "-n",
      namespace,
      name,
      "-o",
      "jsonpath={.status.phase}",
    ]);
    phase = result.stdout.trim();
    if (phases.includes(phase)) return phase;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const describe = await kubectl(["describe", "pod", "-n", namespace, name]);
  throw new Error(
    `pod ${namespace}/${name} still ${phase || "absent"} after ${timeoutSeconds} s, ` +
      `expected ${phases.join(" or ")}:\n${describe.stdout}`,
  );
}

/** Polls `read` until `done` holds; the error names what was awaited and the last value seen. */
export async function eventually<T>(
  what: string,
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutSeconds = 120,
  intervalMs = 1000,
): Promise<T> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  let value = await read();
  while (!done(value)) {
    if (Date.now() > deadline) {
      throw new Error(`${what}: still ${JSON.stringify(value)} after ${timeoutSeconds} s`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
    value = await read();
  }
  return value;
}

/** `kubectl get … -o json`, parsed; undefined when the object does not exist (or get failed). */
export async function getJson<T>(args: readonly string[]): Promise<T | undefined> {
  const result = await kubectl(["get", ...args, "-o", "json"]);
  return result.success ? JSON.parse(result.stdout) as T : undefined;
}
