// Helpers the k8s e2e tests share: API clients for the admin and the operator, and polling.
import assert from "node:assert/strict";
import { KubeClient } from "../../../k8s/client.ts";
import type { K8sResult } from "../../../k8s/errors.ts";
import { apply, e2e, kubectl } from "../support/cluster.ts";

/** The operator's own least-privilege identity (config/rbac), for what the operator will do. */
export function operatorClient(): Promise<KubeClient> {
  return KubeClient.load({ path: e2e.operatorKubeconfig() });
}

/**
 * These tests exercise the client itself (every verb on Services and EtcdClusters), more than
 * the operator's ClusterRole grants: the operator's identity gets those verbs in `namespace` only.
 */
export async function grantClientVerbs(namespace: string): Promise<void> {
  await apply(`apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: k8s-client-tests, namespace: ${namespace}}
rules:
- apiGroups: [""]
  resources: [services]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [etcd.improbable.io]
  resources: [etcdclusters, etcdclusters/status]
  verbs: [get, list, watch, create, update, patch, delete]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: k8s-client-tests, namespace: ${namespace}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: k8s-client-tests}
subjects:
- {kind: ServiceAccount, name: etcd-operator, namespace: etcd-operator-system}
`);
  // The authorizer learns of new bindings from its own watch: wait until it has.
  const asOperator = "system:serviceaccount:etcd-operator-system:etcd-operator";
  await eventually(
    async () =>
      (await kubectl(["auth", "can-i", "update", "services", "-n", namespace, "--as", asOperator]))
        .stdout.trim() === "yes",
    "the operator's identity allowed to update Services in the test namespace",
  );
}

export function adminClient(): Promise<KubeClient> {
  return KubeClient.load({ path: e2e.adminKubeconfig() });
}

export function valueOf<T>(result: K8sResult<T>): T {
  if (!result.ok) {
    assert.fail(`${result.error.kind} (${result.error.status}): ${result.error.message}`);
  }
  return result.value;
}

export function errorKindOf<T>(result: K8sResult<T>): string {
  return result.ok ? "ok" : result.error.kind;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until `condition` holds; the failure names what was awaited and what was last seen. */
export async function eventually(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
  describe: () => unknown = () => "",
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) {
      assert.fail(
        `timed out after ${timeoutMs} ms waiting for ${what} ${JSON.stringify(describe())}`,
      );
    }
    await sleep(50);
  }
}
