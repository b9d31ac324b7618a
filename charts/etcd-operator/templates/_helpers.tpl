{{/* Names, labels and the RBAC rules shared by the templates. */}}

{{- define "etcd-operator.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's name, prefixed with the chart's unless it already contains it. */}}
{{- define "etcd-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "etcd-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "etcd-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "etcd-operator.labels" -}}
{{ include "etcd-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "etcd-operator.serviceAccountName" -}}
{{- .Values.serviceAccount.name | default (include "etcd-operator.fullname" .) -}}
{{- end -}}

{{- define "etcd-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/*
Everything the operator may do where it watches. The same rules as config/rbac/role.yaml
(tests/unit/chart_test.ts compares them): Secrets only as TLS needs, no cluster-scoped writes.
*/}}
{{- define "etcd-operator.rules" -}}
- apiGroups: [etcd.improbable.io]
  resources: [etcdclusters]
  verbs: [get, list, watch, create, patch]
- apiGroups: [etcd.improbable.io]
  resources: [etcdpeers, etcdbackups]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [etcd.improbable.io]
  resources: [etcdbackupschedules]
  verbs: [list, watch]
# A cluster that lost every member's data creates the EtcdRestore that recovers it.
- apiGroups: [etcd.improbable.io]
  resources: [etcdrestores]
  verbs: [list, watch, create]
- apiGroups: [etcd.improbable.io]
  resources:
    - etcdclusters/status
    - etcdpeers/status
    - etcdbackups/status
    - etcdbackupschedules/status
    - etcdrestores/status
  verbs: [patch]
# Owner references with blockOwnerDeletion need update on finalizers (enforced on OpenShift).
- apiGroups: [etcd.improbable.io]
  resources:
    - etcdclusters/finalizers
    - etcdpeers/finalizers
    - etcdbackups/finalizers
    - etcdbackupschedules/finalizers
    - etcdrestores/finalizers
  verbs: [update]
# A member's ReplicaSet is made once and deleted to restart its pod onto new TLS material; the
# cluster's Services are made once; both are otherwise removed by garbage collection.
- apiGroups: [apps]
  resources: [replicasets]
  verbs: [list, watch, create, delete]
- apiGroups: [""]
  resources: [services]
  verbs: [list, watch, create]
# Restore pods are created; a removed member's pod on a dead node is deleted at once.
- apiGroups: [""]
  resources: [pods]
  verbs: [list, watch, create, delete]
# Reaching members from outside the cluster (`deno task dev`): the WebSocket upgrade is a GET.
- apiGroups: [""]
  resources: [pods/portforward]
  verbs: [get, create]
- apiGroups: [""]
  resources: [persistentvolumeclaims]
  verbs: [get, list, watch, create, delete]
# Server-side apply: a patch that creates the budget the first time.
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [list, watch, create, patch]
# Object-store credentials named by spec.credentialsSecretRef (read by name), and the TLS
# Secrets: the operator lists and watches only those it labels plus the user-provided ones each
# by name (RBAC cannot narrow a list by label); it writes only the certificates it issues.
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list, watch, create, update, delete]
- apiGroups: ["", events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- end -}}

{{/* Leader election on a Lease, as config/rbac/leader_election_role.yaml. */}}
{{- define "etcd-operator.leaderElectionRules" -}}
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [get, list, watch, create, update, patch]
- apiGroups: ["", events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- end -}}
