// The API resources the operator touches, described as data, and the URL paths built from them.

export interface Resource {
  /** "" for the core group. */
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  /** The kind of one object, for `apiVersion`/`kind` in bodies and owner references. */
  readonly kind: string;
  readonly namespaced: boolean;
}

export const etcdGroup = "etcd.improbable.io";
export const etcdVersion = "v1alpha1";

function etcdKind(plural: string, kind: string): Resource {
  return { group: etcdGroup, version: etcdVersion, plural, kind, namespaced: true };
}

export const resources = {
  pods: { group: "", version: "v1", plural: "pods", kind: "Pod", namespaced: true },
  nodes: { group: "", version: "v1", plural: "nodes", kind: "Node", namespaced: false },
  services: { group: "", version: "v1", plural: "services", kind: "Service", namespaced: true },
  persistentVolumeClaims: {
    group: "",
    version: "v1",
    plural: "persistentvolumeclaims",
    kind: "PersistentVolumeClaim",
    namespaced: true,
  },
  events: { group: "", version: "v1", plural: "events", kind: "Event", namespaced: true },
  secrets: { group: "", version: "v1", plural: "secrets", kind: "Secret", namespaced: true },
  configMaps: {
    group: "",
    version: "v1",
    plural: "configmaps",
    kind: "ConfigMap",
    namespaced: true,
  },
  namespaces: {
    group: "",
    version: "v1",
    plural: "namespaces",
    kind: "Namespace",
    namespaced: false,
  },
  replicaSets: {
    group: "apps",
    version: "v1",
    plural: "replicasets",
    kind: "ReplicaSet",
    namespaced: true,
  },
  podDisruptionBudgets: {
    group: "policy",
    version: "v1",
    plural: "poddisruptionbudgets",
    kind: "PodDisruptionBudget",
    namespaced: true,
  },
  leases: {
    group: "coordination.k8s.io",
    version: "v1",
    plural: "leases",
    kind: "Lease",
    namespaced: true,
  },
  etcdClusters: etcdKind("etcdclusters", "EtcdCluster"),
  etcdPeers: etcdKind("etcdpeers", "EtcdPeer"),
  etcdBackups: etcdKind("etcdbackups", "EtcdBackup"),
  etcdBackupSchedules: etcdKind("etcdbackupschedules", "EtcdBackupSchedule"),
  etcdRestores: etcdKind("etcdrestores", "EtcdRestore"),
} as const satisfies Record<string, Resource>;

/** `v1` for the core group, `group/version` otherwise: the `apiVersion` of an object. */
export function apiVersionOf(resource: Resource): string {
  return resource.group === "" ? resource.version : `${resource.group}/${resource.version}`;
}

function groupPrefix(resource: Resource): string {
  return resource.group === "" ? `/api/${resource.version}` : `/apis/${apiVersionOf(resource)}`;
}

/**
 * The collection URL path. A namespaced resource without a namespace means "across all
 * namespaces" (list and watch only); a cluster-scoped one ignores the namespace.
 */
export function collectionPath(resource: Resource, namespace?: string): string {
  const scope = resource.namespaced && namespace !== undefined
    ? `/namespaces/${encodeURIComponent(namespace)}`
    : "";
  return `${groupPrefix(resource)}${scope}/${resource.plural}`;
}

export type Subresource = "status" | "scale";

export function objectPath(
  resource: Resource,
  target: ObjectTarget,
  subresource?: Subresource,
): string {
  const base = `${collectionPath(resource, target.namespace)}/${encodeURIComponent(target.name)}`;
  return subresource ? `${base}/${subresource}` : base;
}

/** Which object a call is about; `namespace` is ignored for cluster-scoped resources. */
export interface ObjectTarget {
  readonly namespace?: string;
  readonly name: string;
}
