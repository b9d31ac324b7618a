// How the operator reaches a member's client port: the one place that decides it. Pure.
//
// The operator dials a member pod's IP, never its DNS name: a name resolves through Services and
// Endpoints that anyone with rights in the namespace can make (a tenant's hand-made Endpoints
// would steer the operator's membership changes to another namespace's etcd), while a pod IP is
// what the operator saw on a pod carrying the member's labels. Inside the cluster pod IPs route;
// outside, the operator dials them when this machine routes them (a node, the local test
// cluster), and otherwise goes through the API server's pod port-forward (a laptop against kind
// or a remote cluster). The effects (the
// reachability probe, the loopback listeners) live in member_dialer.ts and k8s/portforward.ts.
import { clientPort, clientURL, peerLabel } from "./member.ts";
import type { PodObject } from "./types.ts";

/** `--member-access`: what the user asked for. */
export type MemberAccessFlag = "auto" | "direct" | "port-forward";
export const memberAccessFlags: readonly MemberAccessFlag[] = ["auto", "direct", "port-forward"];

export function isMemberAccessFlag(value: string): value is MemberAccessFlag {
  return (memberAccessFlags as readonly string[]).includes(value);
}

/** What the operator does: dial pod IPs, or port-forward through the API server. */
export type EndpointMode = "podIP" | "portForward";

/** How a TCP connect to a pod IP ended. A refusal came from the pod's host: the IP is routed. */
export type ProbeOutcome = "connected" | "refused" | "timedOut" | "noRoute";

export interface AccessFacts {
  readonly flag: MemberAccessFlag;
  /** The process runs in a pod (KUBERNETES_SERVICE_HOST is set). */
  readonly inCluster: boolean;
  /** The probe of one pod IP, when one was made; "noTarget" when no pod had an IP to probe. */
  readonly probe?: ProbeOutcome | "noTarget";
}

export type AccessDecision =
  | { readonly kind: "decided"; readonly mode: EndpointMode; readonly reason: string }
  /** Outside the cluster in auto mode: probe a pod IP first, then decide again with the outcome. */
  | { readonly kind: "probe" };

export function decideAccess(facts: AccessFacts): AccessDecision {
  const decided = (mode: EndpointMode, reason: string): AccessDecision => ({
    kind: "decided",
    mode,
    reason,
  });
  if (facts.flag === "port-forward") return decided("portForward", "--member-access=port-forward");
  if (facts.inCluster) return decided("podIP", "running in a pod: pod IPs route");
  if (facts.flag === "direct") return decided("podIP", "--member-access=direct outside a pod");
  switch (facts.probe) {
    case undefined:
      return { kind: "probe" };
    case "connected":
    case "refused":
      return decided("podIP", `a pod IP answered the probe (${facts.probe})`);
    case "timedOut":
    case "noRoute":
      return decided("portForward", `pod IPs are not reachable from here (${facts.probe})`);
    case "noTarget":
      return decided("portForward", "no pod IP to probe; port-forward works from anywhere");
  }
}

/**
 * The pod IP to probe: a member's pod if there is one, else any pod on the pod network (a pod
 * with host networking has a node's IP, which says nothing about pod routes). Undefined when no
 * pod has an IP yet; the caller then port-forwards, which works from anywhere.
 */
export function probeTarget(pods: readonly PodObject[]): string | undefined {
  const candidates = pods.filter((pod) =>
    pod.status?.podIP && !pod.metadata.deletionTimestamp && !pod.spec?.hostNetwork
  );
  const member = candidates.find((pod) => pod.metadata.labels?.[peerLabel] !== undefined);
  return (member ?? candidates[0])?.status?.podIP;
}

/** One pod incarnation: a forward opened for it never follows its name to a replacement. */
export interface PodRef {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

export type MemberRoute =
  /** Dial this URL as it is. */
  | { readonly kind: "url"; readonly url: string }
  /** Reach `port` of this pod through the API server. */
  | { readonly kind: "forward"; readonly pod: PodRef; readonly port: number };

/** The member's pod: the one with its peer label that is not going away and has an IP. */
export function memberPod(peerName: string, pods: readonly PodObject[]): PodObject | undefined {
  return pods.find((candidate) =>
    candidate.metadata.labels?.[peerLabel] === peerName &&
    !candidate.metadata.deletionTimestamp && candidate.status?.podIP
  );
}

/** How to reach `port` of a pod in a pod-based mode. */
export function podRoute(
  mode: "podIP" | "portForward",
  pod: PodObject,
  url: URL,
  port: number,
): MemberRoute | undefined {
  const ip = pod.status?.podIP;
  if (!ip) return undefined;
  if (mode === "portForward") {
    const { namespace, name, uid } = pod.metadata;
    return { kind: "forward", pod: { namespace, name, uid }, port };
  }
  return { kind: "url", url: withAuthority(url, ip.includes(":") ? `[${ip}]` : ip, port) };
}

/** How to reach the client port of a peer's member; undefined while no pod backs it. */
export function memberRoute(
  mode: EndpointMode,
  namespace: string,
  clusterName: string,
  peerName: string,
  pods: readonly PodObject[],
): MemberRoute | undefined {
  const advertised = clientURL(clusterName, namespace, peerName);
  const pod = memberPod(peerName, pods);
  return pod ? podRoute(mode, pod, new URL(advertised), clientPort) : undefined;
}

/** `url` with another host and port, without a trailing slash (etcd3 takes `http://host:port`). */
export function withAuthority(url: URL, host: string, port: number): string {
  const mapped = new URL(url.href);
  mapped.hostname = host;
  mapped.port = String(port);
  return mapped.href.replace(/\/$/, "");
}

/** Forwards whose pod is no longer among the live ones: their listeners and sockets close. */
export function staleForwards(
  open: Iterable<PodRef>,
  livePodUids: ReadonlySet<string>,
): PodRef[] {
  return [...open].filter((pod) => !livePodUids.has(pod.uid));
}

/**
 * The uids of pods a forward may still be used for: every pod still there, terminating ones too
 * (a member stopping gracefully may still be streaming a snapshot or handing over leadership).
 */
export function livePodUids(pods: readonly PodObject[]): Set<string> {
  return new Set(pods.map((pod) => pod.metadata.uid));
}
