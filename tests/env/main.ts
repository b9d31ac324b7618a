// `deno task env:up | env:down | env:status`: the local single-node Kubernetes the tests run on.
import { join } from "node:path";
import { CreateBucketCommand, HeadBucketCommand, S3Client } from "@aws-sdk/client-s3";
import {
  bin,
  cacheDir,
  envDir,
  files,
  network,
  nodeName,
  objectStores,
  operatorIdentity,
  ports,
  repoDir,
  runDir,
  stateDir,
} from "./config.ts";
import {
  apiserverUrl,
  cniConfig,
  componentKubeconfig,
  containerdConfig,
  corefile,
  daemons,
  kubeletConfig,
  kubeProxyConfig,
  paths,
} from "./components.ts";
import { clusterObjects } from "./cluster-objects.ts";
import { buildImages, importImages } from "./images.ts";
import { networkDown, networkUp } from "./network.ts";
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

async function preparePki(): Promise<void> {
  await ensureCertificateAuthority();
  const all: Identity[] = [...Object.values(identities), kubeletIdentity(nodeName)];
  await Promise.all(all.map(ensureCertificate));
  const kubeconfigs: [string, Identity][] = [
    ["admin", identities.admin],
    ["controller-manager", identities.controllerManager],
    ["scheduler", identities.scheduler],
    ["kube-proxy", identities.kubeProxy],
    ["coredns", identities.coredns],
    ["kubelet", kubeletIdentity(nodeName)],
  ];
  for (const [name, identity] of kubeconfigs) {
    await writeFile(
      componentKubeconfig(name),
      await renderKubeconfig(apiserverUrl, { kind: "certificate", identity }),
    );
  }
}

async function writeConfigs(): Promise<void> {
  await writeFile(paths.containerdConfig, containerdConfig());
  await writeFile(join(paths.cniConfigDir, "10-etcd-env.conflist"), cniConfig());
  await writeFile(paths.kubeletConfig, kubeletConfig());
  await writeFile(paths.kubeProxyConfig, kubeProxyConfig());
  await writeFile(paths.corefile, corefile());
  for (const dir of [paths.minioData, paths.fakeGcsData, paths.cniIpamDir]) {
    await Deno.mkdir(dir, { recursive: true });
  }
}

async function httpOk(url: string): Promise<boolean> {
  const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
  await response.body?.cancel();
  return response.ok;
}

async function startImages(): Promise<void> {
  const archives = await buildImages();
  await waitFor(
    "containerd",
    () => Deno.stat(files.containerdSocket).then(() => true),
    30_000,
    "containerd",
  );
  await importImages(files.containerdSocket, archives);
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

function environmentInfo(): EnvironmentInfo {
  return {
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

async function nodeReady(): Promise<boolean> {
  const jsonPath = '{.status.conditions[?(@.type=="Ready")].status}';
  const result = await kubectl(["get", "node", nodeName, "-o", `jsonpath=${jsonPath}`]);
  return result.stdout.trim() === "True";
}

async function recordPreexisting(): Promise<void> {
  const marker = join(stateDir, "preexisting.json");
  if (await Deno.stat(marker).then(() => true, () => false)) return;
  const hostpathExisted = await Deno.stat("/tmp/hostpath_pv").then(() => true, () => false);
  await writeFile(marker, JSON.stringify({ hostpathExisted }));
}

export async function up(): Promise<void> {
  const started = Date.now();
  const buildStarted = Date.now();
  await runScript("install-host-packages.sh");
  await runScript("build-binaries.sh");
  const buildSeconds = (Date.now() - buildStarted) / 1000;
  await Deno.mkdir(stateDir, { recursive: true });
  await recordPreexisting();
  await Promise.all([preparePki(), writeConfigs(), networkUp()]);
  const all = daemons();
  await startDaemon(all.containerd);
  await startDaemon(all["backing-etcd"]);
  const images = startImages();
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
      "minio",
      "fake-gcs-server",
    ]
  ) {
    await startDaemon(all[name]);
  }
  await images; // the kubelet must find the pause and etcd images locally: there is no registry
  await startDaemon(all.kubelet);
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
  await waitFor(`node ${nodeName} Ready`, nodeReady, 120_000, "kubelet");
  await waitFor(
    "the default ServiceAccount",
    async () =>
      (await kubectl(["get", "serviceaccount", "default", "-n", "default"], undefined)).success,
    60_000,
    "kube-controller-manager",
  );
  await writeOperatorKubeconfig();
  await writeFile(files.envJson, JSON.stringify(environmentInfo(), null, 2));
  const total = (Date.now() - started) / 1000;
  log(
    `cluster ready in ${total.toFixed(1)} s (of which building binaries: ${
      buildSeconds.toFixed(1)
    } s)`,
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
async function removeContainers(): Promise<void> {
  const configured = await Deno.stat(paths.containerdConfig).then(() => true, () => false);
  if (runningPid("containerd") === undefined) {
    if (!configured) return;
    await startDaemon(daemons().containerd);
    const up = await waitFor(
      "containerd",
      () => Deno.stat(files.containerdSocket).then(() => true),
      30_000,
      "containerd",
    )
      .then(() => true, () => false);
    if (!up) return;
  }
  // A freshly started containerd answers "server is not initialized yet" for a few seconds.
  let result = await run(bin.criTeardown(), [files.containerdSocket], { allowFailure: true });
  for (
    let attempt = 0;
    !result.success && attempt < 30 && /not initialized/.test(result.stderr);
    attempt++
  ) {
    await sleep(1000);
    result = await run(bin.criTeardown(), [files.containerdSocket], { allowFailure: true });
  }
  if (!result.success) log(`removing pods through the CRI failed: ${result.stderr.trim()}`);
}

export async function down(): Promise<void> {
  const started = Date.now();
  for (
    const name of [
      "kubelet",
      "kube-proxy",
      "kube-scheduler",
      "kube-controller-manager",
      "coredns",
      "minio",
      "fake-gcs-server",
    ]
  ) {
    await stopDaemon(name);
  }
  await removeContainers();
  await stopDaemon("containerd");
  for (const pid of pidsMatching(files.containerdSocket)) await terminate(pid, 5_000);
  await stopDaemon("kube-apiserver");
  await stopDaemon("backing-etcd");
  for (const point of mountsUnder([stateDir, runDir, paths.containerdRoot])) {
    await run("umount", [point], { allowFailure: true }).then((result) =>
      result.success ? result : run("umount", ["-l", point], { allowFailure: true })
    );
  }
  await networkDown(bin.kubernetes("kube-proxy"));
  let preexisting = { hostpathExisted: true };
  try {
    preexisting = JSON.parse(await Deno.readTextFile(join(stateDir, "preexisting.json")));
  } catch { /* never came up: nothing of ours there */ }
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
  for (const name of Object.keys(daemons())) {
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

if (import.meta.main) {
  const command = Deno.args[0];
  if (command === "up") await up();
  else if (command === "down") await down();
  else if (command === "status") Deno.exit((await status()) ? 0 : 1);
  else if (command === "info") console.log(await Deno.readTextFile(files.envJson));
  else {
    console.error("usage: main.ts up | down | status | info");
    Deno.exit(2);
  }
  await sleep(0);
}
