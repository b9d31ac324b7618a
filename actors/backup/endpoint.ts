// Where the operator dials a backup's spec.source.clusterURL: as written in the cluster, or, from
// outside it, the pod IP behind a member's (or the cluster's) service DNS name. Pure.
import type { EndpointMode } from "../cluster/observe.ts";
import type { PodObject } from "../types.ts";
import { clusterLabel, peerLabel } from "../member.ts";

export type SnapshotEndpoint =
  /**
   * Dial this URL: `clusterURL` itself, or with a pod IP in place of its host; `target`: the
   * member or cluster of ours it names (whose certificates a TLS dial uses).
   */
  | { readonly kind: "dial"; readonly url: string; readonly target?: NamedTarget }
  /** The URL names a member or cluster of ours, but no running pod backs it. */
  | { readonly kind: "noPod"; readonly message: string };

export interface NamedTarget {
  readonly namespace: string;
  readonly clusterName: string;
  readonly peerName?: string;
}

/**
 * Inside the cluster `clusterURL` resolves as it is. Outside (`podIP` mode) a `.svc` name does
 * not, so `<peer>.<cluster>[.<ns>[.svc[.<domain>]]]` becomes that member's pod IP and
 * `<cluster>[-client][.<ns>[.svc[.<domain>]]]` (its services) the IP of its first running member,
 * as the cluster actor reaches members. Other `.svc` names are reported, never looked up; anything
 * else (an IP, another host) is dialled as given.
 */
export function snapshotEndpoint(
  mode: EndpointMode,
  clusterURL: string,
  backupNamespace: string,
  pods: readonly PodObject[],
): SnapshotEndpoint {
  let url: URL;
  try {
    url = new URL(clusterURL);
  } catch {
    return { kind: "dial", url: clusterURL };
  }
  if (mode === "dns") {
    const target = namedTargets(url.hostname, backupNamespace)
      .find((candidate) => candidatesFor(candidate, pods).length > 0);
    return { kind: "dial", url: clusterURL, ...(target ? { target } : {}) };
  }
  const running = pods.filter((pod) => !pod.metadata.deletionTimestamp && pod.status?.podIP);
  for (const target of namedTargets(url.hostname, backupNamespace)) {
    const candidates = candidatesFor(target, pods);
    if (candidates.length === 0) continue;
    const pod = candidatesFor(target, running)[0];
    if (!pod) {
      const what = target.peerName
        ? `member ${target.peerName}`
        : `any member of cluster ${target.clusterName}`;
      return {
        kind: "noPod",
        message: `no running pod with an IP for ${what} in namespace ${target.namespace}`,
      };
    }
    return { kind: "dial", url: withHost(url, pod.status?.podIP ?? ""), target };
  }
  // Outside the cluster the host's resolver knows no cluster names; asking it would only send the
  // query off the machine, so an unmapped one is reported instead.
  if (/(^|\.)svc(\.|$)/.test(url.hostname)) {
    return {
      kind: "noPod",
      message:
        `${url.hostname} is a cluster-internal name and no running member of an etcd cluster backs it`,
    };
  }
  return { kind: "dial", url: clusterURL };
}

/** The readings of a host name, most specific first: a member before a cluster's service. */
function namedTargets(hostname: string, backupNamespace: string): NamedTarget[] {
  if (/^[0-9.]+$/.test(hostname) || hostname.startsWith("[")) return [];
  const labels = hostname.toLowerCase().replace(/\.$/, "").split(".");
  const member = (peerName: string, clusterName: string, namespace: string) => ({
    namespace,
    clusterName,
    peerName,
  });
  // The headless service is named after the cluster, the client service `<cluster>-client`.
  const service = (name: string, namespace: string): NamedTarget[] => [
    { namespace, clusterName: name },
    ...(name.endsWith("-client") ? [{ namespace, clusterName: name.slice(0, -7) }] : []),
  ];
  const svc = labels.indexOf("svc");
  if (svc >= 0) {
    // <…>.svc.<cluster domain>: fully qualified, the namespace is the label before "svc".
    if (svc === 3) return [member(labels[0], labels[1], labels[2])];
    if (svc === 2) return service(labels[0], labels[1]);
    return [];
  }
  // Without "svc" the name is relative to the backup's namespace, as in-cluster DNS search is.
  switch (labels.length) {
    case 1:
      return service(labels[0], backupNamespace);
    case 2:
      return [member(labels[0], labels[1], backupNamespace), ...service(labels[0], labels[1])];
    case 3:
      return [member(labels[0], labels[1], labels[2])];
    default:
      return [];
  }
}

function candidatesFor(target: NamedTarget, pods: readonly PodObject[]): PodObject[] {
  return pods
    .filter((pod) =>
      pod.metadata.namespace === target.namespace &&
      pod.metadata.labels?.[clusterLabel] === target.clusterName &&
      (target.peerName === undefined || pod.metadata.labels?.[peerLabel] === target.peerName)
    )
    .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name, "en", { numeric: true }));
}

function withHost(url: URL, ip: string): string {
  const mapped = new URL(url.href);
  mapped.hostname = ip.includes(":") ? `[${ip}]` : ip;
  return mapped.href.replace(/\/$/, "");
}
