import assert from "node:assert/strict";
import type { ListAllOptions, ListResult, WatchOptions } from "../../../k8s/client.ts";
import { failure, type K8sResult, success } from "../../../k8s/errors.ts";
import type { KubeObject } from "../../../k8s/objects.ts";
import { resources } from "../../../k8s/resources.ts";
import {
  type WatchClient,
  Watcher,
  type WatcherEvent,
  type WatcherOptions,
} from "../../../k8s/watch.ts";
import type { RawWatchEvent } from "../../../k8s/watch_protocol.ts";
import { type LogLevel, silentLog } from "../../../k8s/log.ts";

/** One open watch: the test pushes events into it, or ends or breaks it. */
class FakeStream {
  readonly #queue: (RawWatchEvent | Error | "end")[] = [];
  #wake: (() => void) | undefined;
  constructor(readonly resourceVersion: string, readonly signal: AbortSignal) {
    signal.addEventListener("abort", () => this.#wake?.());
  }
  push(item: RawWatchEvent | Error | "end"): void {
    this.#queue.push(item);
    this.#wake?.();
  }
  async *events(): AsyncGenerator<RawWatchEvent, void, undefined> {
    while (true) {
      if (this.signal.aborted) throw new DOMException("aborted", "AbortError");
      const item = this.#queue.shift();
      if (item === "end") return;
      if (item instanceof Error) throw item;
      if (item) {
        yield item;
        continue;
      }
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = undefined;
    }
  }
}

/** An API server in memory: objects with resourceVersions, lists, and watches the test drives. */
class FakeApi {
  readonly objects = new Map<string, KubeObject>();
  revision = 10;
  lists = 0;
  readonly streams: FakeStream[] = [];

  put(name: string): KubeObject {
    const object = {
      metadata: {
        namespace: "ns",
        name,
        uid: `uid-${name}`,
        resourceVersion: String(++this.revision),
      },
    };
    this.objects.set(name, object);
    return object;
  }

  readonly client: WatchClient = {
    list: <T extends KubeObject>(_resource: unknown, _options?: ListAllOptions) => {
      this.lists++;
      const value = {
        items: [...this.objects.values()] as T[],
        resourceVersion: String(this.revision),
      };
      return Promise.resolve(success(value));
    },
    watch: <T extends KubeObject>(_resource: unknown, options: WatchOptions) => {
      const stream = new FakeStream(options.resourceVersion, options.signal!);
      this.streams.push(stream);
      return Promise.resolve(success(stream.events())) as Promise<
        K8sResult<AsyncGenerator<RawWatchEvent<T>, void, undefined>>
      >;
    },
  };

  get lastStream(): FakeStream {
    return this.streams[this.streams.length - 1];
  }
}

async function eventually(condition: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

const fast: Partial<WatcherOptions> = {
  backoff: { initialMs: 5, maxMs: 20, factor: 2, jitter: 0 },
  resyncIntervalMs: 0,
  log: silentLog,
};

async function started(api: FakeApi, options: Partial<WatcherOptions> = {}) {
  const watcher = new Watcher(api.client, {
    resource: resources.pods,
    namespace: "ns",
    ...fast,
    ...options,
  });
  const seen: string[] = [];
  watcher.addHandler((event: WatcherEvent<KubeObject>) =>
    seen.push(`${event.type} ${event.object.metadata.name}`)
  );
  watcher.start();
  await watcher.synced();
  await eventually(() => api.streams.length > 0, "the first watch");
  return { watcher, seen };
}

Deno.test("the first list fills the store and the watch starts from the list's resourceVersion", async () => {
  const api = new FakeApi();
  api.put("a");
  const { watcher, seen } = await started(api);
  assert.equal(watcher.hasSynced, true);
  assert.deepEqual(seen, ["added a"]);
  assert.equal(api.lastStream.resourceVersion, "11");
  await watcher.stop();
});

Deno.test("the store is updated before a handler hears of the change", async () => {
  const api = new FakeApi();
  const watcher = new Watcher(api.client, { resource: resources.pods, ...fast });
  const storedWhenHandled: (string | undefined)[] = [];
  watcher.addHandler((_event) =>
    storedWhenHandled.push(watcher.store.get("ns/a")?.metadata.resourceVersion)
  );
  watcher.start();
  await eventually(() => api.streams.length > 0, "the watch");
  api.lastStream.push({ type: "ADDED", object: api.put("a") });
  await eventually(() => storedWhenHandled.length === 1, "the event");
  assert.deepEqual(storedWhenHandled, ["11"]);
  await watcher.stop();
});

Deno.test("a throwing handler is reported and the watch carries on", async () => {
  const api = new FakeApi();
  const logged: LogLevel[] = [];
  const { watcher, seen } = await started(api, { log: (level) => logged.push(level) });
  watcher.addHandler(() => {
    throw new Error("handler bug");
  });
  api.lastStream.push({ type: "ADDED", object: api.put("a") });
  api.lastStream.push({ type: "ADDED", object: api.put("b") });
  await eventually(() => seen.length === 2, "both events");
  assert.deepEqual(seen, ["added a", "added b"]);
  assert.equal(watcher.stats().handlerFailures, 2);
  assert.deepEqual(logged, ["error", "error"]);
  await watcher.stop();
});

Deno.test("an ERROR 410 relists, and handlers hear of what changed meanwhile", async () => {
  const api = new FakeApi();
  api.put("a");
  api.put("b");
  const { watcher, seen } = await started(api);
  // While the watch was behind, b was deleted and c created; the server then says 410.
  api.objects.delete("b");
  api.put("c");
  api.lastStream.push({
    type: "ERROR",
    object: { kind: "Status", code: 410, reason: "Expired", message: "too old" },
  });
  await eventually(() => api.streams.length === 2, "the watch after the relist");
  assert.equal(api.lists, 2);
  assert.deepEqual(seen, ["added a", "added b", "deleted b", "added c"]);
  assert.deepEqual([...watcher.store.keys()].sort(), ["ns/a", "ns/c"]);
  assert.equal(api.lastStream.resourceVersion, "13");
  await watcher.stop();
});

Deno.test("a broken connection resumes from the last bookmark without relisting", async () => {
  const api = new FakeApi();
  const { watcher } = await started(api);
  api.lastStream.push({ type: "BOOKMARK", object: { metadata: { resourceVersion: "42" } } });
  api.lastStream.push(new TypeError("connection reset"));
  await eventually(() => api.streams.length === 2, "the reconnect");
  assert.equal(api.lastStream.resourceVersion, "42");
  assert.equal(api.lists, 1);
  await watcher.stop();
});

Deno.test("a watch the server ends is resumed at once from where it was", async () => {
  const api = new FakeApi();
  const { watcher } = await started(api);
  api.lastStream.push({ type: "ADDED", object: api.put("a") });
  api.lastStream.push("end");
  await eventually(() => api.streams.length === 2, "the new watch");
  assert.equal(api.lastStream.resourceVersion, "11");
  assert.equal(api.lists, 1);
  await watcher.stop();
});

Deno.test("a watch silent for longer than the stall limit is restarted", async () => {
  const api = new FakeApi();
  const { watcher } = await started(api, { stallTimeoutMs: 30 });
  await eventually(() => api.streams.length >= 2, "the restart", 1000);
  assert.ok(watcher.stats().stalls >= 1);
  assert.equal(api.streams[1].resourceVersion, "10");
  assert.equal(api.lists, 1);
  await watcher.stop();
});

Deno.test("bookmarks keep a quiet watch from being taken for stalled", async () => {
  const api = new FakeApi();
  const { watcher } = await started(api, { stallTimeoutMs: 60 });
  for (let beat = 0; beat < 6; beat++) {
    api.lastStream.push({ type: "BOOKMARK", object: { metadata: { resourceVersion: "10" } } });
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.equal(watcher.stats().stalls, 0);
  assert.ok(watcher.secondsSinceLastEvent() < 0.06);
  await watcher.stop();
});

Deno.test("a periodic resync relists and re-announces every object", async () => {
  const api = new FakeApi();
  api.put("a");
  const { watcher, seen } = await started(api, { resyncIntervalMs: 30 });
  await eventually(() => seen.includes("resync a"), "the resync");
  assert.ok(api.lists >= 2);
  await watcher.stop();
});

Deno.test("interrupt drops the connection and the watch resumes from its resourceVersion", async () => {
  const api = new FakeApi();
  const { watcher } = await started(api);
  api.lastStream.push({ type: "ADDED", object: api.put("a") });
  await eventually(() => watcher.resourceVersion === "11", "the event");
  watcher.interrupt();
  await eventually(() => api.streams.length === 2, "the new watch");
  assert.equal(api.lastStream.resourceVersion, "11");
  await watcher.stop();
});

Deno.test("stop aborts the open watch", async () => {
  const api = new FakeApi();
  const { watcher } = await started(api);
  await watcher.stop();
  assert.equal(api.lastStream.signal.aborted, true);
});

Deno.test("stop aborts a list in flight and rejects anyone still waiting for sync", async () => {
  const api = new FakeApi();
  const hangingList: WatchClient = {
    ...api.client,
    list: <T extends KubeObject>(_resource: unknown, options?: ListAllOptions) =>
      new Promise<K8sResult<ListResult<T>>>((resolve) =>
        options?.signal?.addEventListener(
          "abort",
          () => resolve(failure({ kind: "transient", message: "aborted" })),
        )
      ),
  };
  const watcher = new Watcher(hangingList, { resource: resources.pods, ...fast });
  watcher.start();
  const waiting = watcher.synced();
  await watcher.stop();
  await assert.rejects(waiting, /stopped/);
  assert.equal(watcher.hasSynced, false);
});
