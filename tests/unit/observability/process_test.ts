// The process metrics: memory, CPU time, open files and start time, read when scraped.
import assert from "node:assert/strict";
import { Registry } from "../../../observability/metrics.ts";
import { registerProcessMetrics } from "../../../observability/process.ts";

function samples(text: string): Map<string, number> {
  return new Map(
    text.split("\n")
      .filter((line) => line && !line.startsWith("#"))
      .map((line) => {
        const [name, value] = line.split(" ");
        return [name, Number(value)];
      }),
  );
}

Deno.test("process metrics report memory, CPU time and start time from the running process", () => {
  const registry = new Registry();
  registerProcessMetrics(registry);
  const values = samples(registry.render());
  for (
    const name of [
      "process_resident_memory_bytes",
      "deno_heap_used_bytes",
      "deno_heap_total_bytes",
      "deno_external_memory_bytes",
    ]
  ) {
    assert.ok((values.get(name) ?? 0) > 0, `${name} is positive`);
  }
  assert.ok((values.get("process_cpu_seconds_total") ?? 0) > 0);
  for (const space of ["new_space", "old_space"]) {
    assert.ok((values.get(`deno_heap_space_size_bytes{space="${space}"}`) ?? 0) > 0, space);
  }
  const startedSecondsAgo = Date.now() / 1000 - (values.get("process_start_time_seconds") ?? 0);
  assert.ok(
    startedSecondsAgo >= 0 && startedSecondsAgo < 3600,
    `started ${startedSecondsAgo} s ago`,
  );
});

Deno.test("open file descriptors are counted where /proc can be read", () => {
  if (Deno.build.os !== "linux") return; // no /proc: the two metrics are left out
  const registry = new Registry();
  registerProcessMetrics(registry);
  const values = samples(registry.render());
  assert.ok((values.get("process_open_fds") ?? 0) > 0);
  assert.ok((values.get("process_max_fds") ?? 0) >= (values.get("process_open_fds") ?? 0));
});
