// The Helm chart rendered by a real helm: what it installs agrees with config/, and its alerts and
// dashboard query only metrics that exist.
import assert from "node:assert/strict";
import { parser as promqlParser } from "@prometheus-io/lezer-promql";
import { parse } from "yaml";
import { operatorMetrics } from "../../actors/metrics.ts";
import { createLogger } from "../../observability/log.ts";
import { Registry } from "../../observability/metrics.ts";
import { registerProcessMetrics } from "../../observability/process.ts";
import { repoDir } from "../env/config.ts";
import {
  chartDir,
  helm,
  type Manifest,
  renderChart,
  repoManifests,
  valueArgs,
} from "../support/chart.ts";

interface Rule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
}

interface Container {
  readonly args: readonly string[];
  readonly image: string;
  readonly env: readonly { readonly name: string; readonly value?: string }[];
}

const namespaced = { set: { watchNamespaces: ["team-a", "team-b"] } };
const everything = {
  set: {
    "serviceMonitor.enabled": true,
    "prometheusRule.enabled": true,
    "grafanaDashboard.enabled": true,
    "kubeStateMetrics.enabled": true,
  },
};

function ofKind(manifests: readonly Manifest[], kind: string): Manifest[] {
  return manifests.filter((manifest) => manifest.kind === kind);
}

function only(manifests: readonly Manifest[], kind: string): Manifest {
  const found = ofKind(manifests, kind);
  assert.equal(found.length, 1, `expected one ${kind}, found ${found.length}`);
  return found[0];
}

function container(deployment: Manifest): Container {
  return deployment.spec.template.spec.containers[0];
}

/** Rules with their lists sorted, so the same grants in another order compare equal. */
function normalized(rules: readonly Rule[]): Rule[] {
  return rules.map((rule) => ({
    apiGroups: [...rule.apiGroups].sort(),
    resources: [...rule.resources].sort(),
    verbs: [...rule.verbs].sort(),
  }));
}

/** The ServiceAccount a (Cluster)RoleBinding grants to, as `namespace/name`. */
function subjects(binding: Manifest): string[] {
  return binding.subjects.map((subject: { namespace: string; name: string }) =>
    `${subject.namespace}/${subject.name}`
  );
}

Deno.test("helm lint accepts the chart with default, namespaced and all-optional values", async () => {
  for (const values of [{}, namespaced, everything]) {
    const output = await helm(["lint", "--strict", chartDir, ...valueArgs(values)]);
    assert.match(output, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  }
});

Deno.test("the chart's crds/ are byte-for-byte the CRDs in crds/", async () => {
  const names = (folder: string) =>
    [...Deno.readDirSync(folder)].map((entry) => entry.name).filter((name) =>
      name.endsWith(".yaml")
    )
      .sort();
  const source = `${repoDir}/crds`;
  const copy = `${chartDir}/crds`;
  assert.deepEqual(names(copy), names(source), "cp crds/*.yaml charts/etcd-operator/crds/");
  for (const name of names(source)) {
    assert.equal(
      await Deno.readTextFile(`${copy}/${name}`),
      await Deno.readTextFile(`${source}/${name}`),
      `charts/etcd-operator/crds/${name} differs from crds/${name}: copy it again`,
    );
  }
});

Deno.test("by default the chart installs the CRDs, cluster-wide RBAC, one Deployment and the metrics Service, nothing optional", async () => {
  const manifests = await renderChart();
  const kinds = [...new Set(manifests.map((manifest) => manifest.kind))].sort();
  assert.deepEqual(kinds, [
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "Deployment",
    "Role",
    "RoleBinding",
    "Service",
    "ServiceAccount",
  ]);
  assert.equal(ofKind(manifests, "CustomResourceDefinition").length, 5);
  const service = only(manifests, "Service");
  assert.deepEqual(service.spec.selector, only(manifests, "Deployment").spec.selector.matchLabels);
  assert.equal(service.spec.ports[0].targetPort, "metrics");
});

Deno.test("the chart's Deployment runs the pod of config/manager, with the etcd repository flag added", async () => {
  const [config] = ofKind(await repoManifests("config/manager"), "Deployment");
  const chart = only(await renderChart(), "Deployment");
  const { containers: [configContainer], ...configPod } = config.spec.template.spec;
  const { containers: [chartContainer], ...chartPod } = chart.spec.template.spec;
  assert.deepEqual(chartPod, configPod);
  assert.deepEqual(
    { ...chartContainer, args: undefined },
    { ...configContainer, args: undefined },
  );
  assert.deepEqual(chartContainer.args, [
    ...configContainer.args,
    "--etcd-repository",
    await modDefault("--etcd-repository"),
  ]);
  assert.equal(chart.spec.replicas, config.spec.replicas);
  assert.deepEqual(
    chart.spec.template.metadata.annotations,
    config.spec.template.metadata.annotations,
  );
});

/** The default that `etcd-operator help` prints for a flag: the chart's must be the same. */
async function modDefault(flag: string): Promise<string> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${repoDir}/mod.ts`, "help"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const usage = new TextDecoder().decode(output.stdout);
  const line = usage.split("\n").find((candidate) => candidate.trim().startsWith(`${flag} `));
  const found = line && /\(default: ([^)]+)\)/.exec(line);
  assert.ok(found, `no default for ${flag} in the usage:\n${usage}`);
  return found[1];
}

Deno.test("by default the operator's ServiceAccount gets config/rbac's ClusterRole and Lease role", async () => {
  const manifests = await renderChart();
  const config = await repoManifests("config/rbac");
  const serviceAccount = only(manifests, "ServiceAccount");
  const account = `etcd-operator-system/${serviceAccount.metadata.name}`;
  assert.deepEqual(
    normalized(only(manifests, "ClusterRole").rules),
    normalized(only(config, "ClusterRole").rules),
  );
  assert.deepEqual(
    normalized(only(manifests, "Role").rules),
    normalized(only(config, "Role").rules),
  );
  assert.equal(only(manifests, "Role").metadata.namespace, "etcd-operator-system");
  assert.deepEqual(subjects(only(manifests, "ClusterRoleBinding")), [account]);
  assert.deepEqual(subjects(only(manifests, "RoleBinding")), [account]);
  const args = container(only(manifests, "Deployment")).args;
  assert.ok(!args.includes("--namespace"), `a cluster-wide operator got ${args}`);
});

Deno.test("with watchNamespaces the operator may act only there: a Role and a Deployment per namespace, nothing cluster-wide", async () => {
  const manifests = await renderChart(namespaced);
  const config = await repoManifests("config/rbac");
  assert.deepEqual(ofKind(manifests, "ClusterRole"), []);
  assert.deepEqual(ofKind(manifests, "ClusterRoleBinding"), []);
  const account = `etcd-operator-system/${only(manifests, "ServiceAccount").metadata.name}`;
  // Nodes are cluster-scoped: a Role cannot grant them, and the operator does without.
  const expectedRules = normalized([
    ...only(config, "ClusterRole").rules.filter((rule: Rule) => !rule.resources.includes("nodes")),
    ...only(config, "Role").rules,
  ]);
  for (const namespace of ["team-a", "team-b"]) {
    const [role] = ofKind(manifests, "Role").filter((r) => r.metadata.namespace === namespace);
    assert.deepEqual(normalized(role.rules), expectedRules, `the Role in ${namespace}`);
    const [binding] = ofKind(manifests, "RoleBinding")
      .filter((b) => b.metadata.namespace === namespace);
    assert.deepEqual(subjects(binding), [account]);
    assert.equal(binding.roleRef.name, role.metadata.name);
    const [deployment] = ofKind(manifests, "Deployment")
      .filter((d) => container(d).args.includes(namespace));
    const args = container(deployment).args.join(" ");
    assert.match(
      args,
      new RegExp(
        `--namespace ${namespace} --leader-election-namespace ${namespace} --ignore-nodes`,
      ),
    );
  }
  assert.equal(ofKind(manifests, "Role").length, 2, "no Role outside the watched namespaces");
  const selectors = ofKind(manifests, "Deployment")
    .map((deployment) => JSON.stringify(deployment.spec.selector.matchLabels));
  assert.equal(new Set(selectors).size, 2, "two Deployments must not select each other's pods");
});

/** Every metric name the operator's /metrics can show, histograms with their three series. */
function operatorMetricNames(): Set<string> {
  const registry = new Registry();
  registerProcessMetrics(registry);
  operatorMetrics(registry, createLogger("error", {}, () => {}));
  const names = new Set<string>();
  for (const line of registry.render().split("\n")) {
    const match = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (!match) continue;
    const [, name, type] = match;
    if (type === "histogram") {
      for (const suffix of ["_bucket", "_sum", "_count"]) names.add(name + suffix);
    } else names.add(name);
  }
  return names;
}

/** The metric names the chart's kube-state-metrics configuration makes kube-state-metrics export. */
function kubeStateMetricNames(config: string): Set<string> {
  const parsed = parse(config) as {
    spec: { resources: { metricNamePrefix: string; metrics: { name: string }[] }[] };
  };
  return new Set(
    parsed.spec.resources.flatMap((resource) =>
      resource.metrics.map((metric) => `${resource.metricNamePrefix}_${metric.name}`)
    ),
  );
}

/** The metric names a PromQL expression selects; throws on a syntax error. */
function selectedMetrics(expression: string): string[] {
  const tree = promqlParser.parse(expression);
  const names: string[] = [];
  tree.iterate({
    enter: (node) => {
      if (node.type.isError) {
        throw new Error(`PromQL syntax error at ${node.from} in: ${expression}`);
      }
      if (node.name === "VectorSelector") {
        const identifier = node.node.getChild("Identifier");
        if (identifier) names.push(expression.slice(identifier.from, identifier.to));
      }
    },
  });
  return names;
}

Deno.test("the PrometheusRule covers quorum, members and backups with PromQL that parses and reads only metrics that exist", async () => {
  const manifests = await renderChart(everything);
  const ksmConfig = ofKind(manifests, "ConfigMap")
    .find((map) => map.metadata.name.endsWith("-kube-state-metrics"))!.data["config.yaml"];
  const known = new Set([...operatorMetricNames(), ...kubeStateMetricNames(ksmConfig), "up"]);
  const rule = only(manifests, "PrometheusRule");
  const alerts = rule.spec.groups.flatMap((group: { rules: { alert: string; expr: string }[] }) =>
    group.rules
  );
  for (const alert of alerts) {
    assert.doesNotMatch(alert.expr, /\$\{/, `${alert.alert}: a placeholder was not filled in`);
    const unknown = selectedMetrics(alert.expr).filter((name) => !known.has(name));
    assert.deepEqual(unknown, [], `${alert.alert} reads metrics nothing exports`);
  }
  const names = alerts.map((alert: { alert: string }) => alert.alert);
  for (
    const expected of [
      "EtcdClusterQuorumLost",
      "EtcdClusterMemberDown",
      "EtcdBackupFailed",
      "EtcdBackupScheduleLate",
      "EtcdOperatorDown",
    ]
  ) assert.ok(names.includes(expected), `no ${expected} alert in ${names}`);
  // A ServiceMonitor labels the scraped series with job=<Service name>: the operator rules select it.
  const operatorJob = only(manifests, "Service").metadata.name;
  const operatorGroup = rule.spec.groups.find((group: { name: string }) =>
    group.name === "etcd-operator.operator"
  );
  for (const alert of operatorGroup.rules) {
    assert.ok(alert.expr.includes(`job="${operatorJob}"`), `${alert.alert}: ${alert.expr}`);
  }
});

Deno.test("the ServiceMonitor scrapes the metrics Service's port, and the dashboard is JSON querying metrics that exist", async () => {
  const manifests = await renderChart(everything);
  const service = only(manifests, "Service");
  const monitor = only(manifests, "ServiceMonitor");
  assert.equal(monitor.spec.endpoints[0].port, service.spec.ports[0].name);
  for (const [label, value] of Object.entries(monitor.spec.selector.matchLabels)) {
    assert.equal(service.metadata.labels?.[label], value, `the Service lacks ${label}=${value}`);
  }
  const maps = ofKind(manifests, "ConfigMap");
  const ksmConfig = maps.find((map) => map.metadata.name.endsWith("-kube-state-metrics"))!
    .data["config.yaml"];
  const known = new Set([...operatorMetricNames(), ...kubeStateMetricNames(ksmConfig)]);
  const dashboardMap = maps.find((map) => map.metadata.labels?.grafana_dashboard === "1");
  assert.ok(dashboardMap, "no ConfigMap labelled for Grafana's dashboard sidecar");
  const dashboard = JSON.parse(dashboardMap.data["etcd-operator.json"]);
  const expressions: string[] = dashboard.panels
    .flatMap((panel: { targets?: { expr: string }[] }) => panel.targets ?? [])
    .map((target: { expr: string }) => target.expr.replaceAll("$__rate_interval", "5m"));
  assert.ok(expressions.length > 10, `only ${expressions.length} queries on the dashboard`);
  for (const expression of expressions) {
    const unknown = selectedMetrics(expression).filter((name) => !known.has(name));
    assert.deepEqual(unknown, [], `the dashboard queries metrics nothing exports: ${expression}`);
  }
});
