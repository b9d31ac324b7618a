// Reaction latency: from a spec change to the operator's status.observedGeneration, seen on a watch.
import { type Api, type EtcdCluster, type ObjectList, paths } from "./kube.ts";

interface Observed {
  readonly generation: number;
  /** performance.now() when the bench first saw this observedGeneration. */
  readonly at: number;
}

interface Waiter {
  readonly generation: number;
  readonly resolve: (at: number) => void;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Follows status.observedGeneration of every cluster in a namespace until stopped. */
export class GenerationWatch {
  private readonly observed = new Map<string, Observed>();
  private readonly waiters = new Map<string, Waiter>();
  private readonly abort = new AbortController();
  private resourceVersion = "";
  private loop: Promise<void> = Promise.resolve();

  private constructor(private readonly api: Api, private readonly namespace: string) {}

  static async start(api: Api, namespace: string): Promise<GenerationWatch> {
    const watch = new GenerationWatch(api, namespace);
    await watch.relist();
    watch.loop = watch.follow();
    return watch;
  }

  /** When the cluster's status first showed `generation`; undefined if not within `timeoutMs`. */
  waitFor(name: string, generation: number, timeoutMs: number): Promise<number | undefined> {
    const seen = this.observed.get(name);
    if (seen && seen.generation >= generation) return Promise.resolve(seen.at);
    const { promise, resolve } = Promise.withResolvers<number | undefined>();
    const timer = setTimeout(() => {
      this.waiters.delete(name);
      resolve(undefined);
    }, timeoutMs);
    this.waiters.set(name, {
      generation,
      resolve: (at) => {
        clearTimeout(timer);
        resolve(at);
      },
    });
    return promise;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  private see(cluster: EtcdCluster): void {
    const name = cluster.metadata.name;
    const generation = cluster.status?.observedGeneration ?? 0;
    if ((this.observed.get(name)?.generation ?? -1) >= generation) return;
    const at = performance.now();
    this.observed.set(name, { generation, at });
    const waiter = this.waiters.get(name);
    if (waiter && generation >= waiter.generation) {
      this.waiters.delete(name);
      waiter.resolve(at);
    }
  }

  private async relist(): Promise<void> {
    const list = await this.api.read<ObjectList<EtcdCluster>>(paths.clusters(this.namespace));
    list.items.forEach((cluster) => this.see(cluster));
    this.resourceVersion = list.metadata.resourceVersion;
  }

  /** Watches from the last resourceVersion; relists after an expired watch or an error. */
  private async follow(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      try {
        const events = this.api.watch<EtcdCluster>(
          paths.clusters(this.namespace),
          this.resourceVersion,
          signal,
        );
        for await (const event of events) {
          if (event.type === "ERROR") throw new Error(JSON.stringify(event.object));
          this.resourceVersion = event.object.metadata.resourceVersion ?? this.resourceVersion;
          if (event.type === "ADDED" || event.type === "MODIFIED") this.see(event.object);
        }
      } catch (error) {
        if (signal.aborted) return;
        console.error(`watch of EtcdClusters restarts: ${error}`);
        await sleep(1_000);
        await this.relist().catch(() => {});
      }
    }
  }
}

export interface ReactionResult {
  /** Milliseconds from sending the patch to seeing the new observedGeneration, per change. */
  readonly latenciesMs: readonly number[];
  /** Changes the operator did not answer within the timeout. */
  readonly timedOut: number;
}

/**
 * Merge-patches `spec` into each named cluster, one after the other, and times the operator's
 * answer. The clock starts before the patch is sent, so the patch's own round trip (a few ms
 * on loopback) is counted against the operator, never in its favour.
 */
export async function measureReaction(
  api: Api,
  namespace: string,
  options: {
    names: readonly string[];
    spec: Readonly<Record<string, unknown>>;
    timeoutMs: number;
    gapMs: number;
  },
): Promise<ReactionResult> {
  const watch = await GenerationWatch.start(api, namespace);
  const latenciesMs: number[] = [];
  let timedOut = 0;
  try {
    for (const name of options.names) {
      const sent = performance.now();
      const patched = await api.mergePatch<EtcdCluster>(paths.cluster(namespace, name), {
        spec: options.spec,
      });
      const at = await watch.waitFor(name, patched.metadata.generation ?? 0, options.timeoutMs);
      if (at === undefined) timedOut++;
      else latenciesMs.push(at - sent);
      await sleep(options.gapMs);
    }
  } finally {
    await watch.stop();
  }
  return { latenciesMs, timedOut };
}

/** `count` names spread evenly over `names` (every one when there are fewer). */
export function spread(names: readonly string[], count: number): string[] {
  if (names.length <= count) return [...names];
  return Array.from({ length: count }, (_, i) => names[Math.floor((i * names.length) / count)]);
}

export function combine(results: readonly ReactionResult[]): ReactionResult {
  return {
    latenciesMs: results.flatMap((result) => result.latenciesMs),
    timedOut: results.reduce((sum, result) => sum + result.timedOut, 0),
  };
}
