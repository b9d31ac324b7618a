// The watch's read cache by `namespace/name`, and the pure rules that turn events into updates.
import { type KubeObject, objectKey } from "./objects.ts";

/** What handlers receive. `resync` re-announces an unchanged object after a periodic relist. */
export type WatcherEventType = "added" | "modified" | "deleted" | "resync";

export interface WatcherEvent<T extends KubeObject> {
  readonly type: WatcherEventType;
  readonly object: T;
}

/** The read side handed to actors: a snapshot per call, never the live map. */
export interface StoreReader<T extends KubeObject> {
  get(key: string): T | undefined;
  list(): readonly T[];
  keys(): readonly string[];
  readonly size: number;
  /**
   * When (monotonic ms, `performance.now()`) the cache first held the object's current
   * `metadata.generation`: the arrival of the spec change a controller is to react to.
   */
  generationChangedAt?(key: string): number | undefined;
}

export class ObjectStore<T extends KubeObject> implements StoreReader<T> {
  readonly #objects = new Map<string, T>();
  readonly #generationChangedAt = new Map<string, number>();

  readonly #now: () => number;

  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  get(key: string): T | undefined {
    return this.#objects.get(key);
  }

  list(): readonly T[] {
    return [...this.#objects.values()];
  }

  keys(): readonly string[] {
    return [...this.#objects.keys()];
  }

  get size(): number {
    return this.#objects.size;
  }

  generationChangedAt(key: string): number | undefined {
    return this.#generationChangedAt.get(key);
  }

  /** Applies one watch event and says what handlers should hear. */
  apply(type: "ADDED" | "MODIFIED" | "DELETED", object: T): WatcherEvent<T> {
    const key = objectKey(object);
    const before = this.#objects.get(key);
    const event = applyWatchEvent(this.#objects, type, object);
    if (type === "DELETED") this.#generationChangedAt.delete(key);
    else if (!sameGeneration(before, object)) this.#generationChangedAt.set(key, this.#now());
    return event;
  }

  /** Replaces the contents with a fresh list; returns the events that bring handlers level. */
  replace(listed: readonly T[], announceUnchanged: boolean): readonly WatcherEvent<T>[] {
    const events = relistEvents(this.#objects, listed, announceUnchanged);
    const before = new Map(this.#objects);
    const changedAt = new Map(this.#generationChangedAt);
    this.#objects.clear();
    this.#generationChangedAt.clear();
    for (const object of listed) {
      const key = objectKey(object);
      this.#objects.set(key, object);
      // A relist keeps the first arrival of a generation it already held.
      const since = sameGeneration(before.get(key), object) ? changedAt.get(key) : undefined;
      this.#generationChangedAt.set(key, since ?? this.#now());
    }
    return events;
  }
}

/** The same object at the same generation: a status-only change must not move its arrival. */
function sameGeneration(before: KubeObject | undefined, after: KubeObject): boolean {
  return before !== undefined && before.metadata.uid === after.metadata.uid &&
    before.metadata.generation === after.metadata.generation;
}

/**
 * ADDED and MODIFIED both mean "this is the object now": which one handlers hear depends on
 * whether the store knew the object, since after a relist the server's word may lag ours.
 */
export function applyWatchEvent<T extends KubeObject>(
  objects: Map<string, T>,
  type: "ADDED" | "MODIFIED" | "DELETED",
  object: T,
): WatcherEvent<T> {
  const key = objectKey(object);
  if (type === "DELETED") {
    objects.delete(key);
    return { type: "deleted", object };
  }
  const known = objects.has(key);
  objects.set(key, object);
  return { type: known ? "modified" : "added", object };
}

function sameVersion(a: KubeObject, b: KubeObject): boolean {
  return a.metadata.uid === b.metadata.uid &&
    a.metadata.resourceVersion === b.metadata.resourceVersion;
}

/**
 * What changed between the store and a fresh list: new keys are `added`, changed ones
 * `modified`, keys that vanished while we were not watching `deleted` (with the last state we
 * saw), and, for a periodic resync, unchanged ones `resync`. A name reused by a new object (a
 * different uid) is a deletion followed by an addition, as it was on the server.
 */
export function relistEvents<T extends KubeObject>(
  previous: ReadonlyMap<string, T>,
  listed: readonly T[],
  announceUnchanged: boolean,
): readonly WatcherEvent<T>[] {
  const events: WatcherEvent<T>[] = [];
  const listedKeys = new Set<string>();
  for (const object of listed) listedKeys.add(objectKey(object));
  for (const [key, object] of previous) {
    if (!listedKeys.has(key)) events.push({ type: "deleted", object });
  }
  for (const object of listed) {
    const before = previous.get(objectKey(object));
    if (!before) {
      events.push({ type: "added", object });
    } else if (
      before.metadata.uid && object.metadata.uid && before.metadata.uid !== object.metadata.uid
    ) {
      events.push({ type: "deleted", object: before }, { type: "added", object });
    } else if (!sameVersion(before, object)) {
      events.push({ type: "modified", object });
    } else if (announceUnchanged) {
      events.push({ type: "resync", object });
    }
  }
  return events;
}
