// Helpers the k8s e2e tests share: API clients for the admin and the operator, and polling.
import assert from "node:assert/strict";
import { KubeClient } from "../../../k8s/client.ts";
import type { K8sResult } from "../../../k8s/errors.ts";
import { e2e } from "../support/cluster.ts";

/** The operator's own least-privilege identity (config/rbac), for what the operator will do. */
export function operatorClient(): Promise<KubeClient> {
  return KubeClient.load({ path: e2e.operatorKubeconfig() });
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
