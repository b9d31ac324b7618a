// The daemons of the test cluster and the configuration files each one reads.
import { join } from "node:path";
import {
  bin,
  cacheDir,
  envDir,
  type EnvNode,
  network,
  objectStores,
  ports,
  runDir,
  stateDir,
} from "./config.ts";
import {
  caCert,
  certPath,
  identities,
  keyPath,
  kubeletIdentity,
  serviceAccountKey,
  serviceAccountPub,
} from "./pki.ts";
import type { Daemon } from "./processes.ts";

export const apiserverUrl = `https://${network.nodeIp}:${ports.apiserver}`;
export const pauseImage = "registry.k8s.io/pause:3.10";

const kubeconfigDir = join(stateDir, "kubeconfig");
export const componentKubeconfig = (name: string) => join(kubeconfigDir, `${name}.yaml`);

export const paths = {
  kubeProxyConfig: join(stateDir, "kube-proxy.yaml"),
  corefile: join(stateDir, "coredns", "Corefile"),
  backingEtcdData: join(stateDir, "backing-etcd"),
  minioData: join(stateDir, "minio"),
  fakeGcsData: join(stateDir, "fake-gcs"),
  /** Where the node-local provisioner makes each node's volumes: `<volumes>/<node>/<pv>`. */
  volumes: join(stateDir, "volumes"),
} as const;

/** What belongs to one node: its containerd, kubelet, CNI network and volumes. */
export function nodePaths(node: EnvNode) {
  const state = join(stateDir, "nodes", node.name);
  const run = join(runDir, "nodes", node.name);
  return {
    /** Images and their unpacked layers outlive `env:down`, so a warm start imports nothing. */
    containerdRoot: join(cacheDir, "containerd-nodes", node.name),
    containerdState: join(run, "containerd-state"),
    containerdSocket: join(run, "containerd.sock"),
    containerdConfig: join(state, "containerd", "config.toml"),
    runcRoot: join(run, "runc"),
    cniConfigDir: join(state, "cni", "net.d"),
    cniIpamDir: join(state, "cni", "ipam"),
    kubeletRoot: join(state, "kubelet"),
    kubeletConfig: join(state, "kubelet-config.yaml"),
    kubeletKubeconfig: componentKubeconfig(`kubelet-${node.name}`),
    podLogs: join(state, "pod-logs"),
    volumes: join(paths.volumes, node.name),
    optDir: join(state, "containerd", "opt"),
  };
}

export const daemonNames = {
  containerd: (node: EnvNode) => `containerd-${node.name}`,
  kubelet: (node: EnvNode) => `kubelet-${node.name}`,
};

export function containerdConfig(node: EnvNode): string {
  const at = nodePaths(node);
  return `version = 2
root = "${at.containerdRoot}"
state = "${at.containerdState}"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "${at.containerdSocket}"

[ttrpc]
  address = "${at.containerdSocket}.ttrpc"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${pauseImage}"
  # Root on this machine lacks CAP_SYS_RESOURCE, so runc cannot lower oom_score_adj (the kubelet
  # asks -998 for sandboxes): keep every score at or above containerd's own instead of failing.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "${at.runcRoot}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${at.cniConfigDir}"

[plugins."io.containerd.internal.v1.opt"]
  path = "${at.optDir}"
`;
}

/** The node's pods hang off its bridge; no masquerading, since nothing may leave the machine. */
export function cniConfig(node: EnvNode): string {
  return JSON.stringify(
    {
      cniVersion: "0.4.0",
      name: `etcd-env-${node.name}`,
      plugins: [
        {
          type: "bridge",
          bridge: node.bridge,
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: "host-local",
            dataDir: nodePaths(node).cniIpamDir,
            ranges: [[{ subnet: node.podCidr, gateway: node.ip }]],
            routes: [{ dst: "0.0.0.0/0" }],
          },
        },
        { type: "portmap", capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  );
}

/**
 * Node-lifecycle timings, shortened so a stopped node's pods are evicted in seconds. The lease is
 * renewed every quarter of its duration, so a node is declared NotReady after about four missed
 * renewals: a busy two-core machine must not look like a dead node.
 */
export const nodeLifecycle = {
  leaseDurationSeconds: 16,
  statusUpdateFrequency: "4s",
  monitorGracePeriod: "20s",
  monitorPeriod: "2s",
  /** How long pods tolerate a not-ready or unreachable node before they are evicted. */
  tolerationSeconds: 10,
} as const;

export function kubeletConfig(node: EnvNode): string {
  const identity = kubeletIdentity(node);
  const at = nodePaths(node);
  return `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: ${node.ip}
readOnlyPort: 0
healthzBindAddress: ${node.ip}
healthzPort: 10248
tlsCertFile: ${certPath(identity)}
tlsPrivateKeyFile: ${keyPath(identity)}
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: ${caCert}}
authorization: {mode: Webhook}
containerRuntimeEndpoint: unix://${at.containerdSocket}
cgroupDriver: cgroupfs
# This machine has cgroup v1; per-QoS cgroups add nothing to a test cluster.
failCgroupV1: false
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
clusterDNS: [${network.dnsServiceIp}]
clusterDomain: ${network.clusterDomain}
# No host resolv.conf: pods resolve cluster names only, nothing off the machine.
resolvConf: ""
# Images are imported, never pulled: garbage-collecting one would break the next pod that needs it.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
serializeImagePulls: false
maxPods: 110
shutdownGracePeriod: 0s
# Each kubelet removes log directories of pods it does not know: the nodes must not share one.
podLogsDir: ${at.podLogs}
nodeLeaseDurationSeconds: ${nodeLifecycle.leaseDurationSeconds}
nodeStatusUpdateFrequency: ${nodeLifecycle.statusUpdateFrequency}
`;
}

/** One kube-proxy serves every node: they share this machine's network namespace. */
export function kubeProxyConfig(firstNodeName: string): string {
  return `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: ${componentKubeconfig("kube-proxy")}}
mode: iptables
hostnameOverride: ${firstNodeName}
bindAddress: ${network.nodeIp}
clusterCIDR: ${network.podSupernet}
nodePortAddresses: ["${network.nodeIp}/32"]
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
# Zero means "leave the host's conntrack sysctls alone".
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
iptables: {localhostNodePorts: false}
`;
}

/** Cluster names only: there is deliberately no forwarder, so no query leaves the machine. */
export function corefile(): string {
  return `.:53 {
    bind ${network.nodeIp}
    errors
    kubernetes ${network.clusterDomain} in-addr.arpa ip6.arpa {
        kubeconfig ${componentKubeconfig("coredns")} etcd-env
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 5
    }
    cache 5
    loadbalance
}
`;
}

export function nodeDaemons(node: EnvNode): { containerd: Daemon; kubelet: Daemon } {
  const at = nodePaths(node);
  return {
    containerd: {
      name: daemonNames.containerd(node),
      command: "containerd",
      args: ["--config", at.containerdConfig],
    },
    kubelet: {
      name: daemonNames.kubelet(node),
      command: bin.kubernetes("kubelet"),
      args: [
        `--config=${at.kubeletConfig}`,
        `--kubeconfig=${at.kubeletKubeconfig}`,
        `--root-dir=${at.kubeletRoot}`,
        `--hostname-override=${node.name}`,
        `--node-ip=${node.ip}`,
        `--node-labels=topology.kubernetes.io/zone=${node.zone}`,
        "--v=1",
      ],
    },
  };
}

/** The daemons shared by every node: control plane, DNS, proxy, object stores, provisioner. */
export function daemons(): Record<string, Daemon> {
  const k8s = bin.kubernetes;
  const pki = (name: keyof typeof identities) => ({
    cert: certPath(identities[name]),
    key: keyPath(identities[name]),
  });
  return {
    "backing-etcd": {
      name: "backing-etcd",
      command: bin.etcd("etcd"),
      args: [
        "--name=backing",
        `--data-dir=${paths.backingEtcdData}`,
        `--listen-client-urls=http://127.0.0.1:${ports.backingEtcdClient}`,
        `--advertise-client-urls=http://127.0.0.1:${ports.backingEtcdClient}`,
        `--listen-peer-urls=http://127.0.0.1:${ports.backingEtcdPeer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${ports.backingEtcdPeer}`,
        `--initial-cluster=backing=http://127.0.0.1:${ports.backingEtcdPeer}`,
        "--unsafe-no-fsync", // test data only: fsync on every write slows the whole cluster down
        "--quota-backend-bytes=4294967296",
      ],
    },
    "kube-apiserver": {
      name: "kube-apiserver",
      command: k8s("kube-apiserver"),
      args: [
        `--etcd-servers=http://127.0.0.1:${ports.backingEtcdClient}`,
        `--bind-address=${network.nodeIp}`,
        `--advertise-address=${network.nodeIp}`,
        `--secure-port=${ports.apiserver}`,
        `--service-cluster-ip-range=${network.serviceCidr}`,
        `--tls-cert-file=${pki("apiserver").cert}`,
        `--tls-private-key-file=${pki("apiserver").key}`,
        `--client-ca-file=${caCert}`,
        "--authorization-mode=Node,RBAC",
        "--enable-admission-plugins=NodeRestriction",
        "--allow-privileged=true",
        `--default-not-ready-toleration-seconds=${nodeLifecycle.tolerationSeconds}`,
        `--default-unreachable-toleration-seconds=${nodeLifecycle.tolerationSeconds}`,
        `--service-account-issuer=https://kubernetes.default.svc.${network.clusterDomain}`,
        `--service-account-key-file=${serviceAccountPub}`,
        `--service-account-signing-key-file=${serviceAccountKey}`,
        `--kubelet-client-certificate=${pki("apiserverKubeletClient").cert}`,
        `--kubelet-client-key=${pki("apiserverKubeletClient").key}`,
        "--kubelet-preferred-address-types=InternalIP",
        `--cert-dir=${join(stateDir, "apiserver")}`,
        "--profiling=false",
        "--v=1",
      ],
    },
    "kube-controller-manager": {
      name: "kube-controller-manager",
      command: k8s("kube-controller-manager"),
      args: [
        `--kubeconfig=${componentKubeconfig("controller-manager")}`,
        `--authentication-kubeconfig=${componentKubeconfig("controller-manager")}`,
        `--authorization-kubeconfig=${componentKubeconfig("controller-manager")}`,
        "--bind-address=127.0.0.1",
        `--service-account-private-key-file=${serviceAccountKey}`,
        `--root-ca-file=${caCert}`,
        "--use-service-account-credentials=true",
        `--node-monitor-grace-period=${nodeLifecycle.monitorGracePeriod}`,
        `--node-monitor-period=${nodeLifecycle.monitorPeriod}`,
        `--service-cluster-ip-range=${network.serviceCidr}`,
        "--leader-elect=false",
        "--profiling=false",
        "--v=1",
      ],
    },
    "kube-scheduler": {
      name: "kube-scheduler",
      command: k8s("kube-scheduler"),
      args: [
        `--kubeconfig=${componentKubeconfig("scheduler")}`,
        `--authentication-kubeconfig=${componentKubeconfig("scheduler")}`,
        `--authorization-kubeconfig=${componentKubeconfig("scheduler")}`,
        "--bind-address=127.0.0.1",
        "--leader-elect=false",
        "--profiling=false",
        "--v=1",
      ],
    },
    "kube-proxy": {
      name: "kube-proxy",
      command: k8s("kube-proxy"),
      args: [`--config=${paths.kubeProxyConfig}`, "--v=1"],
    },
    coredns: {
      name: "coredns",
      command: bin.coredns(),
      args: ["-conf", paths.corefile],
    },
    provisioner: {
      name: "provisioner",
      command: Deno.execPath(),
      args: [
        "run",
        "--allow-all",
        join(envDir, "provisioner.ts"),
        componentKubeconfig("provisioner"),
        paths.volumes,
      ],
    },
    minio: {
      name: "minio",
      command: bin.minio(),
      args: [
        "server",
        paths.minioData,
        "--address",
        `${network.nodeIp}:${ports.minio}`,
        "--console-address",
        `127.0.0.1:${ports.minioConsole}`,
        "--quiet",
      ],
      env: {
        MINIO_ROOT_USER: objectStores.minio.accessKey,
        MINIO_ROOT_PASSWORD: objectStores.minio.secretKey,
        MINIO_BROWSER: "off",
        MINIO_UPDATE: "off",
        MINIO_CALLHOME_ENABLE: "off",
        MINIO_REGION: objectStores.minio.region,
      },
    },
    "fake-gcs-server": {
      name: "fake-gcs-server",
      command: bin.fakeGcs(),
      args: [
        "-scheme",
        "http",
        "-host",
        network.nodeIp,
        "-port",
        String(ports.fakeGcs),
        "-public-host",
        `${network.nodeIp}:${ports.fakeGcs}`,
        "-external-url",
        `http://${network.nodeIp}:${ports.fakeGcs}`,
        "-backend",
        "filesystem",
        "-filesystem-root",
        paths.fakeGcsData,
        "-log-level",
        "warn",
      ],
    },
  };
}
