// The operator's metrics: what the runtime, the cluster steps, the API and etcd calls export.
import assert from "node:assert/strict";
import { operatorMetrics } from "../../../actors/metrics.ts";
import type { ActorSpec } from "../../../actors/runtime/actor.ts";
import { startSupervisor } from "../../../actors/runtime/supervisor.ts";
import { manualClock, settle } from "../../../actors/runtime/testing.ts";
import { createLogger } from "../../../observability/log.ts";
import { Registry } from "../../../observability/metrics.ts";

function metrics() {
  const registry = new Registry();
  const logged: Record<string, unknown>[] = [];
  const operator = operatorMetrics(
    registry,
    createLogger("error", {}, (line) => void logged.push(JSON.parse(line))),
  );
  /** The sample lines of one metric (histograms: all of its _bucket, _sum and _count lines). */
  const lines = (name: string) =>
    registry.render().split("\n").filter((line) =>
      line.startsWith(`${name}{`) || line.startsWith(`${name} `)
    );
  return { operator, lines, logged };
}

const quiet = (name: string): ActorSpec<string> => ({
  kind: "EtcdCluster",
  name,
  init: () => ({ handle: () => {} }),
});

Deno.test("a stopped actor's mailbox depth disappears from the metrics; a live one stays", async () => {
  const { operator, lines } = metrics();
  const root = startSupervisor({
    name: "root",
    clock: manualClock(),
    hooks: operator.hooks,
    onEscalate: () => {},
  });
  root.spawn(quiet("EtcdCluster/ns/gone")).send("reconcile");
  root.spawn(quiet("EtcdCluster/ns/kept")).send("reconcile");
  await settle();
  assert.equal(lines("etcd_operator_mailbox_depth").length, 2);
  await root.stopChild("EtcdCluster/ns/gone");
  assert.deepEqual(lines("etcd_operator_mailbox_depth"), [
    'etcd_operator_mailbox_depth{kind="EtcdCluster",name="EtcdCluster/ns/kept"} 0',
  ]);
  assert.deepEqual(lines("etcd_operator_reconciles_total"), [
    'etcd_operator_reconciles_total{kind="EtcdCluster"} 2',
  ]);
  await root.stop();
  assert.deepEqual(lines("etcd_operator_mailbox_depth"), []);
});

Deno.test("an actor respawned under a stopped one's name keeps its series", async () => {
  const { operator, lines } = metrics();
  const root = startSupervisor({
    name: "root",
    clock: manualClock(),
    hooks: operator.hooks,
    onEscalate: () => {},
  });
  root.spawn(quiet("EtcdCluster/ns/c")).send("reconcile");
  await settle();
  const stopping = root.stopChild("EtcdCluster/ns/c");
  root.spawn(quiet("EtcdCluster/ns/c")).send("reconcile");
  await stopping;
  await settle();
  assert.deepEqual(lines("etcd_operator_mailbox_depth"), [
    'etcd_operator_mailbox_depth{kind="EtcdCluster",name="EtcdCluster/ns/c"} 0',
  ]);
  await root.stop();
});

Deno.test("an actor suspended for crashing too often is counted and logged as an error", async () => {
  const { operator, lines, logged } = metrics();
  const clock = manualClock();
  const root = startSupervisor({
    name: "root",
    restart: {
      backoff: { baseMs: 100, factor: 2, maxMs: 100, jitter: 0 },
      intensity: { maxRestarts: 1, withinMs: 60_000 },
    },
    exhaustedChild: "suspend",
    clock,
    hooks: operator.hooks,
    onEscalate: () => {},
  });
  root.spawn<string>({
    kind: "EtcdCluster",
    name: "ns/broken",
    init: () => {
      throw new Error("boom");
    },
  });
  await clock.advance(100);
  assert.deepEqual(lines("etcd_operator_actor_suspensions_total"), [
    'etcd_operator_actor_suspensions_total{kind="EtcdCluster"} 1',
  ]);
  const suspended = logged.filter((line) => String(line.msg).includes("suspended"));
  assert.deepEqual(
    suspended.map(({ level, actor, resumeInSeconds }) => ({ level, actor, resumeInSeconds })),
    [{ level: "error", actor: "EtcdCluster ns/broken", resumeInSeconds: 60 }],
  );
  await root.stop();
});

Deno.test("cluster steps are counted and timed by step and outcome", () => {
  const { operator, lines } = metrics();
  operator.step("addLearner", "ok", 0.2);
  operator.step("addLearner", "failed", 7);
  operator.step("createService", "ok", Number.NaN);
  assert.deepEqual(lines("etcd_operator_cluster_steps_total"), [
    'etcd_operator_cluster_steps_total{outcome="ok",step="addLearner"} 1',
    'etcd_operator_cluster_steps_total{outcome="failed",step="addLearner"} 1',
    'etcd_operator_cluster_steps_total{outcome="ok",step="createService"} 1',
  ]);
  const counts = lines("etcd_operator_cluster_step_duration_seconds_count");
  assert.deepEqual(counts, [
    'etcd_operator_cluster_step_duration_seconds_count{outcome="ok",step="addLearner"} 1',
    'etcd_operator_cluster_step_duration_seconds_count{outcome="failed",step="addLearner"} 1',
  ]);
  assert.ok(
    lines("etcd_operator_cluster_step_duration_seconds_bucket").includes(
      'etcd_operator_cluster_step_duration_seconds_bucket{outcome="failed",step="addLearner",le="10"} 1',
    ),
  );
});

Deno.test("API requests are counted by verb, resource and code, and timed by verb and resource", () => {
  const { operator, lines } = metrics();
  operator.kubeRequest({ verb: "get", resource: "pods", status: 200, seconds: 0.01 });
  operator.kubeRequest({ verb: "get", resource: "pods", status: 404, seconds: 0.02 });
  operator.kubeRequest({ verb: "watch", resource: "etcdclusters", status: undefined, seconds: 10 });
  assert.deepEqual(lines("etcd_operator_kube_requests_total"), [
    'etcd_operator_kube_requests_total{code="200",resource="pods",verb="get"} 1',
    'etcd_operator_kube_requests_total{code="404",resource="pods",verb="get"} 1',
    'etcd_operator_kube_requests_total{code="error",resource="etcdclusters",verb="watch"} 1',
  ]);
  assert.deepEqual(lines("etcd_operator_kube_request_duration_seconds_count"), [
    'etcd_operator_kube_request_duration_seconds_count{resource="pods",verb="get"} 2',
    'etcd_operator_kube_request_duration_seconds_count{resource="etcdclusters",verb="watch"} 1',
  ]);
});

Deno.test("etcd calls are counted by method and outcome, and open clients are a gauge", () => {
  const { operator, lines } = metrics();
  assert.deepEqual(lines("etcd_operator_etcd_clients_open"), ["etcd_operator_etcd_clients_open 0"]);
  operator.etcdCall("memberList", "ok", 0.004);
  operator.etcdCall("memberList", "timeout", 5);
  operator.etcdClients(3);
  assert.deepEqual(lines("etcd_operator_etcd_requests_total"), [
    'etcd_operator_etcd_requests_total{method="memberList",outcome="ok"} 1',
    'etcd_operator_etcd_requests_total{method="memberList",outcome="timeout"} 1',
  ]);
  assert.deepEqual(lines("etcd_operator_etcd_request_duration_seconds_sum"), [
    'etcd_operator_etcd_request_duration_seconds_sum{method="memberList"} 5.004',
  ]);
  assert.deepEqual(lines("etcd_operator_etcd_clients_open"), ["etcd_operator_etcd_clients_open 3"]);
});

Deno.test("a cluster's quorum-lost gauge follows its passes and goes with its actor", async () => {
  const { operator, lines } = metrics();
  const root = startSupervisor({
    name: "root",
    clock: manualClock(),
    hooks: operator.hooks,
    onEscalate: () => {},
  });
  root.spawn(quiet("ns/lost")).send("reconcile");
  root.spawn(quiet("ns/fine")).send("reconcile");
  await settle();
  operator.quorumLost("ns/lost", true);
  operator.quorumLost("ns/fine", false);
  assert.deepEqual(lines("etcd_operator_cluster_quorum_lost"), [
    'etcd_operator_cluster_quorum_lost{kind="EtcdCluster",name="ns/lost"} 1',
    'etcd_operator_cluster_quorum_lost{kind="EtcdCluster",name="ns/fine"} 0',
  ]);
  await root.stopChild("ns/lost");
  assert.deepEqual(lines("etcd_operator_cluster_quorum_lost"), [
    'etcd_operator_cluster_quorum_lost{kind="EtcdCluster",name="ns/fine"} 0',
  ]);
  await root.stop();
});
