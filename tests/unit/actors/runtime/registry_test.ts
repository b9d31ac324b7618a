// The registry: one actor per key under a supervisor, routing, stop-and-remove, self-healing.
import assert from "node:assert/strict";
import { defaultRestartPolicy } from "../../../../actors/runtime/backoff.ts";
import { Registry, spawnRegistry } from "../../../../actors/runtime/registry.ts";
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

/** Keys of the objects a watch's store holds, as the manager would list them. */
function clusterKeys(count: number): string[] {
  return Array.from({ length: count }, (_, index) => `ns/cluster-${index}`);
}

Deno.test("a restarted per-object supervisor brings back, woken, the actor of every object that still exists", async () => {
  const { root, clock, escalations } = tree(policy(5, 10_000));
  const objects = new Set(["ns/a", "ns/b", "ns/c"]);
  const handled: string[] = [];
  const clusters = spawnRegistry<string>(root, {
    name: "clusters",
    restart: policy(0, 10_000), // the first crash suspends a child, one suspension too many
    template: (key) => ({
      kind: "EtcdCluster",
      init: () => ({
        handle: (message) => {
          if (message === "crash") throw new Error(`${key} crashed`);
          handled.push(`${key} ${message}`);
        },
      }),
    }),
    keys: () => [...objects],
    wake: "reconcile",
  });
  await settle();
  assert.deepEqual(handled, ["ns/a reconcile", "ns/b reconcile", "ns/c reconcile"]);
  handled.length = 0;
  objects.delete("ns/c"); // deleted while its deletion event is still on the way
  clusters.send("ns/a", "crash");
  await settle();
  assert.deepEqual(clusters.keys(), [], "the supervisor gave up and stopped every actor");
  await clock.advance(100); // its parent restarts it
  assert.deepEqual(clusters.keys(), ["ns/a", "ns/b"]);
  assert.deepEqual(clusters.list().map((actor) => actor.status), ["running", "running"]);
  assert.deepEqual(handled, ["ns/a reconcile", "ns/b reconcile"]);
  assert.deepEqual(escalations, []);
  await root.stop();
});

Deno.test("a supervisor's first start spawns the actors of the objects that exist already", async () => {
  const { root } = tree();
  const handled: string[] = [];
  const clusters = spawnRegistry<string>(root, {
    name: "clusters",
    template: (key) => ({
      kind: "EtcdCluster",
      init: () => ({ handle: (message) => void handled.push(`${key} ${message}`) }),
    }),
    keys: () => ["ns/a", "ns/b"],
    wake: "reconcile",
  });
  await settle();
  assert.deepEqual(clusters.keys(), ["ns/a", "ns/b"]);
  assert.deepEqual(handled, ["ns/a reconcile", "ns/b reconcile"]);
  await root.stop();
});

Deno.test("a restarted actor is woken even when the notice it crashed on was dropped as poison", async () => {
  const { root, clock, hooks } = tree();
  let crashesLeft = 2;
  const handled: string[] = [];
  const clusters = spawnRegistry<string>(root, {
    name: "clusters",
    template: () => ({
      kind: "EtcdCluster",
      init: () => ({
        handle: (message) => {
          if (crashesLeft-- > 0) throw new Error("the API server is unreachable");
          handled.push(message);
        },
      }),
    }),
    keys: () => [],
    wake: "reconcile",
  });
  clusters.send("ns/a", "changed");
  await clock.advance(100 + 200);
  assert.equal(hooks.total("messagesDropped", "ns/a"), 1, "the notice crashed it twice");
  // One wake per restart; in this first-in-first-out mailbox they do not merge into one.
  assert.deepEqual(handled, ["reconcile", "reconcile"]);
  await root.stop();
});

// Every cluster actor's pass fails while the API server restarts. Each key backs off on its own
// (90, 180, 360 ms … with the production policy and jitter at its midpoint) and none is restarted
// often enough to be suspended; supervisor-wide counting gave up on the eleventh failure.
const outages = [
  { outageMs: 1_000, clusters: 50 },
  { outageMs: 5_000, clusters: 50 },
  { outageMs: 20_000, clusters: 50 },
] as const;

for (const { outageMs, clusters: count } of outages) {
  Deno.test(`every cluster actor failing at once for ${outageMs / 1000} s (an API-server restart) leaves every cluster managed again within seconds`, async () => {
    const { root, clock, hooks, escalations } = tree(defaultRestartPolicy, undefined, () => 0.5);
    let apiUp = false;
    const managedAt = new Map<string, number>();
    spawnRegistry<string>(root, {
      name: "clusters",
      restart: defaultRestartPolicy,
      template: (key) => ({
        kind: "EtcdCluster",
        mailbox: { kind: "coalesce", keyOf: () => "reconcile" },
        init: () => ({
          handle: () => {
            if (!apiUp) throw new Error("connection refused");
            if (!managedAt.has(key)) managedAt.set(key, clock.now());
          },
        }),
      }),
      keys: () => clusterKeys(count),
      wake: "reconcile",
    });
    await clock.advance(outageMs);
    apiUp = true;
    assert.ok(hooks.total("failures") > 10, "more failures than one supervisor-wide intensity");
    await clock.advance(5_000);
    assert.deepEqual([...managedAt.keys()].sort(), clusterKeys(count).sort());
    assert.equal(hooks.total("suspensions"), 0);
    assert.deepEqual(escalations, []);
    assert.equal(hooks.total("escalations"), 0);
    await root.stop();
  });
}
