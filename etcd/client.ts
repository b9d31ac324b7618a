// etcd3 clients for a set of endpoints or for exactly one member, with a deadline on every call.
import { Buffer } from "node:buffer";
import { Etcd3, type IOptions } from "etcd3";
import type { Member } from "./observation.ts";

export const defaultCallTimeoutMs = 5_000;

export interface ClientOptions {
  /** How long one call may take, its retries included. */
  readonly callTimeoutMs?: number;
  /** The client certificate and trust bundle for `https://` endpoints. */
  readonly tls?: ClientTLS;
}

/** What a client presents and trusts over TLS. PEM text; never logged. */
export interface ClientTLS {
  /** The trust bundle: the CAs whose members' certificates are accepted. */
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
  /**
   * The name the member's certificate carries when the endpoint is a pod IP: TLS to an IP fails
   * under Deno (NOTES.md), so the connection verifies this name instead.
   */
  readonly serverName?: string;
}

function credentialsOf(tls: ClientTLS | undefined): IOptions["credentials"] {
  if (!tls) return undefined;
  const encoder = new TextEncoder();
  return {
    rootCertificate: Buffer.from(encoder.encode(tls.ca)),
    certChain: Buffer.from(encoder.encode(tls.cert)),
    privateKey: Buffer.from(encoder.encode(tls.key)),
  };
}

/**
 * Where the operator reaches a member. In the cluster that is the advertised client URL (a DNS
 * name); from outside it may be a pod IP or a port-forward, so callers can swap this out.
 */
export type MemberEndpoint = (member: Member) => string | undefined;

export const advertisedEndpoint: MemberEndpoint = (member) => member.clientURLs[0];

type HostPolicy = ReturnType<NonNullable<NonNullable<IOptions["faultHandling"]>["host"]>>;

/**
 * Replaces etcd3's per-host circuit breaker. After three UNAVAILABLE answers (which etcd also
 * uses for "unhealthy cluster" and "rpc not supported for learner") the breaker rejects every call
 * to that host for 5 s with an opaque "circuit breaker is open"; the operator has its own backoff
 * and needs the real error of each call. etcd3's global retry (another host, same deadline) stays.
 */
const noCircuitBreaker = (): HostPolicy => ({
  _altReturn: undefined as never,
  onSuccess: () => ({ dispose: () => {} }),
  onFailure: () => ({ dispose: () => {} }),
  execute: async (call) => await call({ signal: new AbortController().signal }),
});

/**
 * Under Deno, a gRPC session whose member went away can stay "READY" while every new stream on it
 * fails at once. grpc-js then retries the never-started call on the same session in a loop of
 * promise callbacks that never yields: timers (deadlines included) and signals stop, the process
 * spins and grows. Seen here as an operator frozen mid-upgrade; the JS stack showed
 * RetryingCall.startNewAttempt ↔ LoadBalancingCall.doPick. So grpc-js retries are off (a failed
 * call surfaces, and our passes retry later) and each client has its own subchannels, so closing
 * it drops a broken session instead of handing it to the next client through the global pool.
 */
const grpcChannelOptions = {
  "grpc.enable_retries": 0,
  "grpc.use_local_subchannel_pool": 1,
};

let openClients = 0;
let onOpenClients: (open: number) => void = () => {};

/** How many clients are open now (each holds HTTP/2 sessions): for the metrics. */
export function openClientCount(): number {
  return openClients;
}

/** Tells `observer` the number of open clients whenever it changes. */
export function observeOpenClients(observer: (open: number) => void): void {
  onOpenClients = observer;
  observer(openClients);
}

/** A client that may reach any of its endpoints: for cluster-wide calls (member list, add, …). */
export class EtcdClient implements Disposable {
  readonly etcd: Etcd3;
  readonly callTimeoutMs: number;
  /** Its TLS material, for the `/version` probe next to the gRPC API. */
  readonly tls: ClientTLS | undefined;
  #closed = false;

  constructor(readonly endpoints: readonly string[], options: ClientOptions = {}) {
    const callTimeoutMs = options.callTimeoutMs ?? defaultCallTimeoutMs;
    this.callTimeoutMs = callTimeoutMs;
    this.tls = options.tls;
    this.etcd = new Etcd3({
      hosts: [...endpoints],
      credentials: credentialsOf(options.tls),
      faultHandling: { host: noCircuitBreaker },
      grpcOptions: options.tls?.serverName
        ? { ...grpcChannelOptions, "grpc.ssl_target_name_override": options.tls.serverName }
        : grpcChannelOptions,
      // A safety net for calls made without callOptions(): etcd3 sets no deadline by itself.
      defaultCallOptions: (context) =>
        context.isStream ? {} : { deadline: Date.now() + callTimeoutMs },
    });
    onOpenClients(++openClients);
  }

  /**
   * Options for one call. The deadline is absolute, so etcd3's own retries (on another host, or
   * the same one) all share it rather than each getting a fresh timeout.
   */
  callOptions(): { readonly deadline: number } {
    return { deadline: Date.now() + this.callTimeoutMs };
  }

  get closed(): boolean {
    return this.#closed;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.etcd.close();
    onOpenClients(--openClients);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * A client whose only host is one member. Status, snapshot, moveLeader and defragment answer
 * for the member that receives them, and etcd3 picks a random host per call, so these calls
 * need a client that cannot pick another one.
 */
export class MemberClient extends EtcdClient {
  constructor(readonly endpoint: string, options: ClientOptions = {}) {
    super([endpoint], options);
  }
}

/**
 * How long one `withClient` use may take in all: its calls are sequential at most a few deep
 * (promote: look up, promote, look up again), each bounded by the call deadline. The bound is
 * ours, not gRPC's, so a call the HTTP/2 stack never settles cannot wedge an actor.
 */
export function useBoundMs(callTimeoutMs: number): number {
  return 4 * callTimeoutMs + 1_000;
}

/**
 * Runs `use` with a client for `endpoints` and closes the client whatever happens. For one-off
 * work (a backup, a test): under Deno a closed client's HTTP/2 sessions are never freed (see
 * connections.ts), so anything that runs again and again keeps its clients in an EtcdConnections.
 */
export function withClient<T>(
  endpoints: readonly string[],
  use: (client: EtcdClient) => Promise<T>,
  options: ClientOptions = {},
): Promise<T> {
  return bounded(new EtcdClient(endpoints, options), use);
}

/** Runs `use` with a client for exactly one member and closes it whatever happens. */
export function withMemberClient<T>(
  endpoint: string,
  use: (client: MemberClient) => Promise<T>,
  options: ClientOptions = {},
): Promise<T> {
  return bounded(new MemberClient(endpoint, options), use);
}

async function bounded<C extends EtcdClient, T>(
  client: C,
  use: (client: C) => Promise<T>,
): Promise<T> {
  try {
    return await withinBound(client, use);
  } finally {
    client.close();
  }
}

/** Settles within useBoundMs (a TimeoutError, which attempt() reports as unreachable). */
export async function withinBound<C extends EtcdClient, T>(
  client: C,
  use: (client: C) => Promise<T>,
): Promise<T> {
  const limitMs = useBoundMs(client.callTimeoutMs);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new DOMException(`no answer from etcd within ${limitMs} ms`, "TimeoutError")),
      limitMs,
    );
  });
  try {
    return await Promise.race([use(client), expired]);
  } finally {
    clearTimeout(timer);
  }
}
