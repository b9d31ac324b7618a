// The Secrets the operator reads for TLS, and nothing else: its own by label, the user's by name.
//
// One watch selects the Secrets the operator labels (`app.kubernetes.io/name=etcd`); each Secret a
// cluster names in `spec.tls.*.userProvided` gets a watch of its own (a field selector on its
// name), started when a cluster names it and stopped when none does. No other Secret is cached.
import type { KubeObject } from "../k8s/objects.ts";
import { resources } from "../k8s/resources.ts";
import type { StoreReader } from "../k8s/store.ts";
import { type WatchClient, Watcher, type WatcherEvent } from "../k8s/watch.ts";
import type { Log } from "../k8s/log.ts";
import { ownedSelector } from "./member.ts";
import { resolveTLS } from "./tls/settings.ts";
import { userProvidedSecretNames } from "./tls/observe.ts";
import type { EtcdClusterObject, SecretObject } from "./types.ts";

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

export class TLSSecretWatches {
  readonly owned: Watcher<SecretObject>;
  readonly #named = new Map<string, Watcher<SecretObject>>();
  readonly #client: WatchClient;
  readonly #log: Log;
  readonly #onEvent: (event: WatcherEvent<SecretObject>) => void;
  #stopped = false;

  constructor(
    client: WatchClient,
    namespace: string | undefined,
    log: Log,
    onEvent: (event: WatcherEvent<SecretObject>) => void,
  ) {
    this.#client = client;
    this.#log = log;
    this.#onEvent = onEvent;
    this.owned = new Watcher<SecretObject>(client, {
      resource: resources.secrets,
      namespace,
      labelSelector: ownedSelector,
      log,
    });
    this.owned.addHandler(onEvent);
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
      watcher.addHandler(this.#onEvent);
      this.#named.set(key, watcher);
      watcher.start();
    }
  }

  watchers(): Watcher<KubeObject>[] {
    return [this.owned, ...this.#named.values()] as Watcher<KubeObject>[];
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all([this.owned, ...this.#named.values()].map((watcher) => watcher.stop()));
    this.#named.clear();
  }
}
