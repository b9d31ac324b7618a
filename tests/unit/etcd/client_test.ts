import assert from "node:assert/strict";
import { useBoundMs, withClient, withMemberClient } from "../../../etcd/client.ts";
import { attempt } from "../../../etcd/errors.ts";

// Nothing listens on port 1 and nothing is called: only the bound and the cleanup are exercised.
const nowhere = "http://127.0.0.1:1";

Deno.test("a use that never settles ends as unreachable after the bound, not never", async () => {
  const started = performance.now();
  const result = await attempt(() =>
    withClient([nowhere], () => new Promise<never>(() => {}), { callTimeoutMs: 50 })
  );
  const elapsed = performance.now() - started;
  assert.equal(result.ok, false);
  assert.equal(!result.ok && result.error.kind, "unreachable");
  assert.match(!result.ok ? result.error.message : "", /within 1200 ms/);
  assert.ok(elapsed >= useBoundMs(50) - 5, `gave up after ${elapsed} ms`);
});

Deno.test("a use that settles in time returns its value and leaves no timer behind", async () => {
  const value = await withMemberClient(nowhere, (client) => Promise.resolve(client.endpoint));
  assert.equal(value, nowhere);
});

Deno.test("the bound covers a few sequential calls, each at the call deadline", () => {
  assert.equal(useBoundMs(5_000), 21_000);
  assert.ok(useBoundMs(3_000) > 3 * 3_000);
});
