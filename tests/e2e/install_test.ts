// Installing: the Helm chart and `kubectl apply -k config/default`, checked by the API server itself.
//
// Server-side dry runs only: the API server validates, defaults and admits every object (schemas,
// RBAC escalation checks, immutable fields against what exists) but stores nothing, so these tests
// leave the shared cluster as they found it.
import assert from "node:assert/strict";
import { repoDir } from "../env/config.ts";
import { objectKeys, parseManifests, renderChartText, repoManifests } from "../support/chart.ts";
import { kubectl, kubectlOk } from "./support/cluster.ts";

/** Where the local cluster (and config/manager) puts the operator; it exists before any test. */
const releaseNamespace = "etcd-operator-system";
/**
 * A release name no other install uses, so a dry run never compares against an operator that a
 * benchmark or another test runs from config/manager (a Deployment's selector is immutable).
 */
const release = "chart-dry-run";

async function dryRun(manifests: string): Promise<string> {
  const result = await kubectl(["apply", "--dry-run=server", "-f", "-"], { stdin: manifests });
  assert.ok(result.success, `the API server refused the objects:\n${result.stderr}`);
  return result.stdout;
}

/** Every object of `manifests` is named in kubectl's dry-run report. */
function assertAllReported(manifests: string, report: string): void {
  const lines = report.trim().split("\n");
  assert.equal(lines.length, parseManifests(manifests).length, report);
  for (const line of lines) assert.match(line, /\(server dry run\)$/);
}

Deno.test("the Helm chart installs cleanly for the whole cluster: the API server accepts every object it renders", async () => {
  // ServiceMonitor and PrometheusRule stay off: their CRDs (Prometheus Operator's) are not in
  // this cluster. The unit tests render and check them.
  const manifests = await renderChartText({
    release,
    namespace: releaseNamespace,
    set: { "kubeStateMetrics.enabled": true, "grafanaDashboard.enabled": true },
  });
  assertAllReported(manifests, await dryRun(manifests));
});

Deno.test("the Helm chart installs cleanly for a list of namespaces: the API server accepts every object it renders", async () => {
  const manifests = await renderChartText({
    release,
    namespace: releaseNamespace,
    // Namespaces that exist in every cluster: a dry run cannot create new ones.
    set: { watchNamespaces: ["default", "kube-public"] },
  });
  const report = await dryRun(manifests);
  assertAllReported(manifests, report);
  assert.match(report, /role.rbac.authorization.k8s.io\/chart-dry-run-etcd-operator/);
});

Deno.test("kubectl apply -k config/default installs what the kubectl apply -f paths do, and the API server accepts it", async () => {
  const rendered = await kubectlOk(["kustomize", `${repoDir}/config/default`]);
  const expected = [
    ...await repoManifests("crds"),
    ...await repoManifests("config/rbac"),
    ...await repoManifests("config/manager"),
  ];
  assert.deepEqual(objectKeys(parseManifests(rendered)), objectKeys(expected));
  const result = await kubectl(["apply", "--dry-run=server", "-k", `${repoDir}/config/default`]);
  assert.ok(result.success, `the API server refused config/default:\n${result.stderr}`);
  assertAllReported(rendered, result.stdout);
});
