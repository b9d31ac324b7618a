// The operator as users install it (config/manager: two replicas, leader election), left idle with
// N one-member clusters for a while, measured from its leader's /metrics; then the leader is
// killed and the standby's first minutes are watched (no step re-run, no Event for a step that
// changed nothing).
//
//   deno run -A bench/operator_incluster.ts
//
// Settings: BENCH_INCLUSTER_CLUSTERS=30, BENCH_INCLUSTER_MINUTES=30, BENCH_INCLUSTER_FAILOVER=1.
// Starts the local cluster when E2E_ADMIN_KUBECONFIG is not set; the image is the working tree's.
import { stringify } from "yaml";
import { join } from "node:path";
import { repoDir } from "../tests/env/config.ts";
import { localClusterVariables } from "../tests/run.ts";
import { apply, eventually, kubectlOk, temporaryNamespace } from "../tests/e2e/support/cluster.ts";
import {
  deployOperator,
  killOperatorPod,
  leaderPod,
  operatorNamespace,
} from "../tests/e2e/support/deployment.ts";
import { clusterManifest } from "./load/clusters.ts";
import { cell, growth, markdownTable, median } from "./load/report.ts";

const clusterCount = Number(Deno.env.get("BENCH_INCLUSTER_CLUSTERS") ?? "30");
const minutes = Number(Deno.env.get("BENCH_INCLUSTER_MINUTES") ?? "30");
const failover = (Deno.env.get("BENCH_INCLUSTER_FAILOVER") ?? "1") === "1";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Sample {
  readonly pod: string;
  readonly rssMiB: number;
  readonly heapMiB: number;
  readonly heapTotalMiB: number;
  readonly newSpaceMiB: number;
  readonly oldSpaceMiB: number;
  readonly requests: number;
  readonly writes: number;
  readonly cpuSeconds: number;
  readonly etcdClients: number;
}

async function useLocalCluster(): Promise<void> {
  if (Deno.env.get("E2E_ADMIN_KUBECONFIG")) return;
  for (const [name, value] of Object.entries(await localClusterVariables())) {
    Deno.env.set(name, value);
  }
}

function sum(text: string, pattern: RegExp): number {
  return text.split("\n").filter((line) => pattern.test(line))
    .reduce((total, line) => total + Number(line.split(" ").at(-1)), 0);
}

async function sampleLeader(): Promise<Sample> {
  for (let attempt = 0;; attempt++) {
    try {
      const pod = await leaderPod();
      if (!pod) throw new Error("no leader");
      const ip = (await kubectlOk([
        "get",
        "pod",
        "-n",
        operatorNamespace,
        pod,
        "-o",
        "jsonpath={.status.podIP}",
      ])).trim();
      const response = await fetch(`http://${ip}:8080/metrics`, {
        signal: AbortSignal.timeout(5000),
      });
      const text = await response.text();
      const mib = (pattern: RegExp) => sum(text, pattern) / 2 ** 20;
      return {
        pod,
        rssMiB: mib(/^process_resident_memory_bytes /),
        heapMiB: mib(/^deno_heap_used_bytes /),
        heapTotalMiB: mib(/^deno_heap_total_bytes /),
        newSpaceMiB: mib(/^deno_heap_space_size_bytes\{space="new_space"\}/),
        oldSpaceMiB: mib(/^deno_heap_space_size_bytes\{space="old_space"\}/),
        requests: sum(text, /^etcd_operator_kube_requests_total\{/),
        writes: sum(
          text,
          /^etcd_operator_kube_requests_total\{[^}]*verb="(create|update|patch|delete|apply)"/,
        ),
        cpuSeconds: sum(text, /^process_cpu_seconds_total /),
        etcdClients: sum(text, /^etcd_operator_etcd_clients_open/),
      };
    } catch (error) {
      if (attempt >= 20) throw error;
      await sleep(3000);
    }
  }
}

async function readiness(namespace: string): Promise<string[]> {
  const out = await kubectlOk([
    "get",
    "etcdcluster",
    "-n",
    namespace,
    "-o",
    "jsonpath={range .items[*]}{.status.readyReplicas}/{.spec.replicas} {end}",
  ]);
  return out.trim().split(/\s+/).filter((entry) => entry !== "");
}

async function eventReasons(namespace: string): Promise<Map<string, number>> {
  const out = await kubectlOk([
    "get",
    "events",
    "-n",
    namespace,
    "-o",
    'jsonpath={range .items[*]}{.reason}{"\\n"}{end}',
  ]);
  const tally = new Map<string, number>();
  for (const reason of out.split("\n").filter((line) => line !== "")) {
    tally.set(reason, (tally.get(reason) ?? 0) + 1);
  }
  return tally;
}

await useLocalCluster();
await using namespace = await temporaryNamespace("bench-incluster");
await using _operator = await deployOperator(namespace.name);
const empty = await sampleLeader();
for (let index = 0; index < clusterCount; index++) {
  await apply(stringify(clusterManifest(namespace.name, `c-${index}`, 1, "3.5.21")));
}
const createdAt = Date.now();
await eventually(
  "every cluster ready",
  () => readiness(namespace.name),
  (ready) => ready.length === clusterCount && ready.every((entry) => entry === "1/1"),
  600,
  3000,
);
const readySeconds = (Date.now() - createdAt) / 1000;
console.log(`${clusterCount} clusters ready after ${readySeconds.toFixed(0)} s`);

const samples: Sample[] = [await sampleLeader()];
const rows: string[][] = [];
const startedAt = Date.now();
for (let minute = 1; minute <= minutes; minute++) {
  await sleep(Math.max(0, startedAt + minute * 60_000 - Date.now()));
  const previous = samples.at(-1)!;
  const sample = await sampleLeader();
  samples.push(sample);
  const samePod = sample.pod === previous.pod;
  const perMinute = (now: number, before: number) => samePod ? cell(now - before) : "n/a";
  const row = [
    String(minute),
    cell(sample.rssMiB),
    cell(sample.heapMiB),
    `${cell(sample.heapTotalMiB, 0)}/${cell(sample.newSpaceMiB, 0)}/${cell(sample.oldSpaceMiB, 0)}`,
    perMinute(sample.requests, previous.requests),
    perMinute(sample.writes, previous.writes),
    samePod ? cell(((sample.cpuSeconds - previous.cpuSeconds) / 60) * 100, 2) : "n/a",
    String(sample.etcdClients),
    samePod ? "" : `leader is now ${sample.pod}`,
  ];
  rows.push(row);
  console.log(row.join("\t"));
}
const ready = await readiness(namespace.name);
const window = samples.slice(1).filter((sample) => sample.pod === samples[0].pod);
const rss = window.map((sample) => sample.rssMiB);
const last = window.at(-1) ?? samples[0];
const elapsedMinutes = window.length;
const summary = [
  `- No clusters: leader RSS ${cell(empty.rssMiB)} MiB, heap ${cell(empty.heapMiB)} MiB.`,
  `- ${clusterCount} clusters ready ${readySeconds.toFixed(0)} s after they were applied; ` +
  `${ready.filter((entry) => entry === "1/1").length}/${clusterCount} ready at the end.`,
  `- Over ${elapsedMinutes} min: RSS min/median/max ${cell(Math.min(...rss))}/${
    cell(median(rss))
  }/` +
  `${cell(Math.max(...rss))} MiB, growth (last 10 % − first 10 %) ${cell(growth(rss))} MiB; ` +
  `API requests ${cell((last.requests - samples[0].requests) / elapsedMinutes)}/min, of which ` +
  `writes ${cell((last.writes - samples[0].writes) / elapsedMinutes)}/min; CPU ` +
  `${
    cell(((last.cpuSeconds - samples[0].cpuSeconds) / (elapsedMinutes * 60)) * 100, 2)
  } % of a core.`,
];

if (failover) {
  const before = await eventReasons(namespace.name);
  const old = await leaderPod();
  const killedAt = Date.now();
  await killOperatorPod(old!);
  const next = await eventually(
    "a new leader",
    leaderPod,
    (pod) => pod !== undefined && pod !== old,
    120,
    1000,
  );
  const tookOver = (Date.now() - killedAt) / 1000;
  await sleep(120_000);
  const after = await eventReasons(namespace.name);
  const added = [...after].filter(([reason, count]) => count !== (before.get(reason) ?? 0))
    .map(([reason, count]) => `${reason} +${count - (before.get(reason) ?? 0)}`);
  const standby = await sampleLeader();
  const readyAfter = (await readiness(namespace.name)).filter((entry) => entry === "1/1").length;
  summary.push(
    `- Leader killed (SIGKILL): ${next} led after ${tookOver.toFixed(1)} s. Two minutes on: ` +
      `Events added ${added.join(", ") || "none"}; ${readyAfter}/${clusterCount} ready; new ` +
      `leader RSS ${cell(standby.rssMiB)} MiB, heap ${cell(standby.heapMiB)} MiB.`,
  );
}

const report = [
  `# In-cluster operator, ${clusterCount} one-member clusters, ${minutes} min idle`,
  "",
  markdownTable([
    "min",
    "RSS MiB",
    "heap MiB",
    "heap total/new/old MiB",
    "API req/min",
    "writes/min",
    "CPU %",
    "etcd clients",
    "note",
  ], rows),
  "",
  ...summary,
  "",
].join("\n");
console.log(report);
const path = join(
  repoDir,
  "bench",
  "results",
  `operator_incluster-${new Date().toISOString().replaceAll(":", "-")}.md`,
);
await Deno.writeTextFile(path, report);
console.log(`written to ${path}`);
