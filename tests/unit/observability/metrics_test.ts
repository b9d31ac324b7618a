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

Deno.test("remove drops one series and removeMatching every series with those labels", () => {
  const registry = new Registry();
  const depth = registry.gauge("depth", "Pending.");
  const handled = registry.counter("handled_total", "Handled.");
  const seconds = registry.histogram("seconds", "Time.", [1]);
  for (const name of ["a", "b"]) {
    depth.set({ kind: "EtcdPeer", name }, 1);
    handled.inc({ kind: "EtcdPeer", name });
    seconds.observe({ kind: "EtcdPeer", name }, 0.5);
  }
  depth.set({ kind: "EtcdCluster", name: "a" }, 2);
  depth.remove({ name: "b", kind: "EtcdPeer" });
  handled.removeMatching({ name: "a" });
  seconds.removeMatching({ kind: "EtcdPeer" });
  depth.removeMatching({ kind: "EtcdPeer", name: "nobody" });
  assert.equal(
    registry.render(),
    [
      "# HELP depth Pending.",
      "# TYPE depth gauge",
      'depth{kind="EtcdPeer",name="a"} 1',
      'depth{kind="EtcdCluster",name="a"} 2',
      "# HELP handled_total Handled.",
      "# TYPE handled_total counter",
      'handled_total{kind="EtcdPeer",name="b"} 1',
      "# HELP seconds Time.",
      "# TYPE seconds histogram",
    ].join("\n") + "\n",
  );
});

Deno.test("a removed series starts again from zero when it comes back", () => {
  const registry = new Registry();
  const handled = registry.counter("handled_total", "Handled.");
  handled.inc({ name: "a" }, 5);
  handled.remove({ name: "a" });
  handled.inc({ name: "a" });
  assert.match(registry.render(), /^handled_total\{name="a"\} 1$/m);
});

Deno.test("a scraped gauge is read at every scrape, and a failing read renders no samples", () => {
  const registry = new Registry();
  let reads = 0;
  registry.scrapedGauge("reads", "Times read.", () => ++reads);
  registry.scrapedCounter("cpu_seconds_total", "CPU.", () => [
    { labels: { mode: "user" }, value: 1.5 },
    { labels: { mode: "system" }, value: Infinity },
  ]);
  registry.scrapedGauge("broken", "Unreadable.", () => {
    throw new Error("no /proc here");
  });
  registry.scrapedGauge("absent", "Not known.", () => undefined);
  registry.render();
  assert.equal(
    registry.render(),
    [
      "# HELP reads Times read.",
      "# TYPE reads gauge",
      "reads 2",
      "# HELP cpu_seconds_total CPU.",
      "# TYPE cpu_seconds_total counter",
      'cpu_seconds_total{mode="user"} 1.5',
      'cpu_seconds_total{mode="system"} +Inf',
      "# HELP broken Unreadable.",
      "# TYPE broken gauge",
      "# HELP absent Not known.",
      "# TYPE absent gauge",
    ].join("\n") + "\n",
  );
});
