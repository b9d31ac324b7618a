// The operator under load, run from the working tree as a subprocess and measured from outside.
import { terminate } from "../../tests/e2e/support/child.ts";
import { fileURLToPath } from "node:url";
import { operatorV8Flags } from "../../tests/env/images/operator.ts";

const modTs = fileURLToPath(new URL("../../mod.ts", import.meta.url));

export interface RunningOperator {
  readonly pid: number;
  readonly metricsUrl: string;
  readonly logPath: string;
  /** False once the process has exited (a crash mid-measurement must not go unnoticed). */
  alive(): boolean;
  /** SIGTERM, then SIGKILL after 15 s; resolves once it has exited and its log is flushed. */
  stop(): Promise<void>;
}

/** A port nobody listens on right now, for --metrics-addr. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Copies the child's stdout and stderr into one file, so a long run keeps nothing in memory. */
async function copyOutput(child: Deno.ChildProcess, logPath: string): Promise<void> {
  const file = await Deno.open(logPath, { create: true, append: true });
  const writer = file.writable.getWriter();
  const copy = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) await writer.write(chunk);
  };
  try {
    await Promise.all([copy(child.stdout), copy(child.stderr)]);
  } finally {
    await writer.close();
  }
}

/**
 * BENCH_OPERATOR_INSPECT=<port>: the operator listens for a debugger there (heap snapshots of a
 * growth while the bench runs; the e2e helper has E2E_OPERATOR_INSPECT for the same).
 */
function inspectFlag(): string[] {
  const port = Number(Deno.env.get("BENCH_OPERATOR_INSPECT") ?? "");
  return port > 0 ? [`--inspect=127.0.0.1:${port}`] : [];
}

/** `mod.ts run` as the operator's ServiceAccount, like the e2e helper, watching one namespace. */
export function startOperator(options: {
  namespace: string;
  kubeconfig: string;
  logPath: string;
  /** `--member-access`; auto decides at start-up, in a namespace with no pod to probe yet. */
  memberAccess: string;
}): RunningOperator {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-sys",
      // Measured as it ships: the image's V8 flags.
      operatorV8Flags,
      ...inspectFlag(),
      modTs,
      "run",
      "--namespace",
      options.namespace,
      "--metrics-addr",
      `127.0.0.1:${port}`,
      "--member-access",
      options.memberAccess,
    ],
    env: { KUBECONFIG: options.kubeconfig },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const copied = copyOutput(child, options.logPath);
  let exited = false;
  child.status.then(() => exited = true);
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      await terminate(child);
      await copied;
    })();
    return stopped;
  };
  return {
    pid: child.pid,
    metricsUrl: `http://127.0.0.1:${port}/metrics`,
    logPath: options.logPath,
    alive: () => !exited,
    stop,
  };
}

/** Waits for /readyz: the operator has listed every watch and started its actors. */
export async function waitReady(operator: RunningOperator, timeoutSeconds: number): Promise<void> {
  const url = operator.metricsUrl.replace(/\/metrics$/, "/readyz");
  const deadline = Date.now() + timeoutSeconds * 1000;
  while (Date.now() < deadline) {
    if (!operator.alive()) throw new Error(`the operator exited; see ${operator.logPath}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await response.body?.cancel();
      if (response.ok) return;
    } catch { /* not listening yet */ }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`the operator was not ready after ${timeoutSeconds} s; see ${operator.logPath}`);
}

/** Resident memory in bytes (VmRSS of /proc/<pid>/status). */
export function readRssBytes(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!match) throw new Error(`/proc/${pid}/status has no VmRSS (the process exited?)`);
  return Number(match[1]) * 1024;
}

/** utime + stime of every thread of the process, in clock ticks. */
export function readCpuTicks(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // The command name (field 2) may contain spaces and parentheses: count fields after its ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields 14 and 15 of proc(5), counted from field 3 ("state") here.
  return Number(fields[11]) + Number(fields[12]);
}

/** Clock ticks per second, for turning ticks into seconds. */
export async function clockTicksPerSecond(): Promise<number> {
  const output = await new Deno.Command("getconf", { args: ["CLK_TCK"], stdout: "piped" }).output();
  const ticks = Number(new TextDecoder().decode(output.stdout).trim());
  if (!output.success || !(ticks > 0)) throw new Error("getconf CLK_TCK failed");
  return ticks;
}

/** The operator's V8 heap as its /metrics exports it (observability/process.ts), in bytes. */
export interface HeapSample {
  readonly used: number;
  readonly total: number;
  /** Held outside the heap by JavaScript objects (ArrayBuffers). */
  readonly external: number;
}

/** The value of an unlabelled series in a Prometheus text exposition. */
export function gaugeValue(exposition: string, name: string): number | undefined {
  const match = new RegExp(`^${name}\\s+(\\S+)`, "m").exec(exposition);
  return match ? Number(match[1]) : undefined;
}

/** Undefined when the operator does not export its heap, so the report says "n/a". */
export async function scrapeHeap(metricsUrl: string): Promise<HeapSample | undefined> {
  const response = await fetch(metricsUrl, { signal: AbortSignal.timeout(5_000) });
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`${metricsUrl}: ${response.status}`);
  }
  const text = await response.text();
  const used = gaugeValue(text, "deno_heap_used_bytes");
  const total = gaugeValue(text, "deno_heap_total_bytes");
  const external = gaugeValue(text, "deno_external_memory_bytes");
  if (used === undefined || total === undefined || external === undefined) return undefined;
  return { used, total, external };
}

/** API requests by verb, summed over resources and codes. */
export type RequestCounts = ReadonlyMap<string, number>;

export const requestsMetric = "etcd_operator_kube_requests_total";

/**
 * The operator's own count of API requests (`etcd_operator_kube_requests_total{verb,resource,
 * code}`); undefined when the operator does not export it, so the report says "n/a", not 0.
 */
export async function scrapeRequests(metricsUrl: string): Promise<RequestCounts | undefined> {
  const response = await fetch(metricsUrl, { signal: AbortSignal.timeout(5_000) });
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`${metricsUrl}: ${response.status}`);
  }
  const text = await response.text();
  const counts = new Map<string, number>();
  const series = new RegExp(`^${requestsMetric}\\{([^}]*)\\}\\s+(\\S+)`, "gm");
  for (const [, labels, value] of text.matchAll(series)) {
    const verb = /(?:^|,)verb="([^"]*)"/.exec(labels)?.[1] ?? "unknown";
    counts.set(verb, (counts.get(verb) ?? 0) + Number(value));
  }
  return counts.size > 0 || text.includes(`# TYPE ${requestsMetric}`) ? counts : undefined;
}
