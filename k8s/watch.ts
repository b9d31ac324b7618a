// Our list-watch: paginated list, bookmark-driven watch, relist on 410, resync, stall restarts.
//
// client-node's informer is not usable under Deno (see NOTES.md): this is the small runtime
// around the pure pieces in store.ts, watch_plan.ts and backoff.ts.
import {
  type BackoffPolicy,
  defaultBackoff,
  jitteredPeriodMs,
  jitteredSeconds,
} from "./backoff.ts";
import type { KubeClient } from "./client.ts";
import { classifyStatus, classifyThrown, type K8sError } from "./errors.ts";
import { errorField, type Log, stderrLog } from "./log.ts";
import type { KubeObject } from "./objects.ts";
import type { Resource } from "./resources.ts";
import { ObjectStore, type StoreReader, type WatcherEvent } from "./store.ts";
import {
  type InterruptReason,
  nextAfterListFailure,
  nextAfterWatch,
  type NextStep,
  resourceVersionAfter,
  type WatchOutcome,
} from "./watch_plan.ts";

/** The calls used here: a KubeClient, or a fake in unit tests. */
export type WatchClient = Pick<KubeClient, "list" | "watch">;

export type { StoreReader, WatcherEvent, WatcherEventType } from "./store.ts";

/** Must be synchronous and cheap (enqueue a key); a throw is caught and logged. */
export type WatchHandler<T extends KubeObject> = (event: WatcherEvent<T>) => void;

export interface WatcherOptions {
  readonly resource: Resource;
  /** One namespace, or every namespace when omitted. */
  readonly namespace?: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /** Objects per list page. */
  readonly pageSize?: number;
  /** The server ends each watch after a random whole number of seconds in this range. */
  readonly watchTimeoutSeconds?: { readonly min: number; readonly max: number };
  /** Relist and re-announce every object this often (minus jitter); 0 turns resync off. */
  readonly resyncIntervalMs?: number;
  /** How often the server sends bookmarks on an idle watch (kube-apiserver: every minute). */
  readonly bookmarkIntervalMs?: number;
  /** Restart a watch that was silent this long; default twice the bookmark interval plus slack. */
  readonly stallTimeoutMs?: number;
  /** Deadline of each list page request. */
  readonly requestTimeoutMs?: number;
  readonly backoff?: BackoffPolicy;
  /** Injected for tests; `Math.random` otherwise. */
  readonly random?: () => number;
  readonly log?: Log;
}

/** Counters for metrics; they only grow. */
export interface WatcherStats {
  readonly lists: number;
  readonly listFailures: number;
  readonly watches: number;
  readonly watchFailures: number;
  readonly stalls: number;
  readonly handlerFailures: number;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** One watch request; `reason` is set by whoever aborts it, so the loop knows what to do next. */
interface Attempt {
  readonly controller: AbortController;
  reason?: InterruptReason;
}

type TimerName = "resync" | "stall" | "sleep";

const defaults = {
  pageSize: 500,
  watchTimeoutSeconds: { min: 240, max: 300 },
  resyncIntervalMs: 10 * 60_000,
  bookmarkIntervalMs: 60_000,
  requestTimeoutMs: 30_000,
};

const stallSlackMs = 30_000;

/** The share of the resync period that is randomised. */
const resyncJitter = 0.2;

export class Watcher<T extends KubeObject = KubeObject> {
  readonly #client: WatchClient;
  readonly #options: WatcherOptions;
  readonly #store = new ObjectStore<T>();
  readonly #handlers = new Set<WatchHandler<T>>();
  readonly #log: Log;
  readonly #random: () => number;
  readonly #stats: Mutable<WatcherStats> = {
    lists: 0,
    listFailures: 0,
    watches: 0,
    watchFailures: 0,
    stalls: 0,
    handlerFailures: 0,
  };
  readonly #stopping = new AbortController();
  #loop: Promise<void> | undefined;
  #resourceVersion = "";
  #hasSynced = false;
  #lastEventAt = performance.now();
  #resyncDue = false;
  #attempt: Attempt | undefined;
  #syncWaiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  readonly #timers = new Map<TimerName, ReturnType<typeof setTimeout>>();

  constructor(client: WatchClient, options: WatcherOptions) {
    this.#client = client;
    this.#options = options;
    this.#log = options.log ?? stderrLog;
    this.#random = options.random ?? Math.random;
  }

  /** The read cache, updated before handlers hear of a change. */
  get store(): StoreReader<T> {
    return this.#store;
  }

  /** True once the first list has landed in the store (for /readyz). */
  get hasSynced(): boolean {
    return this.#hasSynced;
  }

  get resourceVersion(): string {
    return this.#resourceVersion;
  }

  stats(): WatcherStats {
    return { ...this.#stats };
  }

  /** Seconds since the server last told us anything (an event, a bookmark, a list). */
  secondsSinceLastEvent(): number {
    return (performance.now() - this.#lastEventAt) / 1000;
  }

  /** Adds a handler; the returned function removes it. */
  addHandler(handler: WatchHandler<T>): () => void {
    this.#handlers.add(handler);
    return () => this.#handlers.delete(handler);
  }

  start(): void {
    if (this.#loop || this.#stopping.signal.aborted) return;
    this.#lastEventAt = performance.now();
    this.#loop = this.#run();
  }

  /** Resolves once the store holds a full list; rejects if the watcher stops first. */
  synced(): Promise<void> {
    if (this.#hasSynced) return Promise.resolve();
    if (this.#stopping.signal.aborted) return Promise.reject(new Error("watcher stopped"));
    return new Promise((resolve, reject) => this.#syncWaiters.push({ resolve, reject }));
  }

  /** Drops the current watch connection; the watcher resumes from its last resourceVersion. */
  interrupt(): void {
    this.#interrupt("requested");
  }

  /** Ends every request and timer; resolves when the loop has finished. */
  async stop(): Promise<void> {
    this.#stopping.abort();
    this.#interrupt("stop");
    this.#clearTimers();
    for (const waiter of this.#syncWaiters.splice(0)) waiter.reject(new Error("watcher stopped"));
    // The loop ends within moments of the abort; a stop must never hang shutdown regardless.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const gaveUp = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), 10_000);
    });
    const outcome = await Promise.race([this.#loop, gaveUp]);
    clearTimeout(timer);
    if (outcome === "timeout") {
      this.#log("warn", "watch loop did not end within 10 s of stop", { watch: this.#name });
    }
  }

  get #name(): string {
    const { resource, namespace } = this.#options;
    return namespace ? `${resource.plural} in ${namespace}` : `${resource.plural} (all namespaces)`;
  }

  async #run(): Promise<void> {
    let step: NextStep = { action: "list", delayMs: 0, failures: 0 };
    while (!this.#stopping.signal.aborted && step.action !== "stop") {
      try {
        if (step.delayMs > 0) await this.#sleep(step.delayMs);
        if (this.#stopping.signal.aborted) break;
        const action = this.#resyncDue ? "list" : step.action;
        step = action === "list"
          ? await this.#list(step.failures)
          : await this.#watch(step.failures);
      } catch (thrown) {
        // Nothing above should throw; if it does, keep watching rather than go blind.
        this.#log("error", "watch loop failed", { watch: this.#name, error: errorField(thrown) });
        step = nextAfterListFailure(step.failures, this.#backoff, this.#random);
      }
    }
    this.#clearTimers();
  }

  get #backoff(): BackoffPolicy {
    return this.#options.backoff ?? defaultBackoff;
  }

  async #list(failures: number): Promise<NextStep> {
    const announceUnchanged = this.#resyncDue;
    const result = await this.#client.list<T>(this.#options.resource, {
      namespace: this.#options.namespace,
      labelSelector: this.#options.labelSelector,
      fieldSelector: this.#options.fieldSelector,
      pageSize: this.#options.pageSize ?? defaults.pageSize,
      timeoutMs: this.#options.requestTimeoutMs ?? defaults.requestTimeoutMs,
      signal: this.#stopping.signal,
    });
    if (this.#stopping.signal.aborted) return { action: "stop", delayMs: 0, failures };
    if (!result.ok) return this.#listFailed(result.error, failures);
    this.#stats.lists++;
    this.#resyncDue = false;
    this.#resourceVersion = result.value.resourceVersion;
    this.#touch();
    const events = this.#store.replace(result.value.items, announceUnchanged);
    this.#markSynced();
    this.#scheduleResync();
    this.#dispatch(events);
    return { action: "watch", delayMs: 0, failures: 0 };
  }

  #listFailed(error: K8sError, failures: number): NextStep {
    this.#stats.listFailures++;
    const step = nextAfterListFailure(failures, this.#backoff, this.#random);
    this.#log("warn", "list failed", {
      watch: this.#name,
      error: error.message,
      kind: error.kind,
      retryInMs: step.delayMs,
    });
    return step;
  }

  #markSynced(): void {
    this.#hasSynced = true;
    for (const waiter of this.#syncWaiters.splice(0)) waiter.resolve();
  }

  async #watch(failures: number): Promise<NextStep> {
    const attempt: Attempt = { controller: new AbortController() };
    this.#attempt = attempt;
    this.#stats.watches++;
    this.#armStallTimer(performance.now());
    const { outcome, events } = await this.#readWatch(attempt);
    this.#attempt = undefined;
    this.#clearTimer("stall");
    // A watch that delivered anything proved the connection healthy: its failure starts afresh.
    const step = nextAfterWatch(outcome, events > 0 ? 0 : failures, this.#backoff, this.#random);
    this.#noteWatchEnd(outcome, step);
    return step;
  }

  /** Streams one watch into the store and says how it ended. */
  async #readWatch(attempt: Attempt): Promise<{ outcome: WatchOutcome; events: number }> {
    const started = performance.now();
    let events = 0;
    const ended = (outcome: WatchOutcome) => ({ outcome, events });
    const cut = (error: K8sError) => ended(this.#interruptedBy(attempt) ?? failed(error));
    try {
      const opened = await this.#client.watch<T>(this.#options.resource, {
        namespace: this.#options.namespace,
        labelSelector: this.#options.labelSelector,
        fieldSelector: this.#options.fieldSelector,
        resourceVersion: this.#resourceVersion,
        timeoutSeconds: this.#watchTimeoutSeconds(),
        allowWatchBookmarks: true,
        signal: AbortSignal.any([attempt.controller.signal, this.#stopping.signal]),
      });
      if (!opened.ok) return cut(opened.error);
      for await (const event of opened.value) {
        this.#touch();
        events++;
        if (event.type === "ERROR") {
          return ended({ kind: "errorEvent", error: classifyStatus(event.object) });
        }
        this.#resourceVersion = resourceVersionAfter(this.#resourceVersion, event);
        if (event.type !== "BOOKMARK") {
          this.#dispatch([this.#store.apply(event.type, event.object)]);
        }
      }
      return ended({ kind: "ended", events, durationMs: performance.now() - started });
    } catch (thrown) {
      return cut(classifyThrown(thrown));
    }
  }

  #watchTimeoutSeconds(): number {
    const range = this.#options.watchTimeoutSeconds ?? defaults.watchTimeoutSeconds;
    return jitteredSeconds(range.min, range.max, this.#random);
  }

  /** When the attempt was aborted on purpose, the outcome is that purpose, not an error. */
  #interruptedBy(attempt: Attempt): WatchOutcome | undefined {
    const reason = attempt.reason ?? (this.#stopping.signal.aborted ? "stop" : undefined);
    return reason ? { kind: "interrupted", reason } : undefined;
  }

  #noteWatchEnd(outcome: WatchOutcome, step: NextStep): void {
    const fields = { watch: this.#name, next: step.action, retryInMs: step.delayMs };
    switch (outcome.kind) {
      case "ended":
        return;
      case "interrupted":
        if (outcome.reason !== "stall") return;
        this.#stats.stalls++;
        this.#log("warn", "watch silent for too long; reconnecting", fields);
        return;
      case "failed":
        this.#stats.watchFailures++;
        this.#log(outcome.error.kind === "gone" ? "info" : "warn", "watch failed", {
          ...fields,
          error: outcome.error.message,
          kind: outcome.error.kind,
        });
        return;
      case "errorEvent":
        // 410 Expired is routine (our resourceVersion left the server's window): relist quietly.
        this.#log(outcome.error.kind === "gone" ? "info" : "warn", "watch error event", {
          ...fields,
          error: outcome.error.message,
        });
    }
  }

  #dispatch(events: readonly WatcherEvent<T>[]): void {
    for (const event of events) {
      for (const handler of this.#handlers) {
        try {
          handler(event);
        } catch (thrown) {
          // A handler's bug must not end the watch (in client-node it ends the process).
          this.#stats.handlerFailures++;
          this.#log("error", "watch handler threw", {
            watch: this.#name,
            error: errorField(thrown),
          });
        }
      }
    }
  }

  #touch(): void {
    this.#lastEventAt = performance.now();
  }

  #interrupt(reason: InterruptReason): void {
    const attempt = this.#attempt;
    if (!attempt || attempt.controller.signal.aborted) return;
    attempt.reason = reason;
    attempt.controller.abort();
  }

  get #stallTimeoutMs(): number {
    const bookmarkIntervalMs = this.#options.bookmarkIntervalMs ?? defaults.bookmarkIntervalMs;
    // "Roughly every minute": a first bookmark has been seen to come only after two minutes.
    return this.#options.stallTimeoutMs ?? 2 * bookmarkIntervalMs + stallSlackMs;
  }

  /** Checks once per stall period, measuring from the later of the watch start and last contact. */
  #armStallTimer(attemptStartedAt: number): void {
    const limitMs = this.#stallTimeoutMs;
    const check = () => {
      const silentMs = performance.now() - Math.max(this.#lastEventAt, attemptStartedAt);
      if (silentMs >= limitMs) this.#interrupt("stall");
      else this.#setTimer("stall", check, limitMs - silentMs);
    };
    this.#setTimer("stall", check, limitMs);
  }

  #scheduleResync(): void {
    const periodMs = this.#options.resyncIntervalMs ?? defaults.resyncIntervalMs;
    if (periodMs <= 0) return;
    this.#setTimer("resync", () => {
      this.#resyncDue = true;
      this.#interrupt("resync");
    }, jitteredPeriodMs(periodMs, resyncJitter, this.#random));
  }

  /** Resolves after `delayMs`, or at once when the watcher stops. */
  #sleep(delayMs: number): Promise<void> {
    if (this.#stopping.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.#clearTimer("sleep");
        this.#stopping.signal.removeEventListener("abort", done);
        resolve();
      };
      this.#stopping.signal.addEventListener("abort", done);
      this.#setTimer("sleep", done, delayMs);
    });
  }

  #setTimer(name: TimerName, callback: () => void, delayMs: number): void {
    this.#clearTimer(name);
    this.#timers.set(
      name,
      setTimeout(() => {
        this.#timers.delete(name);
        callback();
      }, delayMs),
    );
  }

  #clearTimer(name: TimerName): void {
    clearTimeout(this.#timers.get(name));
    this.#timers.delete(name);
  }

  #clearTimers(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }
}

function failed(error: K8sError): WatchOutcome {
  return { kind: "failed", error };
}
