// An application writing to a cluster through its client Service, counting what fails or is lost.
import { type ClientTLS, EtcdClient } from "../../../etcd/client.ts";
import { kubectlOk } from "./cluster.ts";

export interface WriterResult {
  readonly acknowledged: readonly string[];
  /** Writes not acknowledged within 10 s despite retrying. */
  readonly failed: number;
  readonly attempts: number;
  readonly reconnects: number;
  /** Connections replaced because the TLS Secret changed. */
  readonly reloads?: number;
  /** Writes started per second. */
  readonly rate: number;
  /** Acknowledged keys that a read at the end does not find. */
  readonly missing: readonly string[];
}

/** A TLS writer: its material now, and how to read the Secret again (polled every second). */
export interface WriterTLS {
  readonly tls?: {
    readonly initial: ClientTLS;
    readonly read: () => Promise<ClientTLS>;
  };
}

export interface Writer {
  stop(): Promise<WriterResult>;
}

/** The ClusterIP of `<cluster>-client`, the Service applications use. */
export async function clientServiceIP(namespace: string, clusterName: string): Promise<string> {
  return (await kubectlOk([
    "get",
    "service",
    "-n",
    namespace,
    `${clusterName}-client`,
    "-o",
    "jsonpath={.spec.clusterIP}",
  ])).trim();
}

/**
 * Puts keys at a steady rate through the client Service; a write counts as failed only if it is
 * not acknowledged within 10 s despite retrying, as an application's client would. After a
 * failure the writer reconnects: a connection to a pod that was replaced can hang silently (its
 * address is gone, so nothing answers, not even a reset), and a new one reaches a live member.
 */
export function startWriter(
  serviceIP: string,
  writesPerSecond: number,
  options: WriterTLS = {},
): Writer {
  let material = options.tls?.initial;
  const connect = () =>
    new EtcdClient([`${material ? "https" : "http"}://${serviceIP}:2379`], {
      callTimeoutMs: 2_000,
      ...(material ? { tls: material } : {}),
    });
  let client = connect();
  let generation = 0;
  const retired: EtcdClient[] = [];
  const acknowledged: string[] = [];
  let failed = 0;
  let attempts = 0;
  const inFlight = new Set<Promise<void>>();
  const write = async (key: string) => {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      attempts++;
      const used = generation;
      try {
        await client.etcd.put(key).value(key);
        acknowledged.push(key);
        return;
      } catch {
        if (used === generation) {
          retired.push(client);
          client = connect();
          generation++;
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    failed++;
  };
  // As an application that watches its mounted Secret: new material, a new connection (the old
  // one finishes its writes in flight). Rotations rely on applications doing this.
  let reloading = false;
  const reload = options.tls && setInterval(async () => {
    if (reloading) return;
    reloading = true;
    try {
      const next = await options.tls!.read();
      if (next.cert !== material?.cert || next.ca !== material?.ca) {
        material = next;
        retired.push(client);
        client = connect();
        generation++;
        reloads++;
      }
    } catch {
      // Read again on the next tick.
    } finally {
      reloading = false;
    }
  }, 1_000);
  let reloads = 0;
  let index = 0;
  const timer = setInterval(() => {
    const promise = write(`u-${String(index++).padStart(7, "0")}`);
    inFlight.add(promise);
    promise.finally(() => inFlight.delete(promise));
  }, 1000 / writesPerSecond);
  const started = Date.now();
  return {
    async stop() {
      clearInterval(timer);
      if (reload) clearInterval(reload);
      await Promise.all(inFlight);
      const seconds = (Date.now() - started) / 1000;
      let stored: Set<string>;
      try {
        stored = new Set(await client.etcd.getAll().prefix("u-").keys());
      } finally {
        for (const old of [...retired, client]) old.close();
      }
      return {
        acknowledged,
        failed,
        attempts,
        reconnects: generation - reloads,
        reloads,
        rate: index / seconds,
        missing: acknowledged.filter((key) => !stored.has(key)),
      };
    },
  };
}

/** The writer's keys a client reads now through the Service (throws if etcd cannot answer). */
export async function storedKeys(serviceIP: string): Promise<Set<string>> {
  const client = new EtcdClient([`http://${serviceIP}:2379`], { callTimeoutMs: 5_000 });
  try {
    return new Set(await client.etcd.getAll().prefix("u-").keys());
  } finally {
    client.close();
  }
}

/** One write through the Service; true once etcd acknowledged it. */
export async function writeOnce(serviceIP: string, key: string): Promise<boolean> {
  const client = new EtcdClient([`http://${serviceIP}:2379`], { callTimeoutMs: 2_000 });
  try {
    await client.etcd.put(key).value(key);
    return true;
  } catch {
    return false;
  } finally {
    client.close();
  }
}
