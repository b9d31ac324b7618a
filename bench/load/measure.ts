// One measurement window over the running operator: RSS and heap samples, CPU time and API
// requests.
import {
  type HeapSample,
  readCpuTicks,
  readRssBytes,
  type RequestCounts,
  type RunningOperator,
  scrapeHeap,
  scrapeRequests,
} from "./process.ts";

export interface RequestRates {
  readonly total: number;
  readonly writes: number;
  readonly byVerb: ReadonlyMap<string, number>;
}

export interface Window {
  readonly seconds: number;
  /** VmRSS in bytes, oldest first, one per sampling interval. */
  readonly rssSamples: readonly number[];
  /**
   * The operator's heap, taken with each RSS sample: RSS that grows while the heap stays flat is
   * native memory (or V8 settling), not JavaScript objects kept alive. Undefined when the operator
   * does not export it.
   */
  readonly heapSamples: readonly HeapSample[] | undefined;
  /** CPU time over wall time, in percent of one core. */
  readonly cpuPercent: number;
  /** Per minute; undefined when the operator exports no request counter. */
  readonly requests: RequestRates | undefined;
}

/** Verbs that change the cluster (a merge patch or server-side apply is a write too). */
export const isWrite = (verb: string) => /create|update|patch|delete|apply/i.test(verb);

function ratesPerMinute(
  before: RequestCounts | undefined,
  after: RequestCounts | undefined,
  seconds: number,
): RequestRates | undefined {
  if (!before || !after) return undefined;
  const byVerb = new Map<string, number>();
  for (const [verb, count] of after) {
    byVerb.set(verb, ((count - (before.get(verb) ?? 0)) * 60) / seconds);
  }
  const sum = (verbs: Iterable<[string, number]>) => [...verbs].reduce((a, [, n]) => a + n, 0);
  return {
    total: sum(byVerb),
    writes: sum([...byVerb].filter(([verb]) => isWrite(verb))),
    byVerb,
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Sleeps `seconds`, sampling RSS and the heap every `sampleSeconds`; the caller does nothing else
 * meanwhile.
 */
export async function measureWindow(
  operator: RunningOperator,
  options: { seconds: number; sampleSeconds: number; ticksPerSecond: number },
): Promise<Window> {
  const requestsBefore = await scrapeRequests(operator.metricsUrl);
  const ticksBefore = readCpuTicks(operator.pid);
  const started = performance.now();
  const rssSamples = [readRssBytes(operator.pid)];
  const firstHeap = await scrapeHeap(operator.metricsUrl);
  const heapSamples = firstHeap ? [firstHeap] : undefined;
  const end = started + options.seconds * 1000;
  while (performance.now() < end) {
    // Sample on a fixed grid so a slow read does not stretch the interval.
    const next = started + rssSamples.length * options.sampleSeconds * 1000;
    await sleep(Math.max(0, Math.min(next, end) - performance.now()));
    if (!operator.alive()) throw new Error(`the operator exited; see ${operator.logPath}`);
    rssSamples.push(readRssBytes(operator.pid));
    if (heapSamples) {
      const heap = await scrapeHeap(operator.metricsUrl);
      if (!heap) throw new Error(`${operator.metricsUrl} stopped exporting the heap`);
      heapSamples.push(heap);
    }
  }
  const ticksAfter = readCpuTicks(operator.pid);
  const requestsAfter = await scrapeRequests(operator.metricsUrl);
  const seconds = (performance.now() - started) / 1000;
  return {
    seconds,
    rssSamples,
    heapSamples,
    cpuPercent: ((ticksAfter - ticksBefore) / options.ticksPerSecond / seconds) * 100,
    requests: ratesPerMinute(requestsBefore, requestsAfter, seconds),
  };
}

/** "get 4.0 · patch 0.5": the verbs that were used, busiest first. */
export function verbSummary(requests: RequestRates | undefined): string {
  if (!requests) return "n/a";
  const used = [...requests.byVerb].filter(([, rate]) => rate > 0).sort((a, b) => b[1] - a[1]);
  return used.length ? used.map(([verb, rate]) => `${verb} ${rate.toFixed(1)}`).join(" · ") : "-";
}
