// How many more one-member etcd pods the nodes can take, by their allocatable pods, memory and CPU.
import { type Api, type ObjectList, paths } from "./kube.ts";

interface ResourceList {
  readonly cpu?: string;
  readonly memory?: string;
  readonly pods?: string;
}

interface Node {
  readonly metadata: { readonly name: string };
  readonly status: { readonly allocatable: ResourceList };
}

interface Pod {
  readonly spec: {
    readonly containers: readonly { readonly resources?: { readonly requests?: ResourceList } }[];
  };
}

const suffixes: Readonly<Record<string, number>> = {
  m: 1e-3,
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
};

/** A Kubernetes quantity ("64Mi", "100m", "2") as a plain number (bytes, cores, count). */
export function quantity(text: string | undefined): number {
  if (!text) return 0;
  const match = /^([0-9.]+(?:e[0-9]+)?)([a-zA-Z]*)$/.exec(text);
  const factor = match ? suffixes[match[2]] : undefined;
  if (!match || factor === undefined) throw new Error(`unreadable quantity ${text}`);
  return Number(match[1]) * factor;
}

export interface Capacity {
  /** The nodes counted, by name. */
  readonly node: string;
  /** How many more members fit, and what limits each count (summed over the nodes). */
  readonly fits: number;
  readonly byPods: number;
  readonly byMemory: number;
  readonly byCpu: number;
}

const floor = (value: number) => Math.max(0, Math.floor(value));

async function oneNodeCapacity(
  api: Api,
  node: Node,
  perMember: { cpuMillis: number; memoryBytes: number },
): Promise<Capacity> {
  const selector = encodeURIComponent(
    `spec.nodeName=${node.metadata.name},status.phase!=Succeeded,status.phase!=Failed`,
  );
  const pods = await api.read<ObjectList<Pod>>(`${paths.pods()}?fieldSelector=${selector}`);
  const requested = (resource: "cpu" | "memory") =>
    pods.items.flatMap((pod) => pod.spec.containers)
      .reduce((total, container) => total + quantity(container.resources?.requests?.[resource]), 0);
  const allocatable = node.status.allocatable;
  const byPods = quantity(allocatable.pods) - pods.items.length;
  const byMemory = (quantity(allocatable.memory) - requested("memory")) / perMember.memoryBytes;
  const byCpu = (quantity(allocatable.cpu) - requested("cpu")) / (perMember.cpuMillis / 1000);
  return {
    node: node.metadata.name,
    fits: floor(Math.min(byPods, byMemory, byCpu)),
    byPods: floor(byPods),
    byMemory: floor(byMemory),
    byCpu: floor(byCpu),
  };
}

/**
 * Free room for members that each request `perMember`, over every node: a member fits on one
 * node, so each node's room is counted in whole members before they are added up.
 */
export async function nodeCapacity(
  api: Api,
  perMember: { cpuMillis: number; memoryBytes: number },
): Promise<Capacity> {
  const nodes = await api.read<ObjectList<Node>>(paths.nodes);
  if (nodes.items.length === 0) throw new Error("the cluster has no nodes");
  const each = await Promise.all(nodes.items.map((node) => oneNodeCapacity(api, node, perMember)));
  const sum = (pick: (capacity: Capacity) => number) =>
    each.reduce((total, capacity) => total + pick(capacity), 0);
  return {
    node: each.map((capacity) => capacity.node).join(", "),
    fits: sum((capacity) => capacity.fits),
    byPods: sum((capacity) => capacity.byPods),
    byMemory: sum((capacity) => capacity.byMemory),
    byCpu: sum((capacity) => capacity.byCpu),
  };
}
