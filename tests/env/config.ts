// Where the local test cluster keeps things, which versions it runs, and its network layout.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createHash } from "node:crypto";

export const envDir = dirname(fileURLToPath(import.meta.url));
export const repoDir = join(envDir, "..", "..");

/** Reads `KEY=value` lines of versions.env (the one file that pins every version). */
export function readVersions(): Readonly<Record<string, string>> {
  const text = Deno.readTextFileSync(join(envDir, "versions.env"));
  const versions: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (match) versions[match[1]] = match[2];
  }
  return versions;
}

export const versions = readVersions();

const home = Deno.env.get("HOME") ?? "/root";
/** Built binaries and image archives, keyed by version; survives `env:down`. */
export const cacheDir = Deno.env.get("ETCD_ENV_CACHE") ??
  join(Deno.env.get("XDG_CACHE_HOME") ?? join(home, ".cache"), "etcd-operator-env");
/** Runtime state of one cluster (certificates, data, logs); removed by `env:down`. */
export const stateDir = Deno.env.get("ETCD_ENV_STATE") ?? "/var/lib/etcd-operator-env";
/** Sockets and pid files; removed by `env:down`. */
export const runDir = Deno.env.get("ETCD_ENV_RUN") ?? "/run/etcd-operator-env";

/** Our own small Go programs are cached under a hash of their source (see build-binaries.sh). */
function localBinary(name: string, sourceDir: string): string {
  const source = Deno.readFileSync(join(sourceDir, "main.go"));
  const digest = createHash("sha256").update(source).digest("hex").slice(0, 12);
  return join(cacheDir, "bin", `${name}-${digest}`, name);
}

export function binaryDir(component: string, version: string): string {
  return join(cacheDir, "bin", `${component}-${version}`);
}

export const bin = {
  kubernetes: (name: string) => join(binaryDir("kubernetes", versions.KUBERNETES_VERSION), name),
  etcd: (name: "etcd" | "etcdctl" | "etcdutl") =>
    join(binaryDir("etcd", versions.ETCD_VERSION), name),
  coredns: () => join(binaryDir("coredns", versions.COREDNS_VERSION), "coredns"),
  minio: () => join(binaryDir("minio", versions.MINIO_VERSION), "minio"),
  fakeGcs: () =>
    join(binaryDir("fake-gcs-server", versions.FAKE_GCS_SERVER_VERSION), "fake-gcs-server"),
  helm: () => join(binaryDir("helm", versions.HELM_VERSION), "helm"),
  pause: () => localBinary("pause", join(envDir, "images", "pause")),
  criTeardown: () => localBinary("cri-teardown", join(envDir, "cri-teardown")),
  deno: () => join(cacheDir, `deno-${versions.DENO_VERSION}`, "node_modules", "deno", "deno"),
};

/**
 * The network: each node owns a bridge carrying its pods' /24 and its own address, all inside
 * `podSupernet`. Everything in that range and the service range is routed to our bridges (or
 * dropped), so nothing addressed to them ever leaves the machine. The control plane and the
 * object stores listen on the first node's address.
 */
export const network = {
  podSupernet: "10.120.0.0/16",
  nodeIp: "10.120.0.1",
  serviceCidr: "10.121.0.0/24",
  kubernetesServiceIp: "10.121.0.1",
  dnsServiceIp: "10.121.0.10",
  clusterDomain: "cluster.local",
} as const;

/** One kubelet with its own containerd, bridge, pod range and zone, all on this machine. */
export interface EnvNode {
  readonly name: string;
  readonly zone: string;
  readonly bridge: string;
  readonly podCidr: string;
  readonly ip: string;
  readonly ipCidr: string;
}

export const maxNodes = 9;

export function envNode(index: number): EnvNode {
  return {
    name: `etcd-env-node-${index + 1}`,
    zone: `etcd-env-zone-${index + 1}`,
    bridge: `etcdenv${index}`,
    podCidr: `10.120.${index}.0/24`,
    ip: `10.120.${index}.1`,
    ipCidr: `10.120.${index}.1/24`,
  };
}

/** `ETCD_ENV_NODES` (default 3; 1 for small machines) decides how many nodes `env:up` starts. */
export function requestedNodeCount(): number {
  const raw = Deno.env.get("ETCD_ENV_NODES") ?? "3";
  const count = Number(raw);
  if (!Number.isInteger(count) || count < 1 || count > maxNodes) {
    throw new Error(`ETCD_ENV_NODES must be a whole number from 1 to ${maxNodes}, not "${raw}"`);
  }
  return count;
}

const nodesFile = () => join(stateDir, "nodes.json");

/** The nodes of the running (or last started) cluster: what `env:up` recorded. */
export function recordedNodes(): EnvNode[] {
  try {
    const count = JSON.parse(Deno.readTextFileSync(nodesFile())).count;
    if (Number.isInteger(count) && count >= 1 && count <= maxNodes) {
      return Array.from({ length: count }, (_, index) => envNode(index));
    }
  } catch { /* not recorded yet */ }
  return Array.from({ length: requestedNodeCount() }, (_, index) => envNode(index));
}

export function recordNodes(count: number): void {
  Deno.mkdirSync(stateDir, { recursive: true });
  Deno.writeTextFileSync(nodesFile(), JSON.stringify({ count }));
}

/** Every node `env:down` may have to clean up after, whatever count it was started with. */
export const everyPossibleNode = (): EnvNode[] =>
  Array.from({ length: maxNodes }, (_, index) => envNode(index));

/** The StorageClass `standard`'s provisioner: tests/env/provisioner.ts. */
export const provisionerName = "etcd-env.local/node-local";

export const ports = {
  apiserver: 6443,
  backingEtcdClient: 12379,
  backingEtcdPeer: 12380,
  minio: 9000,
  minioConsole: 9001,
  fakeGcs: 4443,
} as const;

/** The object stores the tests use: one bucket each, reachable from pods and from the host. */
export const objectStores = {
  namespace: "objectstores",
  minio: {
    bucket: "etcd-backups",
    accessKey: "etcd-env-access",
    secretKey: "etcd-env-secret-key-0123456789",
    region: "us-east-1",
  },
  gcs: { bucket: "etcd-backups", projectId: "etcd-env" },
} as const;

export const operatorIdentity = {
  namespace: "etcd-operator-system",
  serviceAccount: "etcd-operator",
  clusterRole: "etcd-operator",
} as const;

export const files = {
  adminKubeconfig: join(stateDir, "kubeconfig", "admin.yaml"),
  operatorKubeconfig: join(stateDir, "kubeconfig", "operator.yaml"),
  envJson: join(stateDir, "env.json"),
};
