// The one status writer: a patch only when the status means something else, whatever the key order.
import assert from "node:assert/strict";
import type { KubeClient } from "../../../k8s/client.ts";
import { failure, success } from "../../../k8s/errors.ts";
import { resources } from "../../../k8s/resources.ts";
import { writeStatusIfChanged } from "../../../actors/status_writer.ts";

const silentLog = { warn: () => {} };

const condition = {
  type: "Completed",
  status: "True",
  reason: "Succeeded",
  message: "done",
  lastTransitionTime: "2026-01-01T00:00:00Z",
  observedGeneration: 1,
};

function recordingKube(outcome: "ok" | "fail" = "ok") {
  const patches: unknown[] = [];
  const kube: Pick<KubeClient, "mergePatch"> = {
    mergePatch: (_resource, _target, body, options) => {
      assert.equal(options?.subresource, "status");
      patches.push((body as { status: unknown }).status);
      return Promise.resolve(
        outcome === "ok"
          ? success({ metadata: { name: "b", resourceVersion: "42" } })
          : failure({ kind: "conflict", message: "conflict", status: 409 }),
      );
    },
  } as Pick<KubeClient, "mergePatch">;
  return { kube, patches };
}

const write = (
  kube: Pick<KubeClient, "mergePatch">,
  previous: object,
  next: object,
  fields?: readonly string[],
) =>
  writeStatusIfChanged(kube, {
    resource: resources.etcdBackups,
    object: { metadata: { namespace: "ns", name: "b" } },
    previous,
    next,
    fields,
  }, silentLog);

Deno.test("status writer: the same values read back in another key order are not written", async () => {
  const { kube, patches } = recordingKube();
  const previous = JSON.parse(JSON.stringify({
    conditions: [Object.fromEntries(Object.entries(condition).reverse())],
    objectURL: "s3://b/x.db",
    phase: "Completed",
  }));
  const outcome = await write(kube, previous, {
    phase: "Completed",
    objectURL: "s3://b/x.db",
    conditions: [condition],
  });
  assert.equal(outcome.kind, "unchanged");
  assert.deepEqual(patches, []);
});

Deno.test("status writer: a changed value is patched alone, and the result is what the server holds", async () => {
  const { kube, patches } = recordingKube();
  const previous = { phase: "BackingUp", objectURL: "s3://b/x.db", startTime: "t0" };
  const outcome = await write(kube, previous, { phase: "Completed", objectURL: "s3://b/x.db" });
  assert.deepEqual(patches, [{ phase: "Completed" }]);
  assert.equal(outcome.kind, "written");
  assert.equal(outcome.kind === "written" && outcome.resourceVersion, "42");
  assert.deepEqual(outcome.status, {
    phase: "Completed",
    objectURL: "s3://b/x.db",
    startTime: "t0",
  });
});

Deno.test("status writer: an owned field no longer set is removed with null; others are left alone", async () => {
  const { kube, patches } = recordingKube();
  const previous = { leader: "c-0", replicas: 3, notOurs: "x" };
  const outcome = await write(kube, previous, { replicas: 3 }, ["leader", "replicas"]);
  assert.deepEqual(patches, [{ leader: null }]);
  assert.deepEqual(outcome.status, { replicas: 3, notOurs: "x" });
});

Deno.test("status writer: a failed patch leaves the status as it was known", async () => {
  const { kube } = recordingKube("fail");
  const previous = { phase: "BackingUp" };
  const outcome = await write(kube, previous, { phase: "Failed" });
  assert.equal(outcome.kind, "failed");
  assert.deepEqual(outcome.status, previous);
});
