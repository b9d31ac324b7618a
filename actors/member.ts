// A member's identity: the one place that spells its names, addresses, labels and volume record.
//
// Every kind (cluster, peer, restore, backup) builds and parses these through this module, so the
// peer URL `addLearner` sends is byte for byte the one the peer's etcd advertises. Pure.

export const clientPort = 2379;
export const peerPort = 2380;

export const labelKeys = {
  name: "app.kubernetes.io/name",
  managedBy: "app.kubernetes.io/managed-by",
  clusterName: "etcd.improbable.io/cluster-name",
  peerName: "etcd.improbable.io/peer-name",
} as const;

export const clusterLabel = labelKeys.clusterName;
export const peerLabel = labelKeys.peerName;
/** What the operator's watches select: everything it made for any cluster. */
export const ownedSelector = `${labelKeys.name}=etcd`;
export const managedByLabels: Readonly<Record<string, string>> = {
  [labelKeys.managedBy]: "etcd-operator",
};

/**
 * What selects a cluster's pods (its Services and PodDisruptionBudget). A selector of a created
 * object cannot change, so these sets stay exactly as the first release wrote them.
 */
export function clusterSelectorLabels(clusterName: string): Record<string, string> {
  return { [labelKeys.name]: "etcd", [labelKeys.clusterName]: clusterName };
}

/** What selects one member's pod (its ReplicaSet's immutable selector). */
export function peerSelectorLabels(clusterName: string, peerName: string): Record<string, string> {
  return { ...clusterSelectorLabels(clusterName), [labelKeys.peerName]: peerName };
}

/** Labels on every object of a cluster. */
export function clusterLabels(clusterName: string): Record<string, string> {
  return { ...clusterSelectorLabels(clusterName), ...managedByLabels };
}

/** Labels on every object of one member (EtcdPeer, ReplicaSet, pod, PVC). */
export function peerLabels(clusterName: string, peerName: string): Record<string, string> {
  return { ...peerSelectorLabels(clusterName, peerName), ...managedByLabels };
}

/** `k=v,k2=v2` in a fixed key order. */
export function selectorOf(labels: Readonly<Record<string, string>>): string {
  return Object.entries(labels).map(([key, value]) => `${key}=${value}`).join(",");
}

/** Member `n` of a cluster: its EtcdPeer, ReplicaSet, pod hostname, PVC and etcd name. */
export const peerName = (clusterName: string, ordinal: number) => `${clusterName}-${ordinal}`;

/** The ordinal of a peer named `<cluster>-<n>`; undefined for names the operator did not make. */
export function ordinalOf(clusterName: string, name: string): number | undefined {
  const suffix = name.slice(clusterName.length + 1);
  if (!name.startsWith(`${clusterName}-`) || !/^(0|[1-9]\d*)$/.test(suffix)) return undefined;
  return Number(suffix);
}

/** The member's stable DNS name (pod hostname + the headless Service as subdomain). */
export function peerHost(clusterName: string, namespace: string, name: string): string {
  return `${name}.${clusterName}.${namespace}.svc`;
}

/** `https` once the port has TLS (`spec.tls.peer`, `spec.tls.client`); plain HTTP by default. */
export type URLScheme = "http" | "https";

export const peerURLOfHost = (host: string, scheme: URLScheme = "http") =>
  `${scheme}://${host}:${peerPort}`;
export const clientURLOfHost = (host: string, scheme: URLScheme = "http") =>
  `${scheme}://${host}:${clientPort}`;

/** The cluster's load-balanced client Service: `<cluster>-client`. */
export const clientServiceName = (clusterName: string) => `${clusterName}-client`;

/**
 * Every DNS name a member answers to, and so exactly the SANs of its serving+peer certificate:
 * its own stable name, and the client Service's, since that Service forwards to every member.
 */
export function memberDNSNames(clusterName: string, namespace: string, name: string): string[] {
  return [
    peerHost(clusterName, namespace, name),
    `${clientServiceName(clusterName)}.${namespace}.svc`,
  ];
}

/** The Secrets of a cluster's operator-issued certificates (docs/tls.md says what each holds). */
export const tlsSecretNames = {
  /** The CA: its certificate and key, the trust bundle, and during a rotation the other CA. */
  ca: (clusterName: string) => `${clusterName}-tls-ca`,
  /** One member's serving+peer certificate and key, with the trust bundle. */
  member: (peerName: string) => `${peerName}-tls`,
  /** The client certificate the operator dials the members with. */
  operatorClient: (clusterName: string) => `${clusterName}-tls-operator`,
  /** A client certificate for applications. */
  applicationClient: (clusterName: string) => `${clusterName}-tls-client`,
} as const;

/** The peer URL the member advertises and the membership API knows it by. */
export function peerURL(
  clusterName: string,
  namespace: string,
  name: string,
  scheme: URLScheme = "http",
): string {
  return peerURLOfHost(peerHost(clusterName, namespace, name), scheme);
}

export function clientURL(
  clusterName: string,
  namespace: string,
  name: string,
  scheme: URLScheme = "http",
): string {
  return clientURLOfHost(peerHost(clusterName, namespace, name), scheme);
}

/**
 * The peer a member is: its etcd name, or for a learner that never started (no name yet) the
 * first label of its peer URL's host, when that is one of this cluster's peer names.
 */
export function memberPeerName(
  clusterName: string,
  member: { readonly name: string; readonly peerURL: string },
): string | undefined {
  if (member.name) return member.name;
  const match = /^https?:\/\/([^.:/]+)[.:/]/.exec(member.peerURL);
  if (!match || ordinalOf(clusterName, match[1]) === undefined) return undefined;
  return match[1];
}

/**
 * On an EtcdPeer: the uid of the PVC that holds its member's data, recorded when the volume is
 * first used. A member's data cannot be re-created: if that PVC is gone or another one has taken
 * its name, the member must be replaced, never started on an empty volume under its old id
 * (its raft log is gone; it could vote twice in one term).
 */
export const volumeAnnotation = "etcd.improbable.io/volume-uid";
/** The value of `volumeAnnotation` before any volume is recorded, when the data must already exist. */
export const existingVolume = "existing";

export type VolumeState =
  /** No volume yet and none expected: the peer's member starts empty (a new or re-added member). */
  | { readonly kind: "missing" }
  /** A volume is there and is (or becomes) the recorded one. */
  | { readonly kind: "present"; readonly uid: string; readonly recorded: boolean }
  /** An earlier volume of the same name is still being deleted. */
  | { readonly kind: "terminating" }
  /** The member's data is gone; `reason` says how. */
  | { readonly kind: "lost"; readonly reason: string };

/** What the peer's volume is, from the peer's record and the PVC of its name (if any). */
export function volumeState(
  recorded: string | undefined,
  claim: { readonly uid: string; readonly terminating: boolean } | undefined,
): VolumeState {
  if (claim?.terminating) {
    return recorded && recorded !== existingVolume && recorded !== claim.uid
      ? { kind: "lost", reason: "its volume was replaced and the replacement is being deleted" }
      : recorded
      ? { kind: "lost", reason: "its volume is being deleted" }
      : { kind: "terminating" };
  }
  if (!claim) {
    if (!recorded) return { kind: "missing" };
    return { kind: "lost", reason: "its volume (PVC) was deleted" };
  }
  if (!recorded || recorded === existingVolume) {
    return { kind: "present", uid: claim.uid, recorded: false };
  }
  if (recorded !== claim.uid) {
    return {
      kind: "lost",
      reason: `its volume was replaced by another PVC (uid ${claim.uid}, was ${recorded})`,
    };
  }
  return { kind: "present", uid: claim.uid, recorded: true };
}

// ---- A member's pod: container, image, data directory; and ownership ----

/** The member's container in its pod. */
export const etcdContainerName = "etcd";

export const dataDir = "/var/lib/etcd";

export function etcdImage(repository: string, version: string): string {
  return `${repository}:v${version}`;
}

/**
 * On the pod: a digest of the TLS Secrets' content it started with. The cluster actor restarts a
 * member whose Secrets no longer match it (actors/tls/plan.ts); the value says nothing secret.
 */
export const tlsDigestAnnotation = "etcd.improbable.io/tls-digest";

/** Our objects own what they make (garbage-collected with them). */
export function ownerReference(
  kind: string,
  owner: { readonly name: string; readonly uid: string },
) {
  return {
    apiVersion: "etcd.improbable.io/v1alpha1",
    kind,
    name: owner.name,
    uid: owner.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}
