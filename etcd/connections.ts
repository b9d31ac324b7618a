// The etcd clients one owner (a cluster actor) keeps for its whole life, reused by every pass.
//
// Why not a client per pass: under Deno 2.8.3 an HTTP/2 session stays reachable from a global
// handle after its client is closed (heap snapshots here: Http2Session → ClientHttp2Session,
// Socket, grpc-js Subchannel and transport, ≈ 0.2 MiB per closed client). A fresh client per pass
// was the operator's steady memory growth; clients that live as long as their actor are not.
import {
  type ClientOptions,
  EtcdClient,
  MemberClient,
  withClient,
  withinBound,
  withMemberClient,
} from "./client.ts";

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
  /** ...but a client for the same endpoints is replaced at most this often (each one leaks). */
  readonly minReplaceIntervalMs: number;
}

export const defaultConnectionPolicy: ConnectionPolicy = {
  replaceAfterFailures: 3,
  minReplaceIntervalMs: 30_000,
};

interface Held<C extends EtcdClient> {
  readonly client: C;
  /** The incarnations it was opened for, as one comparable string. */
  readonly identity: string;
  failures: number;
}

export interface ConnectionsOptions extends ClientOptions {
  readonly policy?: ConnectionPolicy;
  readonly now?: () => number;
}

/**
 * Clients by endpoint, opened on first use and kept while they work. A client is closed when its
 * member goes away or is replaced (`retain`), when it has failed several uses in a row (its
 * HTTP/2 session may be broken while grpc-js still reports it ready), when a use outlives its
 * bound, and when the owner stops (`close`).
 */
export class EtcdConnections implements ClientProvider, Disposable {
  readonly #options: ClientOptions;
  readonly #policy: ConnectionPolicy;
  readonly #now: () => number;
  readonly #members = new Map<string, Held<MemberClient>>();
  #cluster: Held<EtcdClient> | undefined;
  #incarnations: Incarnations = new Map();
  /** When a client for a key (an endpoint, or the cluster's endpoint set) was last replaced. */
  readonly #replacedAt = new Map<string, number>();
  #closed = false;

  constructor(options: ConnectionsOptions = {}) {
    this.#options = { callTimeoutMs: options.callTimeoutMs, credentials: options.credentials };
    this.#policy = options.policy ?? defaultConnectionPolicy;
    this.#now = options.now ?? Date.now;
  }

  /** Clients held now (each holds one HTTP/2 session per endpoint it reaches). */
  get size(): number {
    return this.#members.size + (this.#cluster ? 1 : 0);
  }

  /**
   * The members as they are now: clients for endpoints not listed, or whose incarnation changed,
   * are closed; so is the cluster-wide client when any of its endpoints did.
   */
  retain(incarnations: Incarnations): void {
    this.#incarnations = new Map(incarnations);
    for (const [endpoint, held] of this.#members) {
      if (held.identity !== this.#identityOf([endpoint])) this.#drop(endpoint);
    }
    if (
      this.#cluster && this.#cluster.identity !== this.#identityOf(this.#cluster.client.endpoints)
    ) {
      this.#dropCluster();
    }
  }

  async cluster<T>(
    endpoints: readonly string[],
    use: (client: EtcdClient) => Promise<T>,
  ): Promise<T> {
    const identity = this.#identityOf(endpoints);
    if (this.#cluster && this.#cluster.identity !== identity) this.#dropCluster();
    const held = this.#cluster ??= this.#open(
      identity,
      () => new EtcdClient(endpoints, this.#options),
    );
    return await this.#use(held, clusterKey(held.client.endpoints), use);
  }

  async member<T>(endpoint: string, use: (client: MemberClient) => Promise<T>): Promise<T> {
    const identity = this.#identityOf([endpoint]);
    const existing = this.#members.get(endpoint);
    if (existing && existing.identity !== identity) this.#drop(endpoint);
    let held = this.#members.get(endpoint);
    if (!held) {
      held = this.#open(identity, () => new MemberClient(endpoint, this.#options));
      this.#members.set(endpoint, held);
    }
    return await this.#use(held, endpoint, use);
  }

  /** Closes every client held now; later uses open new ones (a cluster deleted, then re-created). */
  release(): void {
    for (const endpoint of [...this.#members.keys()]) this.#drop(endpoint);
    this.#dropCluster();
  }

  /** Closes every client for good: the owner has stopped. */
  close(): void {
    this.#closed = true;
    this.release();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #open<C extends EtcdClient>(identity: string, create: () => C): Held<C> {
    if (this.#closed) throw new Error("etcd connections are closed");
    return { client: create(), identity, failures: 0 };
  }

  async #use<C extends EtcdClient, T>(
    held: Held<C>,
    key: string,
    use: (client: C) => Promise<T>,
  ): Promise<T> {
    let value: T;
    try {
      value = await withinBound(held.client, use);
    } catch (error) {
      // A use that threw or never settled: the client's state is unknown, so it goes now.
      this.#replace(held, key);
      throw error;
    }
    if (!failedUnreachable(value)) {
      held.failures = 0;
    } else if (++held.failures >= this.#policy.replaceAfterFailures) {
      const last = this.#replacedAt.get(key);
      if (last === undefined || this.#now() - last >= this.#policy.minReplaceIntervalMs) {
        this.#replace(held, key);
      }
    }
    return value;
  }

  /** Closes `held` if it is still the client in use (a concurrent use may have replaced it). */
  #replace(held: Held<EtcdClient>, key: string): void {
    this.#replacedAt.set(key, this.#now());
    if (this.#cluster === held) this.#dropCluster();
    else if (this.#members.get(key) === held) this.#drop(key);
  }

  #identityOf(endpoints: readonly string[]): string {
    return [...endpoints].sort().map((endpoint) =>
      `${endpoint}#${this.#incarnations.get(endpoint) ?? ""}`
    ).join(" ");
  }

  #drop(endpoint: string): void {
    this.#members.get(endpoint)?.client.close();
    this.#members.delete(endpoint);
  }

  #dropCluster(): void {
    this.#cluster?.client.close();
    this.#cluster = undefined;
  }
}

const clusterKey = (endpoints: readonly string[]) => [...endpoints].sort().join(" ");

/**
 * Whether a use's answer says the client could not reach etcd: an EtcdResult failure of kind
 * "unreachable", at the top or one level down (observations gather several results at once).
 */
export function failedUnreachable(value: unknown): boolean {
  const unreachable = (candidate: unknown) =>
    isRecord(candidate) && candidate.ok === false && isRecord(candidate.error) &&
    candidate.error.kind === "unreachable";
  if (unreachable(value)) return true;
  if (Array.isArray(value)) return value.some(unreachable);
  return isRecord(value) && !("ok" in value) && Object.values(value).some(unreachable);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}
