// Records core/v1 Events, folding repeats into one Event's `count`; best-effort, never throws.
import type { KubeClient } from "./client.ts";
import { errorField, type Log, stderrLog } from "./log.ts";
import { formatTime } from "./microtime.ts";
import type { KubeObject } from "./objects.ts";
import { resources } from "./resources.ts";

/** The calls used here: a KubeClient, or a fake in unit tests. */
export type EventClient = Pick<KubeClient, "create" | "mergePatch">;

export type EventType = "Normal" | "Warning";

/** What an Event is about: any stored object (it has apiVersion, kind, name and uid). */
export interface InvolvedObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace?: string;
  readonly name: string;
  readonly uid?: string;
}

export interface EventRecorderOptions {
  /** `source.component` and `reportingComponent`. */
  readonly component?: string;
  /** `reportingInstance`: which operator replica spoke, e.g. the pod name. */
  readonly instance?: string;
  /** How many distinct events are remembered for aggregation. */
  readonly cacheSize?: number;
  readonly timeoutMs?: number;
  /** Injected for tests. */
  readonly now?: () => Date;
  readonly log?: Log;
}

/** What the server knows of an Event we created, so a repeat can bump its count. */
interface RecordedEvent {
  readonly namespace: string;
  readonly name: string;
  readonly count: number;
}

/** The API server keeps no more than this of a message; longer ones are cut, not refused. */
const maxMessageLength = 1024;

export function involvedObjectOf(object: KubeObject): InvolvedObject {
  return {
    apiVersion: object.apiVersion ?? "",
    kind: object.kind ?? "",
    namespace: object.metadata.namespace,
    name: object.metadata.name ?? "",
    uid: object.metadata.uid,
  };
}

/** Two events are "the same" when everything a reader sees but the time and count matches. */
export function aggregationKey(
  involved: InvolvedObject,
  type: EventType,
  reason: string,
  message: string,
): string {
  const { namespace = "", kind, name, uid = "" } = involved;
  return JSON.stringify([namespace, kind, name, uid, type, reason, message]);
}

/** Like client-go: the involved object's name and a unique hex suffix, within 253 characters. */
export function eventName(involvedName: string, now: Date, random: () => number): string {
  const suffix = now.getTime().toString(16) +
    Math.floor(random() * 0x10000).toString(16).padStart(4, "0");
  return `${involvedName.slice(0, 253 - suffix.length - 1)}.${suffix}`;
}

export class EventRecorder {
  readonly #client: EventClient;
  readonly #component: string;
  readonly #instance: string | undefined;
  readonly #cacheSize: number;
  readonly #timeoutMs: number;
  readonly #now: () => Date;
  readonly #log: Log;
  /** Insertion-ordered, so the first entry is the least recently used. */
  readonly #recorded = new Map<string, RecordedEvent>();
  /** One write at a time per key, so two quick repeats do not both create an Event. */
  readonly #inFlight = new Map<string, Promise<void>>();

  constructor(client: EventClient, options: EventRecorderOptions = {}) {
    this.#client = client;
    this.#component = options.component ?? "etcd-operator";
    this.#instance = options.instance;
    this.#cacheSize = options.cacheSize ?? 4096;
    this.#timeoutMs = options.timeoutMs ?? 5_000;
    this.#now = options.now ?? (() => new Date());
    this.#log = options.log ?? stderrLog;
  }

  /** Records an Event about `object`; resolves when written (or given up on), never rejects. */
  record(
    object: KubeObject | InvolvedObject,
    type: EventType,
    reason: string,
    message: string,
  ): Promise<void> {
    try {
      const involved = "metadata" in object ? involvedObjectOf(object) : object;
      const text = message.length > maxMessageLength
        ? `${message.slice(0, maxMessageLength - 3)}...`
        : message;
      const key = aggregationKey(involved, type, reason, text);
      const previous = this.#inFlight.get(key) ?? Promise.resolve();
      const next = previous.then(() => this.#write(key, involved, type, reason, text));
      this.#inFlight.set(key, next);
      return next.finally(() => {
        if (this.#inFlight.get(key) === next) this.#inFlight.delete(key);
      });
    } catch (thrown) {
      this.#log("warn", "could not record event", { reason, error: errorField(thrown) });
      return Promise.resolve();
    }
  }

  /** Waits for every write already started; call before dropping the client. */
  async flush(): Promise<void> {
    await Promise.all([...this.#inFlight.values()]);
  }

  async #write(
    key: string,
    involved: InvolvedObject,
    type: EventType,
    reason: string,
    message: string,
  ): Promise<void> {
    try {
      const recorded = this.#recorded.get(key);
      if (recorded && await this.#bump(key, recorded)) return;
      await this.#create(key, involved, type, reason, message);
    } catch (thrown) {
      this.#log("warn", "could not record event", { reason, error: errorField(thrown) });
    }
  }

  /** True when the existing Event now counts this occurrence too. */
  async #bump(key: string, recorded: RecordedEvent): Promise<boolean> {
    const count = recorded.count + 1;
    const result = await this.#client.mergePatch(
      resources.events,
      { namespace: recorded.namespace, name: recorded.name },
      { count, lastTimestamp: formatTime(this.#now()) },
      { timeoutMs: this.#timeoutMs },
    );
    if (result.ok) {
      this.#remember(key, { ...recorded, count });
      return true;
    }
    // Gone (Events expire after an hour by default) or unpatchable: start a fresh one.
    this.#recorded.delete(key);
    if (result.error.kind !== "notFound") {
      this.#log("debug", "event count update failed", {
        event: recorded.name,
        error: result.error.message,
      });
    }
    return false;
  }

  async #create(
    key: string,
    involved: InvolvedObject,
    type: EventType,
    reason: string,
    message: string,
  ): Promise<void> {
    const now = this.#now();
    const namespace = involved.namespace || "default";
    const name = eventName(involved.name, now, Math.random);
    const result = await this.#client.create(resources.events, {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name, namespace },
      involvedObject: involved,
      reason,
      message,
      type,
      count: 1,
      firstTimestamp: formatTime(now),
      lastTimestamp: formatTime(now),
      source: { component: this.#component },
      reportingComponent: this.#component,
      ...(this.#instance ? { reportingInstance: this.#instance } : {}),
    }, { timeoutMs: this.#timeoutMs });
    if (result.ok) {
      this.#remember(key, { namespace, name, count: 1 });
    } else {
      this.#log("warn", "could not record event", {
        involved: `${involved.kind} ${namespace}/${involved.name}`,
        reason,
        error: result.error.message,
      });
    }
  }

  #remember(key: string, recorded: RecordedEvent): void {
    this.#recorded.delete(key);
    this.#recorded.set(key, recorded);
    if (this.#recorded.size > this.#cacheSize) {
      const oldest = this.#recorded.keys().next().value;
      if (oldest !== undefined) this.#recorded.delete(oldest);
    }
  }
}
