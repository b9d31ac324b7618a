// Our list-watch against the real API server: order, reconnects without loss, 410 relists, scoping.
import assert from "node:assert/strict";
import type { KubeClient } from "../../../k8s/client.ts";
import { silentLog } from "../../../k8s/log.ts";
import type { KubeObject } from "../../../k8s/objects.ts";
import { resources } from "../../../k8s/resources.ts";
import { type WatchClient, Watcher, type WatcherOptions } from "../../../k8s/watch.ts";
import { temporaryNamespace } from "../support/cluster.ts";
import { adminClient, eventually, grantClientVerbs, operatorClient, valueOf } from "./support.ts";

function service(namespace: string, name: string, labels: Record<string, string> = {}): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { namespace, name, labels },
    spec: { clusterIP: "None", ports: [{ port: 2379 }] },
  } as KubeObject;
}

/** A started watcher whose handler writes `type name` lines, as an actor's enqueue would. */
async function watching(client: WatchClient, options: WatcherOptions) {
  const watcher = new Watcher(client, { log: silentLog, ...options });
  const seen: string[] = [];
  watcher.addHandler((event) => seen.push(`${event.type} ${event.object.metadata.name}`));
  watcher.start();
  await watcher.synced();
  return { watcher, seen, [Symbol.asyncDispose]: () => watcher.stop() };
}

function storedNames(watcher: Watcher): string[] {
  return watcher.store.list().map((object) => object.metadata.name ?? "").sort();
}

async function serverNames(client: KubeClient, namespace: string): Promise<string[]> {
  const listed = valueOf(await client.list(resources.services, { namespace }));
  return listed.items.map((object) => object.metadata.name ?? "").sort();
}

Deno.test("a watch sees Services added, changed and deleted, in order", async () => {
  await using namespace = await temporaryNamespace("k8s-watch");
  await grantClientVerbs(namespace.name);
  using client = await operatorClient();
  await using watch = await watching(client, {
    resource: resources.services,
    namespace: namespace.name,
  });
  assert.equal(watch.watcher.hasSynced, true);
  const target = { namespace: namespace.name, name: "peers" };
  valueOf(await client.create(resources.services, service(namespace.name, "peers")));
  valueOf(
    await client.mergePatch(resources.services, target, { metadata: { labels: { step: "2" } } }),
  );
  valueOf(await client.delete(resources.services, target));
  await eventually(() => watch.seen.length >= 3, "three events", 15_000, () => watch.seen);
  assert.deepEqual(watch.seen, ["added peers", "modified peers", "deleted peers"]);
  assert.equal(watch.watcher.store.size, 0);
  assert.ok(watch.watcher.secondsSinceLastEvent() < 5);
});

Deno.test("a watch whose connection keeps breaking resumes without missing or repeating events", async () => {
  await using namespace = await temporaryNamespace("k8s-resume");
  await grantClientVerbs(namespace.name);
  using client = await operatorClient();
  // The server ends every watch after a second, and we cut connections ourselves in between.
  await using watch = await watching(client, {
    resource: resources.services,
    namespace: namespace.name,
    watchTimeoutSeconds: { min: 1, max: 1 },
  });
  const names = Array.from({ length: 12 }, (_, index) => `svc-${index}`);
  for (const [index, name] of names.entries()) {
    valueOf(await client.create(resources.services, service(namespace.name, name)));
    if (index % 3 === 0) watch.watcher.interrupt();
    valueOf(
      await client.mergePatch(resources.services, { namespace: namespace.name, name }, {
        metadata: { labels: { round: "2" } },
      }),
    );
    if (index % 4 === 0) await new Promise((resolve) => setTimeout(resolve, 400));
  }
  await eventually(
    () => watch.seen.length >= names.length * 2,
    "every event",
    20_000,
    () => watch.seen,
  );
  for (const name of names) {
    assert.deepEqual(watch.seen.filter((line) => line.endsWith(` ${name}`)), [
      `added ${name}`,
      `modified ${name}`,
    ]);
  }
  assert.equal(watch.seen.length, names.length * 2);
  assert.deepEqual(storedNames(watch.watcher), await serverNames(client, namespace.name));
  assert.ok(watch.watcher.stats().watches >= 4, `only ${watch.watcher.stats().watches} watches`);
  assert.equal(watch.watcher.stats().lists, 1, "resuming must not need a relist");
});

/**
 * Makes resourceVersion "1" too old for the ConfigMap watch cache, which answers 410 only once
 * it has dropped its first events: it drops them when full (100 or more events) and the oldest
 * is over 75 s old. A young test cluster has not got there yet, so churn one ConfigMap until the
 * server says 410 for "1".
 */
async function makeResourceVersionOneStale(client: KubeClient, namespace: string): Promise<void> {
  const target = { namespace, name: "churn" };
  valueOf(
    await client.create(resources.configMaps, {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: target,
    }),
  );
  const deadline = performance.now() + 120_000;
  for (let round = 0; performance.now() < deadline; round++) {
    if (await answersGone(client, namespace)) return;
    for (let patch = 0; patch < 50; patch++) {
      valueOf(
        await client.mergePatch(resources.configMaps, target, {
          data: { round: `${round}.${patch}` },
        }),
      );
    }
    if (round > 20) await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  assert.fail("resourceVersion 1 never became too old for the ConfigMap watch cache");
}

async function answersGone(client: KubeClient, namespace: string): Promise<boolean> {
  const opened = await client.watch(resources.configMaps, {
    namespace,
    resourceVersion: "1",
    timeoutSeconds: 1,
  });
  if (!opened.ok) return opened.error.kind === "gone";
  for await (const event of opened.value) {
    return event.type === "ERROR" && event.object.code === 410;
  }
  return false;
}

Deno.test("a 410 for a stale resourceVersion relists and the store matches the server again", async () => {
  await using namespace = await temporaryNamespace("k8s-gone");
  using client = await adminClient();
  await makeResourceVersionOneStale(client, namespace.name);
  const configMap = (name: string) => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { namespace: namespace.name, name, labels: { test: "gone" } },
  });
  for (const name of ["keep", "vanish"]) {
    valueOf(await client.create(resources.configMaps, configMap(name)));
  }

  // The next watch is held back while the test changes things, then asks for resourceVersion
  // "1", which the server no longer has: it answers 410 Expired.
  let staleWatch: { changesMade: Promise<void> } | undefined;
  const staleClient: WatchClient = {
    list: (resource, options) => client.list(resource, options),
    watch: async (resource, options) => {
      const stale = staleWatch;
      staleWatch = undefined;
      if (stale) await stale.changesMade;
      return client.watch(resource, stale ? { ...options, resourceVersion: "1" } : options);
    },
  };
  await using watch = await watching(staleClient, {
    resource: resources.configMaps,
    namespace: namespace.name,
    labelSelector: "test=gone",
  });
  assert.deepEqual(storedNames(watch.watcher), ["keep", "vanish"]);

  let changesMade = () => {};
  staleWatch = { changesMade: new Promise((resolve) => (changesMade = resolve)) };
  watch.watcher.interrupt();
  valueOf(await client.delete(resources.configMaps, { namespace: namespace.name, name: "vanish" }));
  valueOf(await client.create(resources.configMaps, configMap("arrived")));
  changesMade();

  await eventually(
    () => watch.watcher.stats().lists === 2,
    "the relist",
    15_000,
    () => watch.watcher.stats(),
  );
  await eventually(() => watch.seen.length >= 4, "the relist's events", 15_000, () => watch.seen);
  // The deletion happened while no watch was open: only the relist's diff can report it.
  assert.deepEqual(watch.seen, ["added keep", "added vanish", "deleted vanish", "added arrived"]);
  assert.deepEqual(storedNames(watch.watcher), ["arrived", "keep"]);
  const listed = valueOf(
    await client.list(resources.configMaps, {
      namespace: namespace.name,
      labelSelector: "test=gone",
    }),
  );
  assert.deepEqual(
    storedNames(watch.watcher),
    listed.items.map((item) => item.metadata.name).sort(),
  );
});

Deno.test("a watch across all namespaces with a label selector sees only what it selects", async () => {
  await using namespace = await temporaryNamespace("k8s-scope");
  await grantClientVerbs(namespace.name);
  using client = await operatorClient();
  const label = `scope-${crypto.randomUUID().slice(0, 8)}`;
  await using watch = await watching(client, {
    resource: resources.services,
    labelSelector: `test=${label}`,
  });
  valueOf(
    await client.create(resources.services, service(namespace.name, "ignored", { test: "other" })),
  );
  valueOf(
    await client.create(resources.services, service(namespace.name, "selected", { test: label })),
  );
  await eventually(() => watch.seen.length >= 1, "the selected Service", 15_000, () => watch.seen);
  // The unselected Service was created first, so it would have arrived first.
  assert.deepEqual(watch.seen, ["added selected"]);
  assert.ok(watch.watcher.store.get(`${namespace.name}/selected`));
});

Deno.test("a periodic resync re-announces every object", async () => {
  await using namespace = await temporaryNamespace("k8s-resync");
  await grantClientVerbs(namespace.name);
  using client = await operatorClient();
  valueOf(await client.create(resources.services, service(namespace.name, "steady")));
  await using watch = await watching(client, {
    resource: resources.services,
    namespace: namespace.name,
    resyncIntervalMs: 500,
  });
  await eventually(
    () => watch.seen.includes("resync steady"),
    "a resync",
    10_000,
    () => watch.seen,
  );
  assert.deepEqual(watch.seen.slice(0, 2), ["added steady", "resync steady"]);
});
