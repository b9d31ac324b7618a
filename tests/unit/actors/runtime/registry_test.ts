// The registry: one actor per key under a supervisor, routing, stop-and-remove, self-healing.
import assert from "node:assert/strict";
import { Registry } from "../../../../actors/runtime/registry.ts";
import type { Supervisor } from "../../../../actors/runtime/supervisor.ts";
import { settle } from "../../../../actors/runtime/testing.ts";
import { policy, tree } from "./harness.ts";

type Notice = { readonly kind: "changed" } | { readonly kind: "deleted" };

function clusterRegistry(supervisor: Supervisor) {
  const handled: string[] = [];
  const inits: string[] = [];
  const registry = new Registry<Notice>(supervisor, (key) => ({
    kind: "EtcdCluster",
    init: (context) => {
      inits.push(key);
      return { handle: (notice) => void handled.push(`${context.name} ${notice.kind}`) };
    },
  }));
  return { registry, handled, inits };
}

Deno.test("get-or-spawn returns the same actor for the same key", async () => {
  const { root } = tree();
  const { registry, inits } = clusterRegistry(root);
  const first = registry.getOrSpawn("EtcdCluster/ns/a");
  const second = registry.getOrSpawn("EtcdCluster/ns/a");
  assert.equal(first, second);
  await settle();
  assert.deepEqual(inits, ["EtcdCluster/ns/a"]);
  await root.stop();
});

Deno.test("each key gets its own actor, named by the key and of the template's kind", async () => {
  const { root } = tree();
  const { registry } = clusterRegistry(root);
  const a = registry.getOrSpawn("EtcdCluster/ns/a");
  const b = registry.getOrSpawn("EtcdCluster/ns/b");
  assert.notEqual(a, b);
  assert.deepEqual([a.kind, a.name], ["EtcdCluster", "EtcdCluster/ns/a"]);
  assert.deepEqual(registry.keys(), ["EtcdCluster/ns/a", "EtcdCluster/ns/b"]);
  assert.deepEqual(registry.list(), [a, b]);
  assert.deepEqual(root.children().map((child) => child.name), registry.keys());
  await root.stop();
});

Deno.test("send routes a message to the owning actor, spawning it on first use", async () => {
  const { root } = tree();
  const { registry, handled } = clusterRegistry(root);
  assert.equal(registry.get("EtcdCluster/ns/a"), undefined);
  assert.equal(registry.send("EtcdCluster/ns/a", { kind: "changed" }), true);
  assert.equal(registry.send("EtcdCluster/ns/b", { kind: "changed" }), true);
  assert.equal(registry.send("EtcdCluster/ns/a", { kind: "deleted" }), true);
  await root.stop({ drain: true });
  assert.deepEqual(handled, [
    "EtcdCluster/ns/a changed",
    "EtcdCluster/ns/b changed",
    "EtcdCluster/ns/a deleted",
  ]);
});

Deno.test("stop removes the actor and the next get-or-spawn starts a fresh one", async () => {
  const { root } = tree();
  const { registry, inits } = clusterRegistry(root);
  const first = registry.getOrSpawn("EtcdCluster/ns/a");
  await settle();
  await registry.stop("EtcdCluster/ns/a");
  assert.equal(first.status, "stopped");
  assert.deepEqual(registry.keys(), []);
  assert.deepEqual(root.children(), []);
  const second = registry.getOrSpawn("EtcdCluster/ns/a");
  assert.notEqual(first, second);
  await settle();
  assert.deepEqual(inits, ["EtcdCluster/ns/a", "EtcdCluster/ns/a"]);
  await root.stop();
});

Deno.test("an actor stopped because its supervisor gave up is replaced, and waits for the restart", async () => {
  const { root, clock } = tree(policy(5, 10_000));
  const clusters = root.spawnSupervisor({ name: "clusters", restart: policy(0, 10_000) });
  const handled: string[] = [];
  const registry = new Registry<string>(clusters, () => ({
    kind: "EtcdCluster",
    init: () => ({
      handle: (message) => {
        if (message === "crash") throw new Error("boom");
        handled.push(message);
      },
    }),
  }));
  const first = registry.getOrSpawn("EtcdCluster/ns/a");
  first.send("crash");
  await settle();
  assert.equal(first.status, "stopped");
  assert.equal(registry.get("EtcdCluster/ns/a"), undefined);
  assert.equal(registry.send("EtcdCluster/ns/a", "changed"), true);
  assert.deepEqual(handled, [], "the supervisor is down, so the new actor has not started");
  await clock.advance(100);
  assert.deepEqual(handled, ["changed"]);
  await root.stop();
});
