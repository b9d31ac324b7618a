import assert from "node:assert/strict";
import type { K8sError } from "../../../k8s/errors.ts";
import type { KubeObject } from "../../../k8s/objects.ts";
import {
  nextAfterListFailure,
  nextAfterWatch,
  resourceVersionAfter,
  type WatchOutcome,
} from "../../../k8s/watch_plan.ts";

const policy = { initialMs: 1000, maxMs: 8000, factor: 2, jitter: 0.5 };
const noJitter = () => 0;
const gone: K8sError = { kind: "gone", message: "too old resource version", status: 410 };
const network: K8sError = { kind: "transient", message: "connection reset" };
const forbidden: K8sError = { kind: "forbidden", message: "cannot watch", status: 403 };

function next(outcome: WatchOutcome, failures = 0) {
  return nextAfterWatch(outcome, failures, policy, noJitter);
}

Deno.test("a watch the server ended on schedule is resumed at once from where it was", () => {
  assert.deepEqual(next({ kind: "ended", events: 0, durationMs: 290_000 }, 3), {
    action: "watch",
    delayMs: 0,
    failures: 0,
  });
});

Deno.test("a watch that ends instantly with nothing in it backs off instead of spinning", () => {
  assert.deepEqual(next({ kind: "ended", events: 0, durationMs: 5 }, 0), {
    action: "watch",
    delayMs: 1000,
    failures: 1,
  });
  assert.deepEqual(next({ kind: "ended", events: 0, durationMs: 5 }, 2), {
    action: "watch",
    delayMs: 4000,
    failures: 3,
  });
});

Deno.test("410 Gone, as a response or an ERROR event, relists at once", () => {
  assert.deepEqual(next({ kind: "failed", error: gone }), {
    action: "list",
    delayMs: 0,
    failures: 0,
  });
  assert.deepEqual(next({ kind: "errorEvent", error: gone }), {
    action: "list",
    delayMs: 0,
    failures: 0,
  });
});

Deno.test("any other ERROR event relists, with backoff", () => {
  const error: K8sError = { kind: "transient", message: "internal error", status: 500 };
  assert.deepEqual(next({ kind: "errorEvent", error }, 1), {
    action: "list",
    delayMs: 2000,
    failures: 2,
  });
});

Deno.test("a network failure reconnects from the same resourceVersion with growing backoff", () => {
  const delays = [0, 1, 2, 3, 4].map((failures) =>
    next({ kind: "failed", error: network }, failures)
  );
  assert.deepEqual(delays.map((step) => step.action), [
    "watch",
    "watch",
    "watch",
    "watch",
    "watch",
  ]);
  assert.deepEqual(delays.map((step) => step.delayMs), [1000, 2000, 4000, 8000, 8000]);
});

Deno.test("a refusal (403, or 404 while a CRD is missing) goes back to listing, with backoff", () => {
  assert.deepEqual(next({ kind: "failed", error: forbidden }), {
    action: "list",
    delayMs: 1000,
    failures: 1,
  });
});

Deno.test("a stalled watch reconnects at once the first time and backs off when it repeats", () => {
  assert.deepEqual(next({ kind: "interrupted", reason: "stall" }, 0), {
    action: "watch",
    delayMs: 0,
    failures: 1,
  });
  assert.deepEqual(next({ kind: "interrupted", reason: "stall" }, 1), {
    action: "watch",
    delayMs: 2000,
    failures: 2,
  });
});

Deno.test("interruptions we asked for do what was asked", () => {
  assert.equal(next({ kind: "interrupted", reason: "resync" }).action, "list");
  assert.equal(next({ kind: "interrupted", reason: "requested" }).action, "watch");
  assert.equal(next({ kind: "interrupted", reason: "stop" }).action, "stop");
});

Deno.test("a failed list is retried with backoff", () => {
  assert.deepEqual(nextAfterListFailure(0, policy, noJitter), {
    action: "list",
    delayMs: 1000,
    failures: 1,
  });
  assert.deepEqual(nextAfterListFailure(5, policy, noJitter), {
    action: "list",
    delayMs: 8000,
    failures: 6,
  });
});

Deno.test("bookmarks and object events move the resourceVersion on; ERROR leaves it", () => {
  const at = (resourceVersion: string): KubeObject => ({ metadata: { resourceVersion } });
  assert.equal(resourceVersionAfter("10", { type: "BOOKMARK", object: at("15") }), "15");
  assert.equal(resourceVersionAfter("15", { type: "MODIFIED", object: at("16") }), "16");
  assert.equal(resourceVersionAfter("16", { type: "DELETED", object: at("17") }), "17");
  assert.equal(
    resourceVersionAfter("17", { type: "ERROR", object: { kind: "Status", code: 410 } }),
    "17",
  );
  assert.equal(resourceVersionAfter("17", { type: "ADDED", object: { metadata: {} } }), "17");
});
