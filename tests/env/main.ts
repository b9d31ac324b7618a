// `deno task env:up | env:down | env:status`: the local Kubernetes the tests run on, three nodes
// on this one machine by default (`ETCD_ENV_NODES=1` for small machines).
import { join } from "node:path";
import { CreateBucketCommand, HeadBucketCommand, S3Client } from "@aws-sdk/client-s3";
import {
  bin,
  cacheDir,
  envDir,
  type EnvNode,
  envNode,
  everyPossibleNode,
  files,
  network,
  objectStores,
  operatorIdentity,
  ports,
  recordedNodes,
  recordNodes,
  repoDir,
  requestedNodeCount,
  runDir,
  stateDir,
} from "./config.ts";
import {
  apiserverUrl,
  componentKubeconfig,
  corefile,
  daemonNames,
  daemons,
  kubeProxyConfig,
  nodeDaemons,
  nodePaths,
  paths,
} from "./components.ts";
import { clusterObjects } from "./cluster-objects.ts";
import { buildImages } from "./images.ts";
import { networkDown, networkUp } from "./network.ts";
import {
  loseDisks,
  nodeReady,
  startNode,
  startRuntime,
  stopNode,
  writeNodeConfigs,
} from "./nodes.ts";
import {
  ensureCertificate,
  ensureCertificateAuthority,
  identities,
  type Identity,
  kubeletIdentity,
  renderKubeconfig,
} from "./pki.ts";
import {
  pidsMatching,
  run,
  runningPid,
  sleep,
  startDaemon,
  stopDaemon,
  terminate,
  waitFor,
} from "./processes.ts";

/** What tests and the operator need to reach this cluster; written to env.json. */
export interface EnvironmentInfo {
  readonly adminKubeconfig: string;
  readonly operatorKubeconfig: string;
  readonly kubectl: string;
  readonly nodeIp: string;
  /** The nodes' names, first the one the control plane's address belongs to. */
  readonly nodes: readonly string[];
  readonly s3: {
    readonly endpoint: string;
    readonly inClusterEndpoint: string;
    readonly bucket: string;
    readonly accessKey: string;
    readonly secretKey: string;
    readonly region: string;
  };
  readonly gcs: {
    readonly endpoint: string;
    readonly inClusterEndpoint: string;
    readonly bucket: string;
  };
}

const log = (message: string) => console.error(`[env] ${message}`);
const kubectlBinary = () => bin.kubernetes("kubectl");

export function kubectl(args: readonly string[], stdin?: string) {
  return run(kubectlBinary(), ["--kubeconfig", files.adminKubeconfig, ...args], { stdin });
}

async function runScript(script: string): Promise<void> {
  const child = new Deno.Command("bash", {
    args: [join(envDir, script)],
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  if (!(await child.status).success) throw new Error(`tests/env/${script} failed`);
}

async function writeFile(path: string, content: string): Promise<void> {
  await Deno.mkdir(join(path, ".."), { recursive: true });
  await Deno.writeTextFile(path, content);
}

async function preparePki(nodes: readonly EnvNode[]): Promise<void> {
  await ensureCertificateAuthority();
  const all: Identity[] = [...Object.values(identities), ...nodes.map(kubeletIdentity)];
  await Promise.all(all.map(ensureCertificate));
  const kubeconfigs: [string, Identity][] = [
    ["admin", identities.admin],
    ["controller-manager", identities.controllerManager],
    ["scheduler", identities.scheduler],
    ["kube-proxy", identities.kubeProxy],
    ["coredns", identities.coredns],
    ["provisioner", identities.provisioner],
    ...nodes.map((node): [string, Identity] => [`kubelet-${node.name}`, kubeletIdentity(node)]),
  ];
  for (const [name, identity] of kubeconfigs) {
    await writeFile(
      componentKubeconfig(name),
      await renderKubeconfig(apiserverUrl, { kind: "certificate", identity }),
    );
  }
}

async function writeConfigs(nodes: readonly EnvNode[]): Promise<void> {
  for (const node of nodes) await writeNodeConfigs(node);
  await writeFile(paths.kubeProxyConfig, kubeProxyConfig(nodes[0].name));
  await writeFile(paths.corefile, corefile());
  for (const dir of [paths.minioData, paths.fakeGcsData, paths.volumes]) {
    await Deno.mkdir(dir, { recursive: true });
  }
}

async function httpOk(url: string): Promise<boolean> {
  const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
  await response.body?.cancel();
  return response.ok;
}

async function applyBaseObjects(): Promise<void> {
  await kubectl(["apply", "-f", "-"], clusterObjects());
  const manifests = [
    join(repoDir, "config", "manager", "namespace.yaml"),
    join(repoDir, "config", "rbac"),
  ];
  const crds = join(repoDir, "crds");
  const hasCrds = [...Deno.readDirSync(crds)].some((entry) => entry.name.endsWith(".yaml"));
  if (hasCrds) manifests.push(crds);
  for (const manifest of manifests) await kubectl(["apply", "-f", manifest]);
}

async function writeOperatorKubeconfig(): Promise<void> {
  const token = (await kubectl([
    "create",
    "token",
    operatorIdentity.serviceAccount,
    "-n",
    operatorIdentity.namespace,
    "--duration=168h",
  ])).stdout.trim();
  await writeFile(
    files.operatorKubeconfig,
    await renderKubeconfig(apiserverUrl, { kind: "token", name: "etcd-operator", token }),
  );
}

async function createBuckets(): Promise<void> {
  const s3 = new S3Client({
    endpoint: `http://${network.nodeIp}:${ports.minio}`,
    region: objectStores.minio.region,
    forcePathStyle: true,
    credentials: {
      accessKeyId: objectStores.minio.accessKey,
      secretAccessKey: objectStores.minio.secretKey,
    },
  });
  try {
    const bucket = { Bucket: objectStores.minio.bucket };
    await s3.send(new HeadBucketCommand(bucket)).catch(() =>
      s3.send(new CreateBucketCommand(bucket))
    );
  } finally {
    s3.destroy();
  }
  const gcs = `http://${network.nodeIp}:${ports.fakeGcs}/storage/v1/b`;
  const existing = await fetch(`${gcs}/${objectStores.gcs.bucket}`);
  await existing.body?.cancel();
  if (!existing.ok) {
    const created = await fetch(`${gcs}?project=${objectStores.gcs.projectId}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: objectStores.gcs.bucket }),
    });
    if (!created.ok) throw new Error(`creating the GCS bucket failed: ${await created.text()}`);
  }
}

function environmentInfo(nodes: readonly EnvNode[]): EnvironmentInfo {
  return {
    nodes: nodes.map((node) => node.name),
    adminKubeconfig: files.adminKubeconfig,
    operatorKubeconfig: files.operatorKubeconfig,
    kubectl: kubectlBinary(),
    nodeIp: network.nodeIp,
    s3: {
      endpoint: `http://${network.nodeIp}:${ports.minio}`,
      inClusterEndpoint: `http://minio.${objectStores.namespace}.svc:${ports.minio}`,
      bucket: objectStores.minio.bucket,
      accessKey: objectStores.minio.accessKey,
      secretKey: objectStores.minio.secretKey,
      region: objectStores.minio.region,
    },
    gcs: {
      endpoint: `http://${network.nodeIp}:${ports.fakeGcs}`,
      inClusterEndpoint: `http://fake-gcs.${objectStores.namespace}.svc:${ports.fakeGcs}`,
      bucket: objectStores.gcs.bucket,
    },
  };
}

async function recordPreexisting(): Promise<void> {
  const marker = join(stateDir, "preexisting.json");
  if (await Deno.stat(marker).then(() => true, () => false)) return;
  const hostpathExisted = await Deno.stat("/tmp/hostpath_pv").then(() => true, () => false);
  await writeFile(
    marker,
    JSON.stringify({ hostpathExisted, netnsBindExisted: netnsBindMounted() }),
  );
}

/**
 * `ip netns add` (the e2e tests' network namespaces) bind-mounts /run/netns onto itself the first
 * time. Pods' namespaces mounted before that are then hidden beneath it, and containerd cannot
 * remove them: env:down undoes the bind mount it did not find there, so nothing is left behind.
 */
function netnsBindMounted(): boolean {
  return Deno.readTextFileSync("/proc/self/mountinfo").split("\n").some((line) => {
    const fields = line.split(" ");
    return fields[4] === "/run/netns" && fields[3] === "/run/netns";
  });
}

/** The nodes to start: those of a cluster that is already up, else `ETCD_ENV_NODES`. */
function startingNodes(): EnvNode[] {
  const upAlready = runningPid("kube-apiserver") !== undefined;
  const count = upAlready ? recordedNodes().length : requestedNodeCount();
  if (upAlready && count !== requestedNodeCount()) {
    log(`the cluster runs ${count} node(s); env:down first to change that`);
  }
  return Array.from({ length: count }, (_, index) => envNode(index));
}

export async function up(): Promise<void> {
  const started = Date.now();
  const buildStarted = Date.now();
  await runScript("install-host-packages.sh");
  await runScript("build-binaries.sh");
  const buildSeconds = (Date.now() - buildStarted) / 1000;
  await Deno.mkdir(stateDir, { recursive: true });
  await recordPreexisting();
  const nodes = startingNodes();
  recordNodes(nodes.length);
  await Promise.all([preparePki(nodes), writeConfigs(nodes), networkUp(nodes)]);
  const all = daemons();
  await startDaemon(all["backing-etcd"]);
  // Each node's containerd imports the images while the control plane starts: the kubelets
  // must find the pause and etcd images locally, since there is no registry.
  const runtimes = buildImages().then((archives) =>
    Promise.all(nodes.map((node) => startRuntime(node, archives)))
  );
  await waitFor(
    "backing etcd",
    () => httpOk(`http://127.0.0.1:${ports.backingEtcdClient}/health`),
    30_000,
    "backing-etcd",
  );
  await startDaemon(all["kube-apiserver"]);
  await waitFor(
    "kube-apiserver /readyz",
    async () => (await kubectl(["get", "--raw", "/readyz"])).stdout.trim() === "ok",
    90_000,
    "kube-apiserver",
  );
  await applyBaseObjects();
  for (
    const name of [
      "kube-controller-manager",
      "kube-scheduler",
      "kube-proxy",
      "coredns",
      "provisioner",
      "minio",
      "fake-gcs-server",
    ]
  ) {
    await startDaemon(all[name]);
  }
  await runtimes;
  for (const node of nodes) await startDaemon(nodeDaemons(node).kubelet);
  await waitFor(
    "minio",
    () => httpOk(`http://${network.nodeIp}:${ports.minio}/minio/health/ready`),
    60_000,
    "minio",
  );
  await waitFor(
    "fake-gcs-server",
    () => httpOk(`http://${network.nodeIp}:${ports.fakeGcs}/storage/v1/b`),
    30_000,
    "fake-gcs-server",
  );
  await createBuckets();
  for (const node of nodes) {
    await waitFor(
      `node ${node.name} Ready`,
      () => nodeReady(node),
      120_000,
      daemonNames.kubelet(node),
    );
  }
  await waitFor(
    "the default ServiceAccount",
    async () =>
      (await kubectl(["get", "serviceaccount", "default", "-n", "default"], undefined)).success,
    60_000,
    "kube-controller-manager",
  );
  await writeOperatorKubeconfig();
  await writeFile(files.envJson, JSON.stringify(environmentInfo(nodes), null, 2));
  const total = (Date.now() - started) / 1000;
  log(
    `cluster of ${nodes.length} node(s) ready in ${total.toFixed(1)} s (of which building ` +
      `binaries: ${buildSeconds.toFixed(1)} s)`,
  );
  log(`admin kubeconfig:    ${files.adminKubeconfig}`);
  log(`operator kubeconfig: ${files.operatorKubeconfig}`);
  log(`details:             ${files.envJson}`);
}

/** Mount points under any of the prefixes, deepest first, so children unmount before parents. */
function mountsUnder(prefixes: readonly string[]): string[] {
  const mountinfo = Deno.readTextFileSync("/proc/self/mountinfo").split("\n");
  const points = mountinfo.map((line) => line.split(" ")[4]).filter((point) =>
    point && prefixes.some((prefix) => point === prefix || point.startsWith(prefix + "/"))
  );
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/**
 * Stopping pods through the CRI lets containerd run the CNI teardown: veths, IPs, netns files.
 * After a crash or a reboot nothing runs but the pods' state is still there, so containerd is
 * started just for this.
 */
async function removeContainers(node: EnvNode): Promise<void> {
  const at = nodePaths(node);
  const configured = await Deno.stat(at.containerdConfig).then(() => true, () => false);
  const name = daemonNames.containerd(node);
  if (runningPid(name) === undefined) {
    if (!configured) return;
    await startDaemon(nodeDaemons(node).containerd);
    const up = await waitFor(
      `containerd of ${node.name}`,
      () => Deno.stat(at.containerdSocket).then(() => true),
      30_000,
      name,
    )
      .then(() => true, () => false);
    if (!up) return;
  }
  // A freshly started containerd answers "server is not initialized yet" for a few seconds.
  let result = await run(bin.criTeardown(), [at.containerdSocket], { allowFailure: true });
  for (
    let attempt = 0;
    !result.success && attempt < 30 && /not initialized/.test(result.stderr);
    attempt++
  ) {
    await sleep(1000);
    result = await run(bin.criTeardown(), [at.containerdSocket], { allowFailure: true });
  }
  if (!result.success) {
    log(`removing ${node.name}'s pods through the CRI failed: ${result.stderr.trim()}`);
  }
}

export async function down(): Promise<void> {
  const started = Date.now();
  let preexisting = { hostpathExisted: true, netnsBindExisted: true };
  try {
    preexisting = {
      ...preexisting,
      ...JSON.parse(await Deno.readTextFile(join(stateDir, "preexisting.json"))),
    };
  } catch { /* never came up: nothing of ours there */ }
  if (!preexisting.netnsBindExisted && netnsBindMounted()) {
    await run("umount", ["-l", "/run/netns"], { allowFailure: true });
  }
  // Whatever count the cluster was started with (or a crashed run left): every possible node.
  const nodes = everyPossibleNode();
  for (const node of nodes) await stopDaemon(daemonNames.kubelet(node));
  for (
    const name of [
      "kube-proxy",
      "kube-scheduler",
      "kube-controller-manager",
      "provisioner",
      "coredns",
      "minio",
      "fake-gcs-server",
    ]
  ) {
    await stopDaemon(name);
  }
  for (const node of nodes) {
    await removeContainers(node);
    await stopDaemon(daemonNames.containerd(node));
    for (const pid of pidsMatching(nodePaths(node).containerdSocket)) await terminate(pid, 5_000);
  }
  await stopDaemon("kube-apiserver");
  await stopDaemon("backing-etcd");
  const roots = nodes.map((node) => nodePaths(node).containerdRoot);
  for (const point of mountsUnder([stateDir, runDir, ...roots])) {
    await run("umount", [point], { allowFailure: true }).then((result) =>
      result.success ? result : run("umount", ["-l", point], { allowFailure: true })
    );
  }
  await networkDown(bin.kubernetes("kube-proxy"));
  if (!preexisting.hostpathExisted) {
    await Deno.remove("/tmp/hostpath_pv", { recursive: true }).catch(() => {});
  }
  await Deno.remove(stateDir, { recursive: true }).catch(() => {});
  await Deno.remove(runDir, { recursive: true }).catch(() => {});
  log(
    `cluster removed in ${
      ((Date.now() - started) / 1000).toFixed(1)
    } s (binaries and images stay cached in ${cacheDir})`,
  );
}

export async function status(): Promise<boolean> {
  let allRunning = true;
  const nodeNames = recordedNodes().flatMap((node) => Object.values(nodeDaemons(node)))
    .map((daemon) => daemon.name);
  for (const name of [...Object.keys(daemons()), ...nodeNames]) {
    const pid = runningPid(name);
    allRunning &&= pid !== undefined;
    console.log(`${name.padEnd(24)} ${pid === undefined ? "stopped" : `running (pid ${pid})`}`);
  }
  if (runningPid("kube-apiserver") !== undefined) {
    const nodes = await run(kubectlBinary(), [
      "--kubeconfig",
      files.adminKubeconfig,
      "get",
      "nodes",
      "-o",
      "wide",
    ], { allowFailure: true });
    console.log(nodes.stdout || nodes.stderr);
  }
  console.log(`details: ${files.envJson}`);
  return allRunning;
}

/** `deno task env:node stop etcd-env-node-2`: the node faults the tests use, by hand. */
async function nodeCommand(action: string, name: string): Promise<void> {
  const node = recordedNodes().find((candidate) => candidate.name === name);
  if (!node) throw new Error(`no node ${name}: ${recordedNodes().map((n) => n.name).join(", ")}`);
  if (action === "stop") await stopNode(node);
  else if (action === "start") await startNode(node);
  else if (action === "lose-disks") await loseDisks(node);
  else throw new Error(`unknown node action ${action}: stop, start or lose-disks`);
}

if (import.meta.main) {
  const command = Deno.args[0];
  if (command === "up") await up();
  else if (command === "down") await down();
  else if (command === "status") Deno.exit((await status()) ? 0 : 1);
  else if (command === "info") console.log(await Deno.readTextFile(files.envJson));
  else if (command === "node" && Deno.args.length === 3) {
    await nodeCommand(Deno.args[1], Deno.args[2]);
  } else {
    console.error("usage: main.ts up | down | status | info | node stop|start|lose-disks <name>");
    Deno.exit(2);
  }
  await sleep(0);
}
