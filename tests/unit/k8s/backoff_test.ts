import assert from "node:assert/strict";
import {
  backoffDelayMs,
  defaultBackoff,
  jitteredPeriodMs,
  jitteredSeconds,
} from "../../../k8s/backoff.ts";

const policy = { initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0.5 };

Deno.test("backoff doubles from the initial delay up to the ceiling", () => {
  const schedule = [1, 2, 3, 4, 5, 6, 7, 8, 20].map((failures) =>
    backoffDelayMs(policy, failures, () => 0)
  );
  assert.deepEqual(schedule, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
});

Deno.test("jitter only shortens a delay, by at most the jitter fraction", () => {
  assert.equal(backoffDelayMs(policy, 3, () => 0.999999), 1000);
  assert.equal(backoffDelayMs(policy, 3, () => 0.5), 1500);
  for (let failures = 1; failures < 12; failures++) {
    const delay = backoffDelayMs(policy, failures, Math.random);
    assert.ok(delay <= policy.maxMs && delay >= 250, `${failures}: ${delay}`);
  }
});

Deno.test("no failure means no delay", () => {
  assert.equal(backoffDelayMs(defaultBackoff, 0, () => 0.5), 0);
});

Deno.test("watch timeouts spread over the whole range, both ends included", () => {
  assert.equal(jitteredSeconds(240, 300, () => 0), 240);
  assert.equal(jitteredSeconds(240, 300, () => 0.999999), 300);
  assert.equal(jitteredSeconds(240, 300, () => 0.5), 270);
});

Deno.test("resync periods are shortened by up to the jitter share", () => {
  assert.equal(jitteredPeriodMs(600_000, 0.2, () => 0), 600_000);
  assert.equal(jitteredPeriodMs(600_000, 0.2, () => 1), 480_000);
});
