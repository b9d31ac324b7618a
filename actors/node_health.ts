// Whether the node a member's pod is bound to still runs it. Pure.
//
// A node whose kubelet stopped reporting (Ready Unknown) or reports itself unfit (Ready False)
// no longer runs its pods, whatever their status still says. Its members' volumes are usually
// local to it, so the pods cannot move either; after a grace period such a member is replaced.
// Its pods never finish terminating (no kubelet confirms it), and a terminating pod keeps its
// volume claim in use: once the member is out of etcd, they are deleted without waiting.
import type { NodeObject, PodObject } from "./types.ts";

export interface NodeState {
  readonly name: string;
  readonly ready: boolean;
  /** When Ready last changed; undefined if the node never reported one. */
  readonly sinceMs?: number;
  /** Ready's status and reason, as the node-lifecycle controller or kubelet wrote them. */
  readonly detail: string;
}

export function nodeState(node: NodeObject): NodeState {
  const ready = node.status?.conditions?.find((condition) => condition.type === "Ready");
  const since = Date.parse(ready?.lastTransitionTime ?? "");
  return {
    name: node.metadata.name ?? "",
    ready: ready?.status === "True",
    ...(Number.isFinite(since) ? { sinceMs: since } : {}),
    detail: ready ? `Ready=${ready.status}${ready.reason ? ` (${ready.reason})` : ""}` : "no Ready",
  };
}

/**
 * The pods to delete at once (grace period 0) when their member leaves: those bound to a node
 * that is not ready, whose kubelet would otherwise never let them go. A node that is missing from
 * the cache is not judged: the pod garbage collector handles pods of deleted nodes.
 */
export function podsToForceDelete(
  pods: readonly PodObject[],
  nodeOf: (name: string) => NodeState | undefined,
): PodObject[] {
  return pods.filter((pod) => {
    const nodeName = pod.spec?.nodeName;
    if (!nodeName) return false;
    const node = nodeOf(nodeName);
    return node !== undefined && !node.ready;
  });
}
