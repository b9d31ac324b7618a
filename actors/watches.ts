// What a kind watches and how each event maps to its actors' keys, as data the manager assembles.
//
// In the spirit of controller-runtime's For/Owns/Watches: a kind names its own objects (one actor
// per key), the other collections it reads, and for those that should wake it, which of its keys
// an event concerns. Collections are named by `Source`; kinds naming the same source id share one
// watch and one store.
import type { KubeObject } from "../k8s/objects.ts";
import { controllerOf } from "../k8s/owner.ts";
import type { Log } from "../k8s/log.ts";
import type { Resource } from "../k8s/resources.ts";
import {
  type StoreReader,
  type WatchClient,
  Watcher,
  type WatcherEvent,
  type WatchHandler,
} from "../k8s/watch.ts";
import type { ActorSpec } from "./runtime/mod.ts";

/** A running watch as the manager uses it: one Watcher, or several behind one store. */
export interface Feed<T extends KubeObject> {
  readonly store: StoreReader<T>;
  addHandler(handler: WatchHandler<T>): () => void;
  /** Resolves once the store holds a full list; rejects if the feed stops first. */
  synced(): Promise<void>;
  start(): void;
  stop(): Promise<void>;
  secondsSinceLastEvent(): number;
}

export interface FeedContext {
  readonly kube: WatchClient;
  /** One namespace, or all of them. */
  readonly namespace: string | undefined;
  readonly log: Log;
  /** Another source's feed (the same one every kind gets), for a feed that follows it. */
  feed<T extends KubeObject>(source: Source<T>): Feed<T>;
}

/** One watched collection; the manager opens each id once, however many kinds name it. */
export interface Source<T extends KubeObject> {
  readonly id: string;
  open(context: FeedContext): Feed<T>;
}

/** Objects of one resource, optionally by label, in the manager's namespace if namespaced. */
export function objects<T extends KubeObject>(
  resource: Resource,
  labelSelector?: string,
): Source<T> {
  const group = resource.group === "" ? "core" : resource.group;
  return {
    id: `${group}/${resource.plural}${labelSelector ? `?${labelSelector}` : ""}`,
    open: (context) =>
      new Watcher<T>(context.kube, {
        resource,
        namespace: resource.namespaced ? context.namespace : undefined,
        labelSelector,
        log: context.log,
      }),
  };
}

/** The stores of the sources a kind declared, for its actors and its key mappings. */
export type Lookup = <T extends KubeObject>(source: Source<T>) => StoreReader<T>;

/** An event's keys among the kind's actors; only keys of objects in the kind's store are woken. */
export type KeysOf<T extends KubeObject> = (
  event: WatcherEvent<T>,
  lookup: Lookup,
) => readonly string[];

export interface Watch {
  readonly source: Source<KubeObject>;
  /** Absent: the kind only reads this store, and its events wake none of the kind's actors. */
  readonly keys?: KeysOf<KubeObject>;
}

/** A collection the kind reads, and (with `keys`) which of its actors an event concerns. */
export function watch<T extends KubeObject>(source: Source<T>, keys?: KeysOf<T>): Watch {
  // Sound as long as the feed opened for the source delivers the source's own objects.
  return { source, keys } as unknown as Watch;
}

export interface KindDeclaration<M> {
  /** The kind's supervisor: "clusters"; its actors are named by key under it. */
  readonly name: string;
  /** The kind's own objects: one actor per key in this store, stopped when its object goes. */
  readonly primary: Source<KubeObject>;
  /** Everything else the kind reads; every one of them has listed before its first pass. */
  readonly watches: readonly Watch[];
  /** What a watch event delivers to an actor: "your key may have changed". */
  readonly wake: M;
  readonly actor: (key: string, lookup: Lookup) => ActorSpec<M>;
}

/** `namespace/name`: the key of a namespaced object, and of the actor that owns it. */
export function keyIn(namespace: string | undefined, name: string | undefined): string[] {
  return namespace && name ? [`${namespace}/${name}`] : [];
}

/** The key an object's label names in its namespace (a cluster's or a peer's name). */
export function byLabel(label: string): KeysOf<KubeObject> {
  return (event) => keyIn(event.object.metadata.namespace, event.object.metadata.labels?.[label]);
}

/** The key of the object of `kind` that controls the event's object (owner references). */
export function byController(kind: string): KeysOf<KubeObject> {
  return (event) => {
    const owner = controllerOf(event.object);
    return owner?.kind === kind ? keyIn(event.object.metadata.namespace, owner.name) : [];
  };
}
