// The process's own metrics — memory, CPU time, open files, start time — read at every scrape.
import process from "node:process";
import v8 from "node:v8";
import type { Registry } from "./metrics.ts";

/** Counts open file descriptors from /proc; undefined where there is no /proc or no read access. */
function openFds(): number | undefined {
  try {
    let count = 0;
    for (const _entry of Deno.readDirSync("/proc/self/fd")) count++;
    return count;
  } catch {
    return undefined;
  }
}

/** The soft limit on open files, from /proc/self/limits ("unlimited" is left out). */
function maxFds(): number | undefined {
  try {
    const line = Deno.readTextFileSync("/proc/self/limits").split("\n")
      .find((entry) => entry.startsWith("Max open files"));
    const soft = Number(line?.split(/\s+/)[3]);
    return Number.isFinite(soft) ? soft : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Registers the standard `process_*` metrics and the V8 heap as `deno_*`. Slow leaks show here
 * first, over days: resident memory and open files that only grow. The descriptor metrics are
 * left out where /proc cannot be read, rather than exported empty.
 */
export function registerProcessMetrics(registry: Registry): void {
  registry.scrapedGauge(
    "process_resident_memory_bytes",
    "Resident memory size in bytes.",
    () => Deno.memoryUsage().rss,
  );
  registry.scrapedGauge(
    "deno_heap_used_bytes",
    "V8 heap in use, in bytes.",
    () => Deno.memoryUsage().heapUsed,
  );
  registry.scrapedGauge(
    "deno_heap_total_bytes",
    "V8 heap allocated, in bytes.",
    () => Deno.memoryUsage().heapTotal,
  );
  registry.scrapedGauge(
    "deno_external_memory_bytes",
    "Memory held outside the V8 heap by JavaScript objects (buffers), in bytes.",
    () => Deno.memoryUsage().external,
  );
  // Where the heap's size is: the young generation grows with the allocation rate and keeps its
  // size, which reads as resident memory that climbs for minutes after start and then stays.
  registry.scrapedGauge(
    "deno_heap_space_size_bytes",
    "V8 heap space allocated, in bytes, by space.",
    () =>
      v8.getHeapSpaceStatistics()
        .filter((space) => space.space_size > 0)
        .map((space) => ({ labels: { space: space.space_name }, value: space.space_size })),
  );
  registry.scrapedCounter(
    "process_cpu_seconds_total",
    "User and system CPU time spent, in seconds.",
    () => {
      const { user, system } = process.cpuUsage();
      return (user + system) / 1e6;
    },
  );
  if (openFds() !== undefined) {
    registry.scrapedGauge("process_open_fds", "Open file descriptors.", openFds);
  }
  if (maxFds() !== undefined) {
    registry.scrapedGauge("process_max_fds", "Limit on open file descriptors.", maxFds);
  }
  // performance.timeOrigin is when this process started, in milliseconds since the epoch.
  const startTimeSeconds = performance.timeOrigin / 1000;
  registry.scrapedGauge(
    "process_start_time_seconds",
    "Start time of the process since the Unix epoch, in seconds.",
    () => startTimeSeconds,
  );
}
