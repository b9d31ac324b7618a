// The objects a cluster owns directly: its headless Service, its PodDisruptionBudget, its EtcdPeers. Pure.
import type { EtcdClusterObject, PeerTLS } from "../types.ts";
import {
  clientPort,
  clientServiceName,
  clusterLabels,
  clusterSelectorLabels,
  existingVolume,
  ownerReference,
  peerLabels,
  peerPort,
  tlsDigestAnnotation,
  volumeAnnotation,
} from "../member.ts";
import type { NewPeer } from "./plan.ts";
import type { BackupRecovery } from "../recovery_record.ts";

function ownedMetadata(cluster: EtcdClusterObject, name: string, labels: Record<string, string>) {
  return {
    name,
    namespace: cluster.metadata.namespace,
    labels,
    ownerReferences: [ownerReference("EtcdCluster", cluster.metadata)],
  };
}

/** Stable DNS for every member, published before the member is ready so peers can find each other. */
export function headlessService(cluster: EtcdClusterObject) {
  const name = cluster.metadata.name;
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: ownedMetadata(cluster, name, clusterLabels(name)),
    spec: {
      clusterIP: "None",
      publishNotReadyAddresses: true,
      selector: clusterSelectorLabels(name),
      ports: [
        { name: "etcd-client", port: clientPort, targetPort: clientPort, protocol: "TCP" },
        { name: "etcd-peer", port: peerPort, targetPort: peerPort, protocol: "TCP" },
      ],
    },
  };
}

/** One stable, load-balanced address for clients: `<cluster>-client.<ns>.svc:2379`. */
export function clientService(cluster: EtcdClusterObject) {
  const name = cluster.metadata.name;
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: ownedMetadata(cluster, clientServiceName(name), clusterLabels(name)),
    spec: {
      selector: clusterSelectorLabels(name),
      ports: [{ name: "etcd-client", port: clientPort, targetPort: clientPort, protocol: "TCP" }],
    },
  };
}

/** Voluntary evictions (kubectl drain) may never take the cluster below quorum. */
export function disruptionBudget(cluster: EtcdClusterObject, minAvailable: number) {
  const name = cluster.metadata.name;
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: ownedMetadata(cluster, name, clusterLabels(name)),
    spec: { minAvailable, selector: { matchLabels: clusterSelectorLabels(name) } },
  };
}

/** With TLS: the Secrets its ports mount, and the digest of their content it starts with. */
export interface PeerTLSChoice {
  readonly secrets: PeerTLS;
  readonly digest: string;
}

export function peerObject(cluster: EtcdClusterObject, peer: NewPeer, tls?: PeerTLSChoice) {
  const clusterName = cluster.metadata.name;
  const annotations: Record<string, string> = {
    // A member etcd already knows by name has data on its kept volume: its peer must find it.
    ...(peer.dataExists ? { [volumeAnnotation]: existingVolume } : {}),
    ...(tls ? { [tlsDigestAnnotation]: tls.digest } : {}),
  };
  return {
    apiVersion: "etcd.improbable.io/v1alpha1",
    kind: "EtcdPeer",
    metadata: {
      ...ownedMetadata(cluster, peer.name, peerLabels(clusterName, peer.name)),
      ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
    },
    spec: {
      clusterName,
      version: cluster.spec.version,
      bootstrap: {
        static: { initialCluster: peer.initialCluster.map((member) => ({ ...member })) },
        initialClusterState: peer.initialClusterState,
        ...(peer.forceNewCluster ? { forceNewCluster: true } : {}),
      },
      storage: cluster.spec.storage,
      ...(cluster.spec.podTemplate ? { podTemplate: cluster.spec.podTemplate } : {}),
      ...(tls ? { tls: tls.secrets } : {}),
    },
  };
}

/**
 * The EtcdRestore a recovery from a backup creates: owned by the cluster (it goes with it), and
 * aimed at the cluster itself, which the restore accepts only while the cluster's recovery record
 * names it (actors/restore/plan.ts). Its volumes and pods are a restore's own, so they are made,
 * checked and reported as for any restore.
 */
export function recoveryRestoreObject(
  cluster: EtcdClusterObject,
  recovery: BackupRecovery & { readonly restore: string },
  replicas: number,
) {
  return {
    apiVersion: "etcd.improbable.io/v1alpha1",
    kind: "EtcdRestore",
    metadata: ownedMetadata(cluster, recovery.restore, clusterLabels(cluster.metadata.name)),
    spec: {
      source: { objectURL: recovery.objectURL },
      clusterTemplate: {
        clusterName: cluster.metadata.name,
        spec: { ...cluster.spec, replicas },
      },
      ...(recovery.credentialsSecret
        ? { credentialsSecretRef: { name: recovery.credentialsSecret } }
        : {}),
    },
  };
}
