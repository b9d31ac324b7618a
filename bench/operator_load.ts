// Can the operator run for weeks? Memory, CPU, API traffic and reaction time under many clusters,
// a long soak and a crash-looping member, measured from outside on the local cluster.
//
//   deno run -A bench/operator_load.ts [scale|soak|crashloop|all]     (default: all)
//
// Settings (defaults are the issue's full lengths): BENCH_SCENARIOS="scale,soak,crashloop",
// BENCH_CLUSTERS="10,30,100", BENCH_IDLE_SECONDS=120, BENCH_CHANGES=20, BENCH_SOAK_CLUSTERS=30,
// BENCH_SOAK_MINUTES=30, BENCH_CRASHLOOP_MINUTES=10, BENCH_CRASHLOOP_REPLICAS=3, BENCH_BATCH=10,
// BENCH_CRASHLOOP_SETTLE_SECONDS=300 (the operator's age before the crash loop's window starts),
// BENCH_CRASHLOOP_CONTROL=1 (the same timeline with every member healthy, to tell growth the
// crash loop causes from growth the operator shows anyway),
// BENCH_WARMUP_SECONDS=60 (the operator's age before any window starts), BENCH_MEMBER_ACCESS=auto
// (the operator's --member-access: auto starts in a namespace with no pod to probe, so it
// port-forwards through the API server; direct dials pod IPs, as in a pod or on this host).
import { join } from "node:path";
import { files, repoDir, versions } from "../tests/env/config.ts";
import type { EnvironmentInfo } from "../tests/env/main.ts";
import { nodeCapacity } from "./load/capacity.ts";
import { createClusters, memberRequests, waitSettled } from "./load/clusters.ts";
import { Api, paths } from "./load/kube.ts";
import { measureWindow, verbSummary, type Window } from "./load/measure.ts";
import {
  clockTicksPerSecond,
  type RunningOperator,
  startOperator,
  waitReady,
} from "./load/process.ts";
import { combine, measureReaction, type ReactionResult, spread } from "./load/reaction.ts";
import {
  histogramDelta,
  histogramQuantile,
  type ReactionHistograms,
  reactionPhases,
  scrapeReaction,
} from "./load/breakdown.ts";
import { cell, growth, markdownTable, median, mib, percentile } from "./load/report.ts";

type Scenario = "scale" | "soak" | "crashloop";
const allScenarios: readonly Scenario[] = ["scale", "soak", "crashloop"];

function numberSetting(name: string, fallback: number): number {
  const text = Deno.env.get(name);
  const value = text === undefined ? fallback : Number(text);
  if (!(value > 0)) throw new Error(`${name}=${text}: expected a positive number`);
  return value;
}

function scenariosToRun(): Scenario[] {
  const text = Deno.args[0] ?? Deno.env.get("BENCH_SCENARIOS") ?? "all";
  if (text === "all") return [...allScenarios];
  const chosen = text.split(",").map((name) => name.trim());
  for (const name of chosen) {
    if (!allScenarios.includes(name as Scenario)) {
      throw new Error(`unknown scenario ${name}: use ${allScenarios.join(", ")} or all`);
    }
  }
  return chosen as Scenario[];
}

const settings = {
  scenarios: scenariosToRun(),
  clusterCounts: (Deno.env.get("BENCH_CLUSTERS") ?? "10,30,100").split(",").map(Number),
  idleSeconds: numberSetting("BENCH_IDLE_SECONDS", 120),
  changes: numberSetting("BENCH_CHANGES", 20),
  soakClusters: numberSetting("BENCH_SOAK_CLUSTERS", 30),
  soakMinutes: numberSetting("BENCH_SOAK_MINUTES", 30),
  crashloopMinutes: numberSetting("BENCH_CRASHLOOP_MINUTES", 10),
  crashloopReplicas: numberSetting("BENCH_CRASHLOOP_REPLICAS", 3),
  crashloopSettleSeconds: numberSetting("BENCH_CRASHLOOP_SETTLE_SECONDS", 300),
  crashloopControl: Deno.env.get("BENCH_CRASHLOOP_CONTROL") === "1",
  batch: numberSetting("BENCH_BATCH", 10),
  warmupSeconds: numberSetting("BENCH_WARMUP_SECONDS", 60),
  memberAccess: Deno.env.get("BENCH_MEMBER_ACCESS") ?? "auto",
};
if (settings.clusterCounts.some((count) => !(count > 0))) {
  throw new Error(`BENCH_CLUSTERS=${Deno.env.get("BENCH_CLUSTERS")}: expected e.g. "10,30,100"`);
}

/** Every cluster runs the newest etcd whose image the local cluster has. */
const etcdVersion = "3.5.21";
/**
 * The reaction probe. Every EtcdCluster field but replicas and version is immutable (the CRD
 * rejects the change), and changing the version of a one-member cluster deletes its only peer,
 * which the operator then refuses to re-create ("will not bootstrap a second cluster"): the
 * cluster is lost. So the probe is the least disruptive change that leaves the cluster as it
 * was: replicas 1 → 2 (a learner is added and promoted), and once settled, 2 → 1.
 */
const reactionReplicas = { up: 2, down: 1 };
const timeouts = {
  operatorReadySeconds: 120,
  batchReadySeconds: 600,
  quietSeconds: 300,
  namespaceGoneSeconds: 600,
  reactionMs: 60_000,
};
const sampleSeconds = { scale: 5, soak: 10, crashloop: 10 };
const resultsDir = join(repoDir, "bench", "results");

const started = performance.now();
function progress(message: string): void {
  const elapsed = ((performance.now() - started) / 1000).toFixed(0).padStart(5);
  console.error(`[operator_load ${elapsed} s] ${message}`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Cleanup steps run last-in first-out, once, on success, failure or Ctrl-C. */
class Cleanup {
  private readonly tasks: (() => Promise<void>)[] = [];
  private running: Promise<void> | undefined;

  defer(task: () => Promise<void>): void {
    this.tasks.push(task);
  }

  run(): Promise<void> {
    this.running ??= (async () => {
      for (let task = this.tasks.pop(); task; task = this.tasks.pop()) {
        await task().catch((error) => console.error(`cleanup: ${error}`));
      }
    })().finally(() => this.running = undefined);
    return this.running;
  }
}

const cleanup = new Cleanup();

/** The local cluster's kubeconfigs; starts it (`tests/env/main.ts up`) unless it answers already. */
async function localCluster(): Promise<EnvironmentInfo> {
  const readInfo = async () =>
    JSON.parse(await Deno.readTextFile(files.envJson)) as EnvironmentInfo;
  try {
    const info = await readInfo();
    using api = await Api.open(info.adminKubeconfig);
    await api.read("/version");
    return info;
  } catch {
    progress("the local cluster does not answer: starting it (tests/env/main.ts up)");
  }
  const up = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(repoDir, "tests", "env", "main.ts"), "up"],
    stdout: "inherit",
    stderr: "inherit",
  });
  if (!(await up.output()).success) throw new Error("the local cluster did not come up");
  return await readInfo();
}

interface Bench {
  readonly api: Api;
  readonly namespace: string;
  readonly operator: RunningOperator;
  readonly ticksPerSecond: number;
  /** performance.now() when the operator was started. */
  readonly operatorStarted: number;
}

interface Run {
  readonly info: EnvironmentInfo;
  readonly api: Api;
  readonly stamp: string;
  readonly ticksPerSecond: number;
}

async function deleteNamespace(api: Api, namespace: string): Promise<void> {
  progress(`deleting namespace ${namespace}`);
  await api.delete(paths.namespace(namespace));
  const deadline = Date.now() + timeouts.namespaceGoneSeconds * 1000;
  while (await api.get(paths.namespace(namespace))) {
    if (Date.now() > deadline) {
      console.error(
        `namespace ${namespace} still terminating after ` +
          `${timeouts.namespaceGoneSeconds} s; left to the API server`,
      );
      return;
    }
    await sleep(2_000);
  }
}

/** A fresh namespace and an operator watching only it; both go away when `body` ends. */
async function withBench<T>(
  run: Run,
  scenario: Scenario,
  body: (bench: Bench) => Promise<T>,
): Promise<T> {
  const namespace = `bench-${scenario}-${crypto.randomUUID().slice(0, 6)}`;
  try {
    await run.api.create(paths.namespaces, { metadata: { name: namespace } });
    cleanup.defer(() => deleteNamespace(run.api, namespace));
    const logPath = join(resultsDir, `operator_load-${run.stamp}-${scenario}.log`);
    const operatorStarted = performance.now();
    const operator = startOperator({
      namespace,
      kubeconfig: run.info.operatorKubeconfig,
      logPath,
      memberAccess: settings.memberAccess,
    });
    cleanup.defer(() => operator.stop());
    progress(`${scenario}: operator pid ${operator.pid} on namespace ${namespace}, log ${logPath}`);
    await waitReady(operator, timeouts.operatorReadySeconds);
    const { api, ticksPerSecond } = run;
    return await body({ api, namespace, operator, ticksPerSecond, operatorStarted });
  } finally {
    await cleanup.run();
  }
}

/**
 * Waits until the operator has run BENCH_WARMUP_SECONDS (or `seconds`): a just-started operator
 * still holds start-up garbage (here RSS fell by ~25 MiB some 30 s after /readyz), which would
 * read as a drop in the first window, or inflate a baseline.
 */
async function warmedUp(bench: Bench, seconds = settings.warmupSeconds): Promise<void> {
  const remainingMs = seconds * 1000 - (performance.now() - bench.operatorStarted);
  if (remainingMs <= 0) return;
  progress(`operator warm-up: ${(remainingMs / 1000).toFixed(0)} s more`);
  await sleep(remainingMs);
}

/**
 * At most `wanted` clusters of `membersEach` members, as many as the node still holds with
 * room left for `reserve` more members.
 */
async function capped(api: Api, wanted: number, membersEach: number, what: string, reserve = 0) {
  const capacity = await nodeCapacity(api, memberRequests);
  const fits = Math.max(0, Math.floor((capacity.fits - reserve) / membersEach));
  const note = `nodes ${capacity.node} hold ${capacity.fits} more members ` +
    `(by pods ${capacity.byPods}, by memory ${capacity.byMemory}, by CPU ${capacity.byCpu}; ` +
    `each member requests ${memberRequests.cpuMillis}m CPU, ` +
    `${mib(memberRequests.memoryBytes)} MiB)` +
    (reserve ? `, ${reserve} of them kept free for the reaction probe` : "");
  progress(note);
  if (fits >= wanted) return { count: wanted, note: undefined };
  return { count: fits, note: `${what}: capped at ${fits} instead of ${wanted}: ${note}` };
}

/** Creates clusters up to `count` and waits until all are settled and the operator is quiet. */
async function growTo(bench: Bench, from: number, count: number, prefix: string) {
  progress(`creating clusters ${from}..${count - 1} (${settings.batch} at a time)`);
  await createClusters(bench.api, bench.namespace, {
    prefix,
    from,
    to: count,
    batch: settings.batch,
    replicas: 1,
    version: etcdVersion,
    timeoutSeconds: timeouts.batchReadySeconds,
    isAlive: bench.operator.alive,
    progress,
  });
  await settle(bench, count);
}

async function settle(bench: Bench, expected: number): Promise<void> {
  await waitSettled(bench.api, bench.namespace, {
    expected,
    quiet: true,
    timeoutSeconds: timeouts.quietSeconds,
    isAlive: bench.operator.alive,
  });
}

interface ScaleRow {
  readonly clusters: number;
  readonly window: Window;
  readonly reaction: ReactionResult | undefined;
  /** The operator's own timing of the same changes, by phase (bench/load/breakdown.ts). */
  readonly phases: ReactionHistograms | undefined;
}

/**
 * Scales half the sample up, waits until they have settled, then scales them down again: two
 * timed changes per cluster, and the namespace is as before for the next, larger N.
 */
async function reactionSample(
  bench: Bench,
  count: number,
): Promise<{ reaction: ReactionResult; phases: ReactionHistograms | undefined }> {
  const scrape = () => scrapeReaction(bench.operator.metricsUrl).catch(() => undefined);
  const before = await scrape();
  const names = spread(
    Array.from({ length: count }, (_, index) => `load-${index}`),
    Math.ceil(settings.changes / 2),
  );
  const results: ReactionResult[] = [];
  for (const replicas of [reactionReplicas.up, reactionReplicas.down]) {
    progress(`reaction: scaling ${names.length} clusters to ${replicas}, one at a time`);
    results.push(
      await measureReaction(bench.api, bench.namespace, {
        names,
        spec: { replicas },
        timeoutMs: timeouts.reactionMs,
        gapMs: 1_000,
      }),
    );
    await settle(bench, count);
  }
  const after = await scrape();
  const phases = before && after ? histogramDelta(before, after) : undefined;
  await keepMetrics(bench, `${count}-clusters`);
  return { reaction: combine(results), phases };
}

/** The operator's whole /metrics next to the log, for what the tables do not show. */
async function keepMetrics(bench: Bench, label: string): Promise<void> {
  try {
    const response = await fetch(bench.operator.metricsUrl, { signal: AbortSignal.timeout(5_000) });
    const path = bench.operator.logPath.replace(/\.log$/, `-${label}.metrics.txt`);
    await Deno.writeTextFile(path, await response.text());
  } catch (error) {
    progress(`could not keep the operator's metrics: ${error}`);
  }
}

async function idleWindow(bench: Bench, clusters: number): Promise<Window> {
  progress(`${clusters} clusters: measuring ${settings.idleSeconds} s idle`);
  return await measureWindow(bench.operator, {
    seconds: settings.idleSeconds,
    sampleSeconds: sampleSeconds.scale,
    ticksPerSecond: bench.ticksPerSecond,
  });
}

async function scaleRows(bench: Bench, counts: readonly number[]): Promise<ScaleRow[]> {
  await warmedUp(bench);
  const rows: ScaleRow[] = [{
    clusters: 0,
    window: await idleWindow(bench, 0),
    reaction: undefined,
    phases: undefined,
  }];
  let existing = 0;
  for (const count of counts) {
    await growTo(bench, existing, count, "load");
    existing = count;
    const window = await idleWindow(bench, count);
    const { reaction, phases } = await reactionSample(bench, count);
    rows.push({ clusters: count, window, reaction, phases });
  }
  return rows;
}

function scaleTable(rows: readonly ScaleRow[]): string {
  const baseline = median(rows[0].window.rssSamples);
  const body = rows.map(({ clusters, window, reaction, phases }) => {
    const rss = median(window.rssSamples);
    const perCluster = clusters ? (rss - baseline) / clusters : NaN;
    const latencies = reaction?.latenciesMs ?? [];
    return [
      String(clusters),
      cell(mib(rss)),
      cell(mib(growth(window.rssSamples))),
      cell(window.cpuPercent, 2),
      cell(window.requests?.total),
      cell(window.requests?.writes),
      verbSummary(window.requests),
      cell(mib(perCluster), 2),
      cell(clusters ? mib(baseline + 100 * perCluster) : NaN, 0),
      cell(percentile(latencies, 50), 0),
      cell(percentile(latencies, 99), 0),
      reaction
        ? `${latencies.length}${reaction.timedOut ? ` (+${reaction.timedOut} timed out)` : ""}`
        : "-",
      ...reactionPhases.map((phase) => phaseCell(phases, phase)),
    ];
  });
  return markdownTable([
    "clusters",
    "RSS median (MiB)",
    "RSS growth (MiB)",
    "CPU (% of a core)",
    "API req/min",
    "writes/min",
    "req/min by verb",
    "MiB per cluster",
    "projected RSS @100 (MiB)",
    "reaction p50 (ms)",
    "reaction p99 (ms)",
    "changes",
    ...reactionPhases.map((phase) => `operator: ${phase} p50/p99 (ms)`),
  ], body);
}

/** One phase's p50/p99 in ms, estimated from the histogram's buckets. */
function phaseCell(phases: ReactionHistograms | undefined, phase: string): string {
  const histogram = phases?.get(phase);
  if (!histogram || histogram.count === 0) return "-";
  const ms = (q: number) => cell(histogramQuantile(histogram, q) * 1000, 0);
  return `${ms(0.5)}/${ms(0.99)} (n=${histogram.count})`;
}

async function scaleScenario(run: Run): Promise<string> {
  return await withBench(run, "scale", async (bench) => {
    const largest = Math.max(...settings.clusterCounts);
    // The reaction probe adds a member to some clusters for a while: leave room for them.
    const probeMembers = Math.ceil(settings.changes / 2) *
      (reactionReplicas.up - reactionReplicas.down);
    const { count, note } = await capped(bench.api, largest, 1, "largest N", probeMembers);
    if (count < 1) throw new Error(note);
    const counts = [...new Set(settings.clusterCounts.map((n) => Math.min(n, count)))]
      .sort((a, b) => a - b);
    const rows = await scaleRows(bench, counts);
    return [
      `## scale: one-member clusters, ${settings.idleSeconds} s idle window each`,
      "",
      scaleTable(rows),
      "",
      ...(note ? [`Note: ${note}.`, ""] : []),
      `Reaction: spec.replicas ${reactionReplicas.down} → ${reactionReplicas.up} on up to ` +
      `${Math.ceil(settings.changes / 2)} clusters, then back once settled (a membership step ` +
      "each way: no mutable field avoids one, see the comment on reactionReplicas), timed from " +
      "sending the patch to the watch showing status.observedGeneration = metadata.generation. " +
      "The operator: columns come from its etcd_operator_cluster_reaction_seconds histogram " +
      "over the same changes, timed from the watch event that brought the new generation to " +
      "the pass starting, etcd observed, the acknowledging status write sent, and that write " +
      "answered (quantiles interpolated within buckets).",
    ].join("\n");
  });
}

/** Samples taken after `warmupSeconds`; growth is measured over these only. */
function afterWarmup(window: Window, warmupSeconds: number, everySeconds: number): number[] {
  return window.rssSamples.slice(Math.ceil(warmupSeconds / everySeconds));
}

async function soakScenario(run: Run): Promise<string> {
  return await withBench(run, "soak", async (bench) => {
    const { count, note } = await capped(bench.api, settings.soakClusters, 1, "soak clusters");
    await growTo(bench, 0, count, "soak");
    const seconds = settings.soakMinutes * 60;
    await warmedUp(bench);
    progress(`soak: ${count} clusters for ${settings.soakMinutes} min`);
    const window = await measureWindow(bench.operator, {
      seconds,
      sampleSeconds: sampleSeconds.soak,
      ticksPerSecond: bench.ticksPerSecond,
    });
    // Two minutes of warm-up (less for a short test run, so some samples remain).
    const warmupSeconds = Math.min(120, seconds / 4);
    const steady = afterWarmup(window, warmupSeconds, sampleSeconds.soak);
    const steadyHours = (steady.length - 1) * sampleSeconds.soak / 3600;
    const samples = window.rssSamples;
    const table = markdownTable([
      "clusters",
      "minutes",
      "RSS start (MiB)",
      "RSS end (MiB)",
      "RSS max (MiB)",
      "RSS growth (MiB)",
      "growth (MiB/h)",
      "CPU (% of a core)",
      "API req/min",
      "writes/min",
      "req/min by verb",
    ], [[
      String(count),
      cell(window.seconds / 60),
      cell(mib(samples[0])),
      cell(mib(samples[samples.length - 1])),
      cell(mib(Math.max(...samples))),
      cell(mib(growth(steady)), 2),
      cell(mib(growth(steady) / steadyHours), 2),
      cell(window.cpuPercent, 2),
      cell(window.requests?.total),
      cell(window.requests?.writes),
      verbSummary(window.requests),
    ]]);
    return [
      `## soak: ${count} one-member clusters for ${settings.soakMinutes} min`,
      "",
      table,
      "",
      ...(note ? [`Note: ${note}.`, ""] : []),
      `RSS sampled every ${sampleSeconds.soak} s; growth = median of the last 10 % of samples − ` +
      `median of the first 10 % after a ${warmupSeconds.toFixed(0)} s warm-up.`,
    ].join("\n");
  });
}

interface Pod {
  readonly metadata: { readonly name: string };
  readonly status?: {
    readonly containerStatuses?: readonly {
      readonly restartCount: number;
      readonly ready: boolean;
      readonly state?: { readonly waiting?: { readonly reason?: string } };
    }[];
  };
}

interface MemberState {
  readonly restarts: number;
  readonly crashLooping: boolean;
}

/** The victim's pod(s): restarts so far, and whether it is down (not ready or in back-off). */
async function memberState(bench: Bench, peerName: string): Promise<MemberState> {
  const selector = encodeURIComponent(`etcd.improbable.io/peer-name=${peerName}`);
  const pods = await bench.api.read<{ items: Pod[] }>(
    `${paths.pods(bench.namespace)}?labelSelector=${selector}`,
  );
  const statuses = pods.items.flatMap((pod) => pod.status?.containerStatuses ?? []);
  return {
    restarts: statuses.reduce((sum, status) => sum + status.restartCount, 0),
    crashLooping: statuses.some((status) =>
      !status.ready || status.state?.waiting?.reason === "CrashLoopBackOff"
    ),
  };
}

/** Pods of the bench's clusters, the victim's own included, come from one image set. */
const toolsImage = `etcd-operator.local/etcdctl:${versions.ETCD_VERSION}`;

/** The damage: bbolt's two meta pages (the first 8 KiB with 4 KiB pages) zeroed. */
const zeroMetaPages = [
  "set -e",
  "cd /data/member/snap",
  // A copy renamed over the file, so the running etcd keeps writing to the old one and its
  // shutdown cannot undo the damage; -p keeps the owner and mode etcd expects.
  "cp -p db db.damaged",
  "dd if=/dev/zero of=db.damaged bs=4096 count=2 conv=notrunc",
  "mv db.damaged db",
].join(" && ");

/**
 * The member's database is damaged on its volume, as a torn write or a failing disk leaves it,
 * and its pod restarted: etcd panics with "failed to open database: invalid database" at every
 * start, and the kubelet backs off between restarts (CrashLoopBackOff), as an administrator sees
 * it. The operator must leave this member alone: it replaces only members whose failure means
 * their data is gone or disowned (actors/cluster/diagnose.ts, fatalStarts). A database that does
 * not open points at the storage under it, which a replacement would reuse (a new volume of the
 * same class, often the same node) while wiping the evidence; etcd itself leaves damaged data to
 * an administrator (its CORRUPT alarm stops writes and repairs nothing). So the operator reports
 * the member as not serving, with the entry etcd died on, and keeps observing it. (A lost volume,
 * this scenario's fault before, is now replaced by the operator, so it no longer loops.)
 */
async function damageDatabase(bench: Bench, peerName: string): Promise<void> {
  progress(`crashloop: zeroing the meta pages of ${peerName}'s database, then restarting it`);
  const helper = `${peerName}-damage`;
  await bench.api.create(paths.pods(bench.namespace), {
    metadata: { name: helper },
    spec: {
      restartPolicy: "Never",
      containers: [{
        name: "damage",
        image: toolsImage,
        imagePullPolicy: "IfNotPresent",
        command: ["/bin/sh", "-c", zeroMetaPages],
        volumeMounts: [{ name: "data", mountPath: "/data" }],
      }],
      // The member's volume is ReadWriteOnce: the scheduler puts this pod on the member's node.
      volumes: [{ name: "data", persistentVolumeClaim: { claimName: peerName } }],
    },
  });
  const helperPath = `${paths.pods(bench.namespace)}/${helper}`;
  const deadline = Date.now() + timeouts.quietSeconds * 1000;
  for (;;) {
    const pod = await bench.api.read<{ status?: { phase?: string } }>(helperPath);
    if (pod.status?.phase === "Succeeded") break;
    if (pod.status?.phase === "Failed") throw new Error(`${helper} failed: see its log`);
    if (Date.now() > deadline) throw new Error(`${helper} did not finish`);
    await sleep(2_000);
  }
  await bench.api.delete(helperPath);
  const selector = encodeURIComponent(`etcd.improbable.io/peer-name=${peerName}`);
  const pods = await bench.api.read<{ items: Pod[] }>(
    `${paths.pods(bench.namespace)}?labelSelector=${selector}`,
  );
  for (const pod of pods.items) {
    await bench.api.delete(`${paths.pods(bench.namespace)}/${pod.metadata.name}`);
  }
}

async function waitCrashLooping(bench: Bench, peerName: string): Promise<void> {
  const deadline = Date.now() + timeouts.quietSeconds * 1000;
  while (Date.now() < deadline) {
    const state = await memberState(bench, peerName);
    if (state.restarts > 0 && state.crashLooping) return;
    await sleep(3_000);
  }
  throw new Error(`${peerName} did not start crash-looping within ${timeouts.quietSeconds} s`);
}

async function crashloopScenario(run: Run): Promise<string> {
  return await withBench(run, "crashloop", async (bench) => {
    const replicas = settings.crashloopReplicas;
    const { count, note } = await capped(bench.api, 1, replicas, "crashloop cluster");
    if (count < 1) throw new Error(note);
    await createClusters(bench.api, bench.namespace, {
      prefix: "crashloop",
      from: 0,
      to: 1,
      batch: 1,
      replicas,
      version: etcdVersion,
      timeoutSeconds: timeouts.batchReadySeconds,
      isAlive: bench.operator.alive,
      progress,
    });
    await settle(bench, 1);
    const victim = `crashloop-0-${replicas - 1}`;
    if (!settings.crashloopControl) {
      await damageDatabase(bench, victim);
      await waitCrashLooping(bench, victim);
    }
    // After the start-up garbage is gone, RSS still climbs by ~20 MiB for three to four minutes
    // while the heap stays flat (native memory first touched), then stays within 1 MiB, with or
    // without a crash-looping member (BENCH_CRASHLOOP_CONTROL=1 shows it): measured from 60 s,
    // that one-time climb read as the crash loop's growth.
    await warmedUp(bench, Math.max(settings.warmupSeconds, settings.crashloopSettleSeconds));
    const before = await memberState(bench, victim);
    const fault = settings.crashloopControl
      ? "every member healthy (control)"
      : `${victim} crash-looping on a damaged database`;
    progress(`crashloop: ${fault}; measuring ${settings.crashloopMinutes} min`);
    const window = await measureWindow(bench.operator, {
      seconds: settings.crashloopMinutes * 60,
      sampleSeconds: sampleSeconds.crashloop,
      ticksPerSecond: bench.ticksPerSecond,
    });
    const after = await memberState(bench, victim);
    const samplesPath = join(resultsDir, `operator_load-${run.stamp}-crashloop-samples.csv`);
    await writeSamples(samplesPath, window, sampleSeconds.crashloop);
    const samples = window.rssSamples;
    const heapUsed = window.heapSamples?.map((heap) => heap.used) ?? [];
    const table = markdownTable([
      "members",
      "minutes",
      "member restarts",
      "still crash-looping",
      "RSS start (MiB)",
      "RSS end (MiB)",
      "RSS max (MiB)",
      "RSS growth (MiB)",
      "heap used start (MiB)",
      "heap used end (MiB)",
      "heap used growth (MiB)",
      "CPU (% of a core)",
      "API req/min",
      "writes/min",
      "req/min by verb",
    ], [[
      String(replicas),
      cell(window.seconds / 60),
      String(after.restarts - before.restarts),
      settings.crashloopControl ? "-" : after.crashLooping ? "yes" : "no (repaired?)",
      cell(mib(samples[0])),
      cell(mib(samples[samples.length - 1])),
      cell(mib(Math.max(...samples))),
      cell(mib(growth(samples)), 2),
      cell(mib(heapUsed[0])),
      cell(mib(heapUsed[heapUsed.length - 1])),
      cell(mib(growth(heapUsed)), 2),
      cell(window.cpuPercent, 2),
      cell(window.requests?.total),
      cell(window.requests?.writes),
      verbSummary(window.requests),
    ]]);
    return [
      `## crashloop: one ${replicas}-member cluster, ${fault}`,
      "",
      table,
      "",
      `RSS (VmRSS) and heap used (the operator's deno_heap_used_bytes) sampled every ` +
      `${sampleSeconds.crashloop} s once the member has restarted and the operator has run ` +
      `${
        Math.max(settings.warmupSeconds, settings.crashloopSettleSeconds)
      } s; growth = median of the last 10 % of samples − median of the ` +
      `first 10 %. Every sample: ${samplesPath.slice(repoDir.length + 1)}.`,
    ].join("\n");
  });
}

/** One line per sample, in bytes, for looking at the shape of a growth, not just its size. */
async function writeSamples(path: string, window: Window, everySeconds: number): Promise<void> {
  const lines = window.rssSamples.map((rss, index) => {
    const heap = window.heapSamples?.[index];
    return [index * everySeconds, rss, heap?.used ?? "", heap?.total ?? "", heap?.external ?? ""]
      .join(",");
  });
  const header = "seconds,rss_bytes,heap_used_bytes,heap_total_bytes,external_bytes";
  await Deno.writeTextFile(path, [header, ...lines, ""].join("\n"));
}

async function gitDescription(): Promise<string> {
  const git = (args: string[]) =>
    new Deno.Command("git", { args, cwd: repoDir, stdout: "piped", stderr: "null" }).output()
      .then((output) => new TextDecoder().decode(output.stdout).trim());
  const head = await git(["rev-parse", "--short", "HEAD"]);
  const dirty = await git(["status", "--porcelain", "--untracked-files=no"]);
  return `${head}${dirty ? " + uncommitted changes" : ""}`;
}

async function main(): Promise<void> {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => {
      console.error(`${signal}: stopping the operator and deleting the bench namespace`);
      cleanup.run().finally(() => Deno.exit(130));
    });
  }
  const info = await localCluster();
  using api = await Api.open(info.adminKubeconfig);
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const run: Run = { info, api, stamp, ticksPerSecond: await clockTicksPerSecond() };
  await Deno.mkdir(resultsDir, { recursive: true });
  const resultsPath = join(resultsDir, `operator_load-${stamp}.md`);
  const header = [
    `# operator load, ${new Date().toISOString()}`,
    "",
    `Commit ${await gitDescription()}; settings ${JSON.stringify(settings)}.`,
    "RSS is VmRSS of the operator process; CPU is utime+stime over wall time; API requests " +
    "come from the operator's etcd_operator_kube_requests_total (n/a when it does not export it).",
  ].join("\n");
  console.log(`${header}\n`);
  await Deno.writeTextFile(resultsPath, `${header}\n`);
  const scenarios = { scale: scaleScenario, soak: soakScenario, crashloop: crashloopScenario };
  for (const scenario of settings.scenarios) {
    const section = await scenarios[scenario](run);
    console.log(`${section}\n`);
    await Deno.writeTextFile(resultsPath, `\n${section}\n`, { append: true });
  }
  progress(`results written to ${resultsPath}`);
}

if (import.meta.main) {
  try {
    await main();
  } finally {
    await cleanup.run();
  }
}
