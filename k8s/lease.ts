// Leader election on a coordination.k8s.io/v1 Lease: acquire, renew, step down, release on stop.
import type { CallOptions, KubeClient } from "./client.ts";
import type { K8sError } from "./errors.ts";
import { errorField, type Log, stderrLog } from "./log.ts";
import type { KubeObject } from "./objects.ts";
import { decideLease, type LeaseSpec, releasedLease, renewalMark } from "./lease_plan.ts";
import { resources } from "./resources.ts";

/** The calls used here: a KubeClient, or a fake in unit tests. */
export type LeaseClient = Pick<KubeClient, "get" | "create" | "replace">;

export interface Lease extends KubeObject {
  readonly spec?: LeaseSpec;
}

export interface LeaderElectionOptions {
  readonly namespace: string;
  readonly name: string;
  /** Unique per replica (pod name plus a random suffix is usual). */
  readonly identity: string;
  /** How long others wait after the last renewal they saw before taking over. */
  readonly leaseDurationSeconds?: number;
  /** A leader that could not renew for this long steps down (before anyone may take over). */
  readonly renewDeadlineSeconds?: number;
  /** Time between attempts, jittered up by a fifth. */
  readonly retryPeriodSeconds?: number;
  /** Must be cheap; start the real work asynchronously. A throw is caught and logged. */
  readonly onStartedLeading: () => void;
  /** Called when leadership is lost or given up on stop. A throw is caught and logged. */
  readonly onStoppedLeading: () => void;
  readonly random?: () => number;
  readonly log?: Log;
}

const defaults = { leaseDurationSeconds: 15, renewDeadlineSeconds: 10, retryPeriodSeconds: 2 };
const retryJitter = 0.2;

/** client-go's rules: a leader must give up before anyone else is allowed to take over. */
function checkTimings(lease: number, renew: number, retry: number): void {
  if (!(lease > renew && renew > retry * (1 + retryJitter) && retry > 0)) {
    throw new Error(
      `leader election needs leaseDuration (${lease}) > renewDeadline (${renew}) > ` +
        `${1 + retryJitter} × retryPeriod (${retry})`,
    );
  }
}

export class LeaderElector {
  readonly #client: LeaseClient;
  readonly #options: LeaderElectionOptions;
  readonly #leaseSeconds: number;
  readonly #renewDeadlineMs: number;
  readonly #retryMs: number;
  readonly #log: Log;
  readonly #random: () => number;
  readonly #stopping = new AbortController();
  #leading = false;
  #lastRenewedAt = 0;
  #observed = { mark: "", atMs: 0 };
  /** The Lease as this leader last wrote it: the next renewal writes over it without a read. */
  #held: Lease | undefined;
  #loop: Promise<void> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #wake: (() => void) | undefined;

  constructor(client: LeaseClient, options: LeaderElectionOptions) {
    this.#client = client;
    this.#options = options;
    this.#leaseSeconds = options.leaseDurationSeconds ?? defaults.leaseDurationSeconds;
    const renewSeconds = options.renewDeadlineSeconds ?? defaults.renewDeadlineSeconds;
    const retrySeconds = options.retryPeriodSeconds ?? defaults.retryPeriodSeconds;
    checkTimings(this.#leaseSeconds, renewSeconds, retrySeconds);
    this.#renewDeadlineMs = renewSeconds * 1000;
    this.#retryMs = retrySeconds * 1000;
    this.#log = options.log ?? stderrLog;
    this.#random = options.random ?? Math.random;
  }

  get isLeader(): boolean {
    return this.#leading;
  }

  start(): void {
    if (this.#loop || this.#stopping.signal.aborted) return;
    this.#loop = this.#run();
  }

  /** Stops trying; a leader releases the Lease so another replica takes over at once. */
  async stop(): Promise<void> {
    this.#stopping.abort();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#wake?.();
    await this.#loop;
    if (this.#leading) {
      await this.#release();
      this.#stepDown("stopping");
    }
  }

  async #run(): Promise<void> {
    while (!this.#stopping.signal.aborted) {
      try {
        await this.#attempt();
      } catch (thrown) {
        this.#log("error", "leader election attempt failed", {
          lease: this.#leaseName,
          error: errorField(thrown),
        });
      }
      await this.#sleep(this.#retryMs * (1 + retryJitter * this.#random()));
    }
  }

  get #leaseName(): string {
    return `${this.#options.namespace}/${this.#options.name}`;
  }

  /** One round: read, decide, write; a leader that has not renewed in time steps down. */
  async #attempt(): Promise<void> {
    const renewed = await this.#tryAcquireOrRenew();
    if (this.#stopping.signal.aborted) return;
    const now = performance.now();
    if (renewed) {
      this.#lastRenewedAt = now;
      if (!this.#leading) this.#startLeading();
    } else if (this.#leading && now - this.#lastRenewedAt > this.#renewDeadlineMs) {
      this.#stepDown("could not renew before the renew deadline");
    }
  }

  /**
   * A leader renews over the Lease as it last wrote it, without reading it first (client-go's
   * fast path): half the requests of an idle operator. Anyone else's write since then makes the
   * replace conflict on its resourceVersion, and the round falls back to reading.
   */
  async #tryAcquireOrRenew(): Promise<boolean> {
    const held = this.#leading ? this.#held : undefined;
    this.#held = undefined;
    if (held) {
      const decision = this.#decide(held.spec ?? {});
      if (decision.kind === "update" && !decision.acquiring) {
        const renewed = await this.#client.replace<Lease>(
          resources.leases,
          { ...held, spec: decision.spec },
          this.#callOptions(),
        );
        if (renewed.ok) {
          this.#observe(renewed.value.spec);
          this.#held = renewed.value;
          return true;
        }
        this.#failed("renewal", renewed.error);
        if (this.#stopping.signal.aborted) return false;
      }
    }
    return await this.#readAndDecide();
  }

  async #readAndDecide(): Promise<boolean> {
    const target = { namespace: this.#options.namespace, name: this.#options.name };
    const read = await this.#client.get<Lease>(resources.leases, target, this.#callOptions());
    if (!read.ok && read.error.kind !== "notFound") return this.#failed("read", read.error);
    const lease = read.ok ? read.value : undefined;
    this.#observe(lease?.spec);
    const decision = this.#decide(lease ? lease.spec ?? {} : undefined);
    if (decision.kind === "wait") {
      // Someone else holds it: a leader that sees this has lost the lease and must stop now.
      if (this.#leading) this.#stepDown(`lease taken by ${decision.holder}`);
      return false;
    }
    const written = lease
      ? await this.#client.replace<Lease>(
        resources.leases,
        { ...lease, spec: decision.spec },
        this.#callOptions(),
      )
      : await this.#client.create<Lease>(
        resources.leases,
        this.#newLease(decision.spec),
        this.#callOptions(),
      );
    if (!written.ok) return this.#failed(lease ? "update" : "create", written.error);
    this.#observe(written.value.spec);
    this.#held = written.value;
    return true;
  }

  /** What to do with the Lease's spec as read (undefined: it does not exist), now. */
  #decide(spec: LeaseSpec | undefined) {
    return decideLease({
      spec,
      identity: this.#options.identity,
      leaseDurationSeconds: this.#leaseSeconds,
      nowMs: performance.now(),
      observedAtMs: this.#observed.atMs,
      wallNow: new Date(),
    });
  }

  #newLease(spec: LeaseSpec): Lease {
    return {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { namespace: this.#options.namespace, name: this.#options.name },
      spec,
    };
  }

  /** Restarts the expiry clock whenever the holder or its renewTime changes. */
  #observe(spec: LeaseSpec | undefined): void {
    const mark = renewalMark(spec);
    if (mark !== this.#observed.mark) this.#observed = { mark, atMs: performance.now() };
  }

  #failed(step: string, error: K8sError): false {
    // A conflict is another replica writing first: expected, not worth a warning.
    if (error.kind !== "conflict" && !this.#stopping.signal.aborted) {
      this.#log("warn", `lease ${step} failed`, {
        lease: this.#leaseName,
        kind: error.kind,
        error: error.message,
      });
    }
    return false;
  }

  #callOptions(): CallOptions {
    // A renewal slower than the retry period is useless: the next round starts anyway.
    return { timeoutMs: Math.max(1_000, this.#retryMs), signal: this.#stopping.signal };
  }

  async #release(): Promise<void> {
    const target = { namespace: this.#options.namespace, name: this.#options.name };
    const options = { timeoutMs: Math.max(1_000, this.#retryMs) };
    const read = await this.#client.get<Lease>(resources.leases, target, options);
    if (!read.ok || read.value.spec?.holderIdentity !== this.#options.identity) return;
    const spec = releasedLease(read.value.spec, new Date());
    const written = await this.#client.replace<Lease>(
      resources.leases,
      { ...read.value, spec },
      options,
    );
    if (!written.ok) this.#failed("release", written.error);
  }

  #startLeading(): void {
    this.#leading = true;
    this.#log("info", "became leader", {
      lease: this.#leaseName,
      identity: this.#options.identity,
    });
    this.#callback(this.#options.onStartedLeading, "onStartedLeading");
  }

  #stepDown(why: string): void {
    if (!this.#leading) return;
    this.#leading = false;
    this.#log(this.#stopping.signal.aborted ? "info" : "warn", "stopped leading", {
      lease: this.#leaseName,
      why,
    });
    this.#callback(this.#options.onStoppedLeading, "onStoppedLeading");
  }

  #callback(callback: () => void, name: string): void {
    try {
      callback();
    } catch (thrown) {
      this.#log("error", `${name} threw`, { lease: this.#leaseName, error: errorField(thrown) });
    }
  }

  #sleep(delayMs: number): Promise<void> {
    if (this.#stopping.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      this.#wake = () => {
        clearTimeout(this.#timer);
        this.#timer = undefined;
        this.#wake = undefined;
        resolve();
      };
      this.#timer = setTimeout(this.#wake, delayMs);
    });
  }
}
