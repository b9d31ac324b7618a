// The etcd clients one owner (a cluster actor) keeps for its whole life: one per member, reused by every pass.
//
// Why not a client per pass: under Deno 2.8.3 an HTTP/2 session stays reachable from a global
// handle after its client is closed (heap snapshots here: Http2Session → ClientHttp2Session,
// Socket, grpc-js Subchannel and transport, ≈ 0.2 MiB per closed client). A fresh client per pass
// was the operator's steady memory growth; clients that live as long as their actor are not.
import type { EtcdErrorKind } from "./errors.ts";
import {
  type ClientOptions,
  type ClientTLS,
  type EtcdClient,
  MemberClient,
  withClient,
  withinBound,
  withMemberClient,
} from "./client.ts";

/** The name an endpoint's certificate carries, when the endpoint itself is not that name. */
export type ServerNameOf = (endpoint: string) => string | undefined;

/** How the etcd layer gets a client for a use: one-off, or from an owner's connections. */
export interface ClientProvider {
  /** Runs `use` with a client for cluster-wide calls that may reach any of `endpoints`. */
  cluster<T>(endpoints: readonly string[], use: (client: EtcdClient) => Promise<T>): Promise<T>;
  /** Runs `use` with a client whose only host is the member at `endpoint`. */
  member<T>(endpoint: string, use: (client: MemberClient) => Promise<T>): Promise<T>;
}

/** A new client for every use, closed after it: for one-off work and tests. */
export function oneOffClients(options: ClientOptions = {}): ClientProvider {
  return {
    cluster: (endpoints, use) => withClient(endpoints, use, options),
    member: (endpoint, use) => withMemberClient(endpoint, use, options),
  };
}

/**
 * Which process answers at each endpoint: its pod's uid. A DNS name outlives the pod behind it,
 * and a session to a replaced member must not be kept (client.ts says why).
 */
export type Incarnations = ReadonlyMap<string, string>;

export interface ConnectionPolicy {
  /** Failed uses in a row after which a client is replaced by a fresh one. */
  readonly replaceAfterFailures: number;
  /** ...but a client for the same endpoint is replaced at most this often (each one leaks). */
  readonly minReplaceIntervalMs: number;
}

export const defaultConnectionPolicy: ConnectionPolicy = {
  replaceAfterFailures: 3,
  minReplaceIntervalMs: 30_000,
};

interface Held {
  readonly client: MemberClient;
  /** The incarnation it was opened for. */
  readonly incarnation: string;
  failures: number;
}

export interface ConnectionsOptions extends ClientOptions {
  readonly policy?: ConnectionPolicy;
  readonly now?: () => number;
}

/**
 * One client per member, opened on first use and kept while it works; cluster-wide calls go
 * through a member's client too (etcd forwards them to the leader), so a cluster of N members
 * holds N HTTP/2 sessions. A client is closed when its member goes away or is replaced
 * (`retain`), when it has failed several uses in a row (its session may be broken while grpc-js
 * still reports it ready), when a use throws or outlives its bound, and when the owner stops.
 */
export class EtcdConnections implements ClientProvider, Disposable {
  readonly #options: ClientOptions;
  /** The TLS material new clients get, and the server name each endpoint's certificate has. */
  #tls: { readonly material: ClientTLS; readonly serverNameOf: ServerNameOf } | undefined;
  readonly #policy: ConnectionPolicy;
  readonly #now: () => number;
  readonly #members = new Map<string, Held>();
  #incarnations: Incarnations = new Map();
  /** The member that answered the last cluster-wide call: asked first next time. */
  #preferred: string | undefined;
  /** When the client for an endpoint was last replaced after failures. */
  readonly #replacedAt = new Map<string, number>();
  #closed = false;

  constructor(options: ConnectionsOptions = {}) {
    this.#options = { callTimeoutMs: options.callTimeoutMs };
    this.#tls = options.tls ? { material: options.tls, serverNameOf: () => undefined } : undefined;
    this.#policy = options.policy ?? defaultConnectionPolicy;
    this.#now = options.now ?? Date.now;
  }

  /** Clients held now (one HTTP/2 session each). */
  get size(): number {
    return this.#members.size;
  }

  /**
   * The TLS material clients use from now on (undefined: plain HTTP). When it changes (a renewed
   * operator certificate, a new trust bundle) every client is closed, so the next use dials with
   * the new material; unchanged material keeps them.
   */
  useTLS(material: ClientTLS | undefined, serverNameOf: ServerNameOf = () => undefined): void {
    const before = this.#tls?.material;
    const same = before === material ||
      (before !== undefined && material !== undefined && before.ca === material.ca &&
        before.cert === material.cert && before.key === material.key);
    this.#tls = material ? { material, serverNameOf } : undefined;
    if (!same) this.release();
  }

  /**
   * The members as they are now: clients for endpoints not listed, or whose incarnation changed,
   * are closed.
   */
  retain(incarnations: Incarnations): void {
    this.#incarnations = new Map(incarnations);
    for (const [endpoint, held] of this.#members) {
      if (held.incarnation !== this.#incarnationOf(endpoint)) this.#drop(endpoint);
    }
  }

  /**
   * Asks the member that answered last time first, then the others in turn, until one gives an
   * answer about the request itself (see askAnother). Every cluster-wide step is idempotent (see
   * members.ts), so asking another member after a lost answer is safe.
   */
  async cluster<T>(
    endpoints: readonly string[],
    use: (client: EtcdClient) => Promise<T>,
  ): Promise<T> {
    if (endpoints.length === 0) throw new Error("no etcd endpoints to ask");
    const preferred = this.#preferred;
    const order = preferred !== undefined && endpoints.includes(preferred)
      ? [preferred, ...endpoints.filter((endpoint) => endpoint !== preferred)]
      : [...endpoints];
    let last: { readonly value: T } | { readonly error: unknown } | undefined;
    for (const endpoint of order) {
      try {
        const value = await this.member(endpoint, use);
        if (!askAnother(value)) {
          this.#preferred = endpoint;
          return value;
        }
        last = { value };
      } catch (error) {
        last = { error };
      }
    }
    if (last && "value" in last) return last.value;
    throw last?.error;
  }

  async member<T>(endpoint: string, use: (client: MemberClient) => Promise<T>): Promise<T> {
    const incarnation = this.#incarnationOf(endpoint);
    const existing = this.#members.get(endpoint);
    if (existing && existing.incarnation !== incarnation) this.#drop(endpoint);
    let held = this.#members.get(endpoint);
    if (!held) {
      if (this.#closed) throw new Error("etcd connections are closed");
      const tls = this.#tls &&
        { ...this.#tls.material, serverName: this.#tls.serverNameOf(endpoint) };
      held = {
        client: new MemberClient(endpoint, { ...this.#options, ...(tls ? { tls } : {}) }),
        incarnation,
        failures: 0,
      };
      this.#members.set(endpoint, held);
    }
    return await this.#use(held, endpoint, use);
  }

  /** Closes every client held now; later uses open new ones (a cluster deleted, then re-created). */
  release(): void {
    for (const endpoint of [...this.#members.keys()]) this.#drop(endpoint);
  }

  /** Closes every client for good: the owner has stopped. */
  close(): void {
    this.#closed = true;
    this.release();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  async #use<T>(
    held: Held,
    endpoint: string,
    use: (client: MemberClient) => Promise<T>,
  ): Promise<T> {
    let value: T;
    try {
      value = await withinBound(held.client, use);
    } catch (error) {
      // A use that threw or never settled: the client's state is unknown, so it goes now.
      this.#replace(held, endpoint);
      throw error;
    }
    if (!failedUnreachable(value)) {
      held.failures = 0;
    } else if (++held.failures >= this.#policy.replaceAfterFailures) {
      const last = this.#replacedAt.get(endpoint);
      if (last === undefined || this.#now() - last >= this.#policy.minReplaceIntervalMs) {
        this.#replace(held, endpoint);
      }
    }
    return value;
  }

  /** Closes `held` if it is still the endpoint's client (a concurrent use may have replaced it). */
  #replace(held: Held, endpoint: string): void {
    this.#replacedAt.set(endpoint, this.#now());
    if (this.#members.get(endpoint) === held) this.#drop(endpoint);
  }

  #incarnationOf(endpoint: string): string {
    return this.#incarnations.get(endpoint) ?? "";
  }

  #drop(endpoint: string): void {
    this.#members.get(endpoint)?.client.close();
    this.#members.delete(endpoint);
  }
}

/**
 * Whether a use's answer is an EtcdResult failure of one of `kinds`, at the top or one level down
 * (observations gather several results at once).
 */
export function failedWith(value: unknown, kinds: readonly EtcdErrorKind[]): boolean {
  const failed = (candidate: unknown) =>
    isRecord(candidate) && candidate.ok === false && isRecord(candidate.error) &&
    kinds.includes(candidate.error.kind as EtcdErrorKind);
  if (failed(value)) return true;
  if (Array.isArray(value)) return value.some(failed);
  return isRecord(value) && !("ok" in value) && Object.values(value).some(failed);
}

/** The client could not reach etcd: its session may be broken. */
export const failedUnreachable = (value: unknown) => failedWith(value, ["unreachable"]);

/**
 * This member could not answer for the cluster (down, cut off from the leader, not knowing one,
 * or a learner, which refuses cluster calls as "other"): another member may. Answers about the
 * request itself (no such member, learner not caught up, too many learners) are the same anywhere.
 */
const askAnother = (value: unknown) =>
  failedWith(value, ["unreachable", "unhealthy", "notLeader", "other"]);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}
