// Where the operator dials a backup's spec.source.clusterURL: a running member pod in the backup's
// own namespace, by its IP or through a port-forward, or (only when the administrator allowed
// external sources) the URL. Pure.
import type { PodObject } from "../types.ts";
import { clusterLabel, peerLabel } from "../member.ts";
import { type EndpointMode, type PodRef, podRoute } from "../member_access.ts";
import {
  judgeBackupSource,
  type SourceReading,
  type TenancyRefusal,
  type TenancySettings,
} from "../tenancy.ts";

export type SnapshotEndpoint =
  /**
   * Dial this URL: a member pod's IP in place of the host, or an allowed external URL; `target`:
   * the member or cluster of ours it names (whose certificates a TLS dial uses).
   */
  | { readonly kind: "dial"; readonly url: string; readonly target?: NamedTarget }
  /** Reach `port` of this pod through the API server's port-forward. */
  | {
    readonly kind: "forward";
    readonly pod: PodRef;
    readonly port: number;
    readonly target: NamedTarget;
  }
  /** The URL names a member or cluster of this namespace, but no running pod backs it. */
  | { readonly kind: "noPod"; readonly message: string }
  /** Outside the backup's namespace (actors/tenancy.ts): nothing is dialled. */
  | TenancyRefusal;

export interface NamedTarget {
  readonly namespace: string;
  readonly clusterName: string;
  readonly peerName?: string;
}

/**
 * In-cluster or not, a name of ours is dialled as the IP of a pod seen in the backup's namespace
 * with that cluster's (and member's) labels, never by asking DNS: a Service, ExternalName or
 * Endpoints that a tenant made could point a name anywhere. Pods on the host network are not
 * members (the operator never makes them) and their IP is a node's, so they are never dialled.
 */
export function snapshotEndpoint(
  mode: EndpointMode,
  clusterURL: string,
  backupNamespace: string,
  pods: readonly PodObject[],
  settings: TenancySettings,
): SnapshotEndpoint {
  const judged = judgeBackupSource(clusterURL, backupNamespace, settings);
  if (judged.kind === "refused") return judged;
  if (judged.kind === "external") return { kind: "dial", url: clusterURL };
  const members = pods.filter((pod) =>
    pod.metadata.namespace === backupNamespace && !pod.spec?.hostNetwork
  );
  const running = members.filter((pod) => !pod.metadata.deletionTimestamp && pod.status?.podIP);
  for (const reading of judged.readings) {
    if (candidatesFor(reading, members).length === 0) continue;
    const pod = candidatesFor(reading, running)[0];
    if (!pod) {
      const what = reading.peerName
        ? `member ${reading.peerName}`
        : `any member of cluster ${reading.clusterName}`;
      return {
        kind: "noPod",
        message: `no running pod with an IP for ${what} in namespace ${backupNamespace}`,
      };
    }
    const url = new URL(clusterURL);
    const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
    const route = podRoute(mode, pod, url, port);
    if (!route) continue;
    const target: NamedTarget = {
      namespace: backupNamespace,
      clusterName: reading.clusterName,
      ...(reading.peerName === undefined ? {} : { peerName: reading.peerName }),
    };
    return route.kind === "url" ? { kind: "dial", url: route.url, target } : { ...route, target };
  }
  const names = judged.readings.map((reading) =>
    reading.peerName
      ? `member ${reading.peerName} of cluster ${reading.clusterName}`
      : `cluster ${reading.clusterName}`
  ).join(" or ");
  return {
    kind: "noPod",
    message: `there is no pod of ${names} in namespace ${backupNamespace} (a backup reads only ` +
      `etcd clusters in its own namespace)`,
  };
}

function candidatesFor(reading: SourceReading, pods: readonly PodObject[]): PodObject[] {
  return pods
    .filter((pod) =>
      pod.metadata.labels?.[clusterLabel] === reading.clusterName &&
      (reading.peerName === undefined || pod.metadata.labels?.[peerLabel] === reading.peerName)
    )
    .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name, "en", { numeric: true }));
}
