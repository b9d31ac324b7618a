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
 * The network: one bridge owned by the environment carries the pods and the node address. Both
 * ranges are routed to the bridge, so nothing addressed to them ever leaves the machine.
 */
export const network = {
  bridge: "etcdenv0",
  podCidr: "10.120.0.0/24",
  nodeIp: "10.120.0.1",
  nodeIpCidr: "10.120.0.1/24",
  serviceCidr: "10.121.0.0/24",
  kubernetesServiceIp: "10.121.0.1",
  dnsServiceIp: "10.121.0.10",
  clusterDomain: "cluster.local",
} as const;

export const nodeName = "etcd-env-node";

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
  containerdSocket: join(runDir, "containerd", "containerd.sock"),
};
