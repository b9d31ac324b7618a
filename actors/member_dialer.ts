// The effects behind member_access.ts: the reachability probe, and turning a route into a URL
// (for a port-forward, the loopback listener that k8s/portforward.ts keeps for the pod).
import type { KubeClient } from "../k8s/client.ts";
import { type ForwardCounts, type ForwardTransport, PortForwarder } from "../k8s/portforward.ts";
import { resources } from "../k8s/resources.ts";
import type { Logger } from "../observability/log.ts";
import type { URLScheme } from "./member.ts";
import {
  type AccessFacts,
  decideAccess,
  type EndpointMode,
  livePodUids,
  type MemberAccessFlag,
  type MemberRoute,
  memberRoute,
  type ProbeOutcome,
  probeTarget,
  staleForwards,
} from "./member_access.ts";
import { clientPort, ownedSelector } from "./member.ts";
import type { PodObject } from "./types.ts";

/** What the actors hold: the mode (read on every use: it may be decided late) and a way to dial. */
export interface MemberAccess {
  readonly mode: EndpointMode;
  /** The URL that reaches `route` now (for a forward: opens its listener on first use). */
  urlOf(route: MemberRoute): string;
  /** The member pods as they are now, after any change: forwards to pods that are gone close. */
  retain(pods: readonly PodObject[]): void;
  close(): void;
}

/** Dialling pod IPs: nothing to open, nothing to close. */
export function directAccess(mode: "podIP" = "podIP"): MemberAccess {
  return {
    mode,
    urlOf: (route) => {
      if (route.kind === "url") return route.url;
      throw new Error(`a port-forward route in ${mode} mode`);
    },
    retain: () => {},
    close: () => {},
  };
}

/** Every member through the API server's port-forward, one loopback listener per pod port. */
export function forwardedAccess(forwarder: PortForwarder): MemberAccess {
  return {
    mode: "portForward",
    urlOf: (route) =>
      route.kind === "url"
        ? route.url
        : `http://127.0.0.1:${forwarder.localPort({ ...route.pod, port: route.port })}`,
    retain: (pods) => {
      const live = livePodUids(pods);
      for (const pod of staleForwards(forwarder.targets(), live)) forwarder.closePod(pod.uid);
    },
    close: () => forwarder.close(),
  };
}

/** The client URL of a peer's member; undefined while no pod backs it. */
export function memberClientEndpoint(
  access: MemberAccess,
  namespace: string,
  clusterName: string,
  peerName: string,
  pods: readonly PodObject[],
  scheme: URLScheme = "http",
): string | undefined {
  const route = memberRoute(access.mode, namespace, clusterName, peerName, pods);
  if (!route) return undefined;
  // A forward is a plain TCP tunnel: TLS runs through it as it would to the pod itself.
  const url = access.urlOf(route);
  return scheme === "https" ? url.replace(/^http:/, "https:") : url;
}

/** One TCP connect to `ip:port` with a deadline; a refusal proves the address is routed. */
export async function probeAddress(ip: string, port: number, timeoutMs: number) {
  const deadline = AbortSignal.timeout(timeoutMs);
  try {
    const conn = await Deno.connect({ hostname: ip, port, signal: deadline });
    conn.close();
    return "connected" as const;
  } catch (error) {
    if (error instanceof Deno.errors.ConnectionRefused) return "refused" as const;
    if (deadline.aborted || error instanceof Deno.errors.TimedOut) return "timedOut" as const;
    return "noRoute" as const;
  }
}

export interface ChooseOptions {
  readonly facts: Omit<AccessFacts, "probe">;
  /** Pods to pick a probe target from (listed once at start). */
  readonly listPods: () => Promise<readonly PodObject[]>;
  readonly probe?: (ip: string) => Promise<ProbeOutcome>;
  readonly probeTimeoutMs?: number;
}

/** Decides the mode at start, probing one pod IP when the decision needs it. */
export async function chooseEndpointMode(
  options: ChooseOptions,
): Promise<{
  readonly mode: EndpointMode;
  readonly reason: string;
  readonly probed?: ProbeOutcome | "noTarget";
}> {
  const first = decideAccess(options.facts);
  if (first.kind === "decided") return first;
  const target = probeTarget(await options.listPods());
  const probe = options.probe ??
    ((ip: string) => probeAddress(ip, clientPort, options.probeTimeoutMs ?? 2_000));
  const outcome = target === undefined ? "noTarget" : await probe(target);
  const second = decideAccess({ ...options.facts, probe: outcome });
  if (second.kind === "decided") return { ...second, probed: outcome };
  throw new Error("deciding member access after a probe asked for another probe");
}

/**
 * Auto mode outside a pod when no pod had an IP to probe at start (an empty cluster, or a
 * namespaced install before its first member): port-forward, which works from anywhere, until a
 * member pod has an IP, then probe that IP once and keep what the probe says for the rest of the
 * process. Deciding for ever at start sent every etcd call of a machine that routes pod IPs
 * through the API server.
 */
export function provisionalAccess(
  forwarded: MemberAccess,
  probe: (ip: string) => Promise<ProbeOutcome>,
  onDecided: (mode: EndpointMode, reason: string) => void,
): MemberAccess & { readonly decided: Promise<EndpointMode> } {
  let current: MemberAccess = forwarded;
  let probing = false;
  let settled = false;
  const { promise: decided, resolve } = Promise.withResolvers<EndpointMode>();
  const settle = (outcome: ProbeOutcome) => {
    const decision = decideAccess({ flag: "auto", inCluster: false, probe: outcome });
    const [mode, reason] = decision.kind === "decided"
      ? [decision.mode, decision.reason]
      : ["portForward" as const, "the probe decided nothing"];
    settled = true;
    if (mode === "podIP") {
      current = directAccess();
      forwarded.close();
    }
    onDecided(mode, reason);
    resolve(mode);
  };
  return {
    get mode() {
      return current.mode;
    },
    urlOf: (route) => current.urlOf(route),
    retain(pods) {
      current.retain(pods);
      if (settled || probing) return;
      const target = probeTarget(pods);
      if (target === undefined) return;
      probing = true;
      probe(target).then(settle, () => settle("noRoute")).finally(() => probing = false);
    },
    close: () => current.close(),
    decided,
  };
}

export interface StartAccessOptions {
  readonly flag: MemberAccessFlag;
  readonly inCluster: boolean;
  /** The namespace the operator watches (undefined: all). */
  readonly namespace: string | undefined;
  readonly kube: Pick<KubeClient, "listPage">;
  /** How the forwards' WebSockets reach the API server (read only if port-forwarding). */
  readonly transport: () => Promise<ForwardTransport>;
  readonly log: Logger;
  readonly onForwardCounts?: (counts: ForwardCounts) => void;
}

/** Decides the mode once and builds the access the actors share for the process's life. */
export async function startMemberAccess(options: StartAccessOptions): Promise<MemberAccess> {
  const { mode, reason, probed } = await chooseEndpointMode({
    facts: { flag: options.flag, inCluster: options.inCluster },
    listPods: () => podsToProbe(options.kube, options.namespace),
  });
  options.log.info("member access decided", { mode, reason });
  if (mode !== "portForward") return directAccess(mode);
  const transport = await options.transport();
  const forwarder = new PortForwarder(transport, {
    log: (level, message, fields) => options.log[level](message, fields),
    onCounts: options.onForwardCounts,
  });
  const forwarded = forwardedAccess(forwarder);
  if (probed !== "noTarget") return forwarded;
  return provisionalAccess(
    forwarded,
    (ip) => probeAddress(ip, clientPort, 2_000),
    (mode, reason) => options.log.info("member access decided", { mode, reason }),
  );
}

/**
 * A few running members' pods, else any running pods where the operator watches, else anywhere it
 * may list (a namespaced install may not): one small page each, never the whole cluster.
 */
async function podsToProbe(
  kube: Pick<KubeClient, "listPage">,
  namespace: string | undefined,
): Promise<readonly PodObject[]> {
  const scopes = [
    { namespace, labelSelector: ownedSelector },
    { namespace, labelSelector: undefined },
    ...(namespace === undefined ? [] : [{ namespace: undefined, labelSelector: undefined }]),
  ];
  for (const scope of scopes) {
    const page = await kube.listPage<PodObject>(resources.pods, {
      ...scope,
      fieldSelector: "status.phase=Running",
      limit: 20,
    });
    if (page.ok && page.value.items.length > 0) return page.value.items;
  }
  return [];
}
