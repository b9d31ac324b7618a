// Metrics render in Prometheus' text format; logs are one JSON object per line above the level.
import assert from "node:assert/strict";
import { createLogger } from "../../../observability/log.ts";
import { Registry } from "../../../observability/metrics.ts";

Deno.test("counters, gauges and histograms render with help, type and sorted labels", () => {
  const registry = new Registry();
  const reconciles = registry.counter("etcd_operator_reconciles_total", "Reconcile passes.");
  const depth = registry.gauge("etcd_operator_mailbox_depth", "Pending messages.");
  const duration = registry.histogram("etcd_operator_reconcile_seconds", "Pass duration.", [
    0.1,
    1,
  ]);
  reconciles.inc({ kind: "EtcdCluster", result: "ok" });
  reconciles.inc({ result: "ok", kind: "EtcdCluster" }, 2);
  depth.set({ kind: "EtcdPeer" }, 4);
  duration.observe({ kind: "EtcdCluster" }, 0.5);
  assert.equal(
    registry.render(),
    [
      "# HELP etcd_operator_reconciles_total Reconcile passes.",
      "# TYPE etcd_operator_reconciles_total counter",
      'etcd_operator_reconciles_total{kind="EtcdCluster",result="ok"} 3',
      "# HELP etcd_operator_mailbox_depth Pending messages.",
      "# TYPE etcd_operator_mailbox_depth gauge",
      'etcd_operator_mailbox_depth{kind="EtcdPeer"} 4',
      "# HELP etcd_operator_reconcile_seconds Pass duration.",
      "# TYPE etcd_operator_reconcile_seconds histogram",
      'etcd_operator_reconcile_seconds_bucket{kind="EtcdCluster",le="0.1"} 0',
      'etcd_operator_reconcile_seconds_bucket{kind="EtcdCluster",le="1"} 1',
      'etcd_operator_reconcile_seconds_bucket{kind="EtcdCluster",le="+Inf"} 1',
      'etcd_operator_reconcile_seconds_sum{kind="EtcdCluster"} 0.5',
      'etcd_operator_reconcile_seconds_count{kind="EtcdCluster"} 1',
    ].join("\n") + "\n",
  );
});

Deno.test("the logger writes JSON lines at or above its level, errors as their message", () => {
  const lines: string[] = [];
  const log = createLogger("info", { component: "test" }, (line) => lines.push(line)).with({
    cluster: "ns/c",
  });
  log.debug("hidden");
  log.warn("member unhealthy", { member: "c-1", error: new Error("deadline exceeded") });
  assert.equal(lines.length, 1);
  const entry = JSON.parse(lines[0]);
  assert.equal(entry.level, "warn");
  assert.equal(entry.msg, "member unhealthy");
  assert.equal(entry.component, "test");
  assert.equal(entry.cluster, "ns/c");
  assert.equal(entry.error, "deadline exceeded");
});
