// API objects every test cluster starts with: storage class, DNS, object-store services, RBAC.
import { network, objectStores, ports, provisionerName } from "./config.ts";
import { identities } from "./pki.ts";

/** A selector-less Service whose only endpoint is a process on the node's own address. */
function hostService(
  namespace: string,
  name: string,
  servicePorts: readonly { name: string; port: number; protocol: "TCP" | "UDP" }[],
  clusterIP?: string,
): string {
  const portLines = servicePorts.map((port) =>
    `  - {name: ${port.name}, port: ${port.port}, targetPort: ${port.port}, protocol: ${port.protocol}}`
  ).join("\n");
  const endpointPortLines = servicePorts.map((port) =>
    `- {name: ${port.name}, port: ${port.port}, protocol: ${port.protocol}}`
  ).join("\n");
  return `---
apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${namespace}, labels: {app.kubernetes.io/managed-by: etcd-env}}
spec:
${clusterIP ? `  clusterIP: ${clusterIP}\n` : ""}  ports:
${portLines}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${name}-host
  namespace: ${namespace}
  labels:
    kubernetes.io/service-name: ${name}
    endpointslice.kubernetes.io/managed-by: etcd-env
addressType: IPv4
endpoints:
- addresses: ["${network.nodeIp}"]
  conditions: {ready: true}
ports:
${endpointPortLines}
`;
}

export function clusterObjects(): string {
  return `apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: ${provisionerName}
reclaimPolicy: Delete
# The scheduler picks the node first: the volume is then made on that node's disk.
volumeBindingMode: WaitForFirstConsumer
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "etcd-env:provisioner"}
rules:
- apiGroups: [""]
  resources: [persistentvolumeclaims]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [persistentvolumes]
  verbs: [get, list, watch, create, delete]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "etcd-env:provisioner"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "etcd-env:provisioner"}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: "${identities.provisioner.commonName}"}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "etcd-env:coredns"}
rules:
- apiGroups: [""]
  resources: [endpoints, services, pods, namespaces]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "etcd-env:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "etcd-env:coredns"}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: "${identities.coredns.commonName}"}
${
    hostService("kube-system", "kube-dns", [
      { name: "dns", port: 53, protocol: "UDP" },
      { name: "dns-tcp", port: 53, protocol: "TCP" },
    ], network.dnsServiceIp)
  }---
apiVersion: v1
kind: Namespace
metadata: {name: ${objectStores.namespace}}
${
    hostService(objectStores.namespace, "minio", [{
      name: "s3",
      port: ports.minio,
      protocol: "TCP",
    }])
  }${
    hostService(objectStores.namespace, "fake-gcs", [{
      name: "http",
      port: ports.fakeGcs,
      protocol: "TCP",
    }])
  }`;
}
