// The Secrets the operator reads for TLS, and nothing else: its own by label, the user's by name.
//
// One watch selects the Secrets the operator labels (`app.kubernetes.io/name=etcd`); each Secret a
// cluster names in `spec.tls.*.userProvided` gets a watch of its own (a field selector on its
// name), started when a cluster names it and stopped when none does. No other Secret is cached.
import type { Log } from "../k8s/log.ts";
import { resources } from "../k8s/resources.ts";
import type { StoreReader } from "../k8s/store.ts";
import { type WatchClient, Watcher, type WatchHandler } from "../k8s/watch.ts";
import { ownedSelector } from "./member.ts";
import { clusterObjects } from "./sources.ts";
import { resolveTLS } from "./tls/settings.ts";
import { userProvidedSecretNames } from "./tls/observe.ts";
import type { EtcdClusterObject, SecretObject } from "./types.ts";
import type { Feed, Source } from "./watches.ts";

/** `namespace/name` of every Secret a cluster names as user-provided. */
export function namedSecretKeys(clusters: readonly EtcdClusterObject[]): Set<string> {
  const keys = new Set<string>();
  for (const cluster of clusters) {
    for (const name of userProvidedSecretNames(resolveTLS(cluster.spec.tls))) {
      keys.add(`${cluster.metadata.namespace}/${name}`);
    }
  }
  return keys;
}

/** The TLS Secrets as one feed, following the clusters' feed for the names it watches. */
export const tlsSecrets: Source<SecretObject> = {
  id: "tls-secrets",
  open: (context) => {
    const clusters = context.feed(clusterObjects);
    const secrets = new TLSSecretWatches(context.kube, context.namespace, context.log);
    clusters.addHandler(() => secrets.follow(clusters.store.list()));
    return secrets;
  },
};

/**
 * Listed once the labelled Secrets have listed: a user's Secret is watched only after a cluster
 * names it, and its actor reads it when it lands, like any object created later.
 */
export class TLSSecretWatches implements Feed<SecretObject> {
  readonly owned: Watcher<SecretObject>;
  readonly #named = new Map<string, Watcher<SecretObject>>();
  readonly #handlers = new Set<WatchHandler<SecretObject>>();
  readonly #client: WatchClient;
  readonly #log: Log;
  #stopped = false;

  constructor(client: WatchClient, namespace: string | undefined, log: Log) {
    this.#client = client;
    this.#log = log;
    this.owned = new Watcher<SecretObject>(client, {
      resource: resources.secrets,
      namespace,
      labelSelector: ownedSelector,
      log,
    });
    this.owned.addHandler(this.#dispatch);
  }

  /** Both kinds, as one read-only store. */
  readonly store: StoreReader<SecretObject> = {
    get: (key) => this.owned.store.get(key) ?? this.#named.get(key)?.store.get(key),
    list: () => [
      ...this.owned.store.list(),
      ...[...this.#named.values()].flatMap((watcher) => watcher.store.list()),
    ],
    keys: () => [
      ...this.owned.store.keys(),
      ...[...this.#named.values()].flatMap((watcher) => watcher.store.keys()),
    ],
    get size() {
      return this.keys().length;
    },
  };

  addHandler(handler: WatchHandler<SecretObject>): () => void {
    this.#handlers.add(handler);
    return () => this.#handlers.delete(handler);
  }

  synced(): Promise<void> {
    return this.owned.synced();
  }

  start(): void {
    this.owned.start();
  }

  secondsSinceLastEvent(): number {
    return this.owned.secondsSinceLastEvent();
  }

  /** Watches exactly the user-provided Secrets these clusters name. */
  follow(clusters: readonly EtcdClusterObject[]): void {
    if (this.#stopped) return;
    const wanted = namedSecretKeys(clusters);
    for (const [key, watcher] of this.#named) {
      if (!wanted.has(key)) {
        this.#named.delete(key);
        void watcher.stop();
      }
    }
    for (const key of wanted) {
      if (this.#named.has(key)) continue;
      const [namespace, name] = key.split("/");
      const watcher = new Watcher<SecretObject>(this.#client, {
        resource: resources.secrets,
        namespace,
        fieldSelector: `metadata.name=${name}`,
        log: this.#log,
      });
      watcher.addHandler(this.#dispatch);
      this.#named.set(key, watcher);
      watcher.start();
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all([this.owned, ...this.#named.values()].map((watcher) => watcher.stop()));
    this.#named.clear();
  }

  // Every handler hears every event, as from a Watcher; the first throw goes on to the watcher,
  // which logs and counts it.
  readonly #dispatch: WatchHandler<SecretObject> = (event) => {
    let thrown: { readonly error: unknown } | undefined;
    for (const handler of this.#handlers) {
      try {
        handler(event);
      } catch (error) {
        thrown ??= { error };
      }
    }
    if (thrown) throw thrown.error;
  };
}
