// What an EtcdPeer becomes in Kubernetes: its PVC and its one-pod ReplicaSet. Pure templating.
import {
  clientPort,
  clientURLOfHost,
  dataDir,
  etcdContainerName,
  etcdImage,
  ownerReference,
  peerHost,
  peerLabels,
  peerPort,
  peerSelectorLabels,
  peerURLOfHost,
  tlsDigestAnnotation,
  type URLScheme,
} from "../member.ts";
import type { EtcdPeerSpec, PeerTLS, ResourceRequirements } from "../types.ts";

export interface PeerIdentity {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
}

/**
 * A CPU quantity in cores: "200m" → 0.2, "1.5" → 1.5, "2" → 2. Undefined when it is not a
 * quantity we can read, in which case GOMAXPROCS is left to the Go runtime.
 */
export function cpuCores(quantity: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(m|k|M|G)?$/.exec(quantity.trim());
  if (!match) return undefined;
  const scale = { m: 1e-3, k: 1e3, M: 1e6, G: 1e9 }[match[2] ?? ""] ?? 1;
  return Number(match[1]) * scale;
}

/** GOMAXPROCS follows the CPU limit, rounded down, never below 1; unset without a limit. */
export function goMaxProcs(resources: ResourceRequirements | undefined): string | undefined {
  const limit = resources?.limits?.cpu;
  if (limit === undefined) return undefined;
  const cores = cpuCores(limit);
  if (cores === undefined) return undefined;
  return String(Math.max(1, Math.floor(cores)));
}

/** Where a port's TLS Secret is mounted: `<tlsDir>/client` and `<tlsDir>/peer`. */
export const tlsDir = "/etc/etcd/tls";

type TLSPort = "client" | "peer";
const tlsPorts: readonly TLSPort[] = ["client", "peer"];

const schemeOf = (tls: PeerTLS | undefined, port: TLSPort): URLScheme =>
  tls?.[port] ? "https" : "http";

/** etcd's flags for each port with TLS: the mounted files, and client certificates required. */
function tlsEnvironment(tls: PeerTLS | undefined): { name: string; value: string }[] {
  const env: { name: string; value: string }[] = [];
  for (const port of tlsPorts) {
    if (!tls?.[port]) continue;
    const prefix = port === "peer" ? "ETCD_PEER_" : "ETCD_";
    const dir = `${tlsDir}/${port}`;
    env.push(
      { name: `${prefix}CERT_FILE`, value: `${dir}/tls.crt` },
      { name: `${prefix}KEY_FILE`, value: `${dir}/tls.key` },
      { name: `${prefix}TRUSTED_CA_FILE`, value: `${dir}/ca.crt` },
      { name: `${prefix}CLIENT_CERT_AUTH`, value: "true" },
    );
  }
  return env;
}

/** A read-only Secret volume per port with TLS, and where the etcd container mounts it. */
export function tlsVolumes(tls: PeerTLS | undefined) {
  const ports = tlsPorts.flatMap((port) => {
    const secretName = tls?.[port]?.secretName;
    return secretName ? [{ port, secretName }] : [];
  });
  return {
    volumes: ports.map(({ port, secretName }) => ({
      name: `tls-${port}`,
      secret: { secretName, defaultMode: 0o400 },
    })),
    volumeMounts: ports.map(({ port }) => ({
      name: `tls-${port}`,
      mountPath: `${tlsDir}/${port}`,
      readOnly: true,
    })),
  };
}

export function etcdEnvironment(
  peer: PeerIdentity,
  spec: EtcdPeerSpec,
): { name: string; value: string }[] {
  const host = peerHost(spec.clusterName, peer.namespace, peer.name);
  const peerScheme = schemeOf(spec.tls, "peer");
  const clientScheme = schemeOf(spec.tls, "client");
  const initialCluster = spec.bootstrap.static.initialCluster
    .map((member) => `${member.name}=${peerURLOfHost(member.host, peerScheme)}`)
    .join(",");
  const env = [
    { name: "ETCD_NAME", value: peer.name },
    { name: "ETCD_DATA_DIR", value: dataDir },
    { name: "ETCD_INITIAL_CLUSTER", value: initialCluster },
    { name: "ETCD_INITIAL_CLUSTER_STATE", value: spec.bootstrap.initialClusterState.toLowerCase() },
    { name: "ETCD_INITIAL_CLUSTER_TOKEN", value: spec.clusterName },
    { name: "ETCD_INITIAL_ADVERTISE_PEER_URLS", value: peerURLOfHost(host, peerScheme) },
    { name: "ETCD_LISTEN_PEER_URLS", value: `${peerScheme}://0.0.0.0:${peerPort}` },
    { name: "ETCD_LISTEN_CLIENT_URLS", value: `${clientScheme}://0.0.0.0:${clientPort}` },
    { name: "ETCD_ADVERTISE_CLIENT_URLS", value: clientURLOfHost(host, clientScheme) },
    ...tlsEnvironment(spec.tls),
    ...(spec.bootstrap.forceNewCluster ? [{ name: "ETCD_FORCE_NEW_CLUSTER", value: "true" }] : []),
  ];
  const maxProcs = goMaxProcs(spec.podTemplate?.resources);
  if (maxProcs !== undefined) env.push({ name: "GOMAXPROCS", value: maxProcs });
  return env;
}

/** The member's data volume. No owner: deleting the cluster must never delete its data. */
export function persistentVolumeClaim(peer: PeerIdentity, spec: EtcdPeerSpec) {
  const template = spec.storage.volumeClaimTemplate;
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: {
      name: peer.name,
      namespace: peer.namespace,
      labels: peerLabels(spec.clusterName, peer.name),
    },
    spec: {
      storageClassName: template.storageClassName,
      accessModes: template.accessModes?.length ? template.accessModes : ["ReadWriteOnce"],
      resources: { requests: { storage: String(template.resources.requests.storage) } },
      ...(template.selector ? { selector: template.selector } : {}),
      ...(template.volumeMode ? { volumeMode: template.volumeMode } : {}),
    },
  };
}

/** One pod running the member, with stable DNS `<peer>.<cluster>.<ns>.svc` through hostname+subdomain. */
export function replicaSet(
  peer: PeerIdentity,
  spec: EtcdPeerSpec,
  repository: string,
  options: { readonly tlsDigest?: string } = {},
) {
  const selector = peerSelectorLabels(spec.clusterName, peer.name);
  const labels = peerLabels(spec.clusterName, peer.name);
  const template = spec.podTemplate;
  const tls = tlsVolumes(spec.tls);
  const annotations: Record<string, string> = { ...template?.metadata?.annotations };
  if (options.tlsDigest) annotations[tlsDigestAnnotation] = options.tlsDigest;
  return {
    apiVersion: "apps/v1",
    kind: "ReplicaSet",
    metadata: {
      name: peer.name,
      namespace: peer.namespace,
      labels,
      ownerReferences: [ownerReference("EtcdPeer", peer)],
    },
    spec: {
      replicas: 1,
      selector: { matchLabels: selector },
      template: {
        metadata: {
          labels,
          annotations,
        },
        spec: {
          hostname: peer.name,
          subdomain: spec.clusterName,
          // Service links would inject ETCD_*-looking variables that etcd tries to parse.
          enableServiceLinks: false,
          containers: [{
            name: etcdContainerName,
            image: etcdImage(repository, spec.version),
            imagePullPolicy: "IfNotPresent",
            command: ["/usr/local/bin/etcd"],
            // etcd reports a fatal start (its data is gone, it was removed) only in its log: the
            // log's tail becomes the termination message the cluster actor diagnoses it by.
            terminationMessagePolicy: "FallbackToLogsOnError",
            env: etcdEnvironment(peer, spec),
            ports: [
              { name: "etcd-client", containerPort: clientPort },
              { name: "etcd-peer", containerPort: peerPort },
            ],
            resources: template?.resources ?? {},
            volumeMounts: [{ name: "data", mountPath: dataDir }, ...tls.volumeMounts],
          }],
          ...(template?.affinity ? { affinity: template.affinity } : {}),
          volumes: [
            { name: "data", persistentVolumeClaim: { claimName: peer.name } },
            ...tls.volumes,
          ],
        },
      },
    },
  };
}
