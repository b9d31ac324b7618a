// EtcdClusters for the load bench: made from the sample, created in batches, awaited until quiet.
import { parse } from "yaml";
import { type Api, condition, type EtcdCluster, type ObjectList, paths } from "./kube.ts";

const sample = await Deno.readTextFile(
  new URL("../../config/samples/etcd_v1alpha1_etcdcluster.yaml", import.meta.url),
);

/**
 * What each member asks the scheduler for. The sample asks 200m CPU, which would fit ten
 * members on two cores; an idle etcd needs a fraction of that, and the bench measures the
 * operator, not etcd.
 */
export const memberRequests = { cpuMillis: 10, memoryBytes: 64 * 1024 ** 2 };
const memberResources = {
  requests: { cpu: `${memberRequests.cpuMillis}m`, memory: "64Mi" },
  limits: { memory: "256Mi" },
};

/** The sample EtcdCluster renamed, with `replicas`, `version` and the bench's small requests. */
export function clusterManifest(
  namespace: string,
  name: string,
  replicas: number,
  version: string,
): Record<string, unknown> {
  // The sample's anti-affinity names its own cluster; it has to name this one.
  const renamed = JSON.parse(JSON.stringify(parse(sample)).replaceAll('"my-cluster"', `"${name}"`));
  renamed.metadata = { name, namespace };
  renamed.spec.replicas = replicas;
  renamed.spec.version = version;
  renamed.spec.podTemplate.resources = memberResources;
  return renamed;
}

export async function listClusters(api: Api, namespace: string): Promise<EtcdCluster[]> {
  const list = await api.read<ObjectList<EtcdCluster>>(paths.clusters(namespace));
  return [...list.items];
}

/** Settled: available, status written for the current spec, and no step in progress. */
export function settled(cluster: EtcdCluster): boolean {
  return condition(cluster, "Available")?.status === "True" &&
    condition(cluster, "Progressing")?.status !== "True" &&
    cluster.status?.observedGeneration === cluster.metadata.generation;
}

function describeUnsettled(clusters: readonly EtcdCluster[]): string {
  const unsettled = clusters.filter((cluster) => !settled(cluster));
  return unsettled.slice(0, 5).map((cluster) => {
    const available = condition(cluster, "Available");
    const progressing = condition(cluster, "Progressing");
    return `${cluster.metadata.name}: Available=${available?.status ?? "-"} ` +
      `(${available?.message ?? "no status"}), Progressing=${progressing?.status ?? "-"} ` +
      `(${progressing?.message ?? ""})`;
  }).join("; ") + (unsettled.length > 5 ? `; … ${unsettled.length - 5} more` : "");
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits until `expected` clusters exist and all are settled; with `quiet`, also until no cluster
 * object changed between two polls 5 s apart (the operator has stopped writing status).
 */
export async function waitSettled(
  api: Api,
  namespace: string,
  options: { expected: number; quiet: boolean; timeoutSeconds: number; isAlive: () => boolean },
): Promise<void> {
  const deadline = Date.now() + options.timeoutSeconds * 1000;
  let previous = "";
  let clusters: EtcdCluster[] = [];
  while (Date.now() < deadline) {
    if (!options.isAlive()) throw new Error("the operator exited while clusters were settling");
    clusters = await listClusters(api, namespace);
    const versions = clusters.map((cluster) => cluster.metadata.resourceVersion).join(",");
    const allSettled = clusters.length === options.expected && clusters.every(settled);
    if (allSettled && (!options.quiet || versions === previous)) return;
    previous = allSettled ? versions : "";
    await sleep(5_000);
  }
  const ready = clusters.filter(settled).length;
  throw new Error(
    `${ready} of ${options.expected} clusters settled after ${options.timeoutSeconds} s: ` +
      describeUnsettled(clusters),
  );
}

/**
 * Creates clusters `<prefix>-<from>` … `<prefix>-<to - 1>`, `batch` at a time, waiting for each
 * batch to become available before the next, so two cores are never asked to start 100 etcds.
 */
export async function createClusters(
  api: Api,
  namespace: string,
  options: {
    prefix: string;
    from: number;
    to: number;
    batch: number;
    replicas: number;
    version: string;
    timeoutSeconds: number;
    isAlive: () => boolean;
    progress: (message: string) => void;
  },
): Promise<void> {
  for (let start = options.from; start < options.to; start += options.batch) {
    const end = Math.min(options.to, start + options.batch);
    for (let index = start; index < end; index++) {
      const name = `${options.prefix}-${index}`;
      await api.create(
        paths.clusters(namespace),
        clusterManifest(namespace, name, options.replicas, options.version),
      );
    }
    await waitSettled(api, namespace, {
      expected: end,
      quiet: false,
      timeoutSeconds: options.timeoutSeconds,
      isAlive: options.isAlive,
    });
    options.progress(`${end} clusters available`);
  }
}
