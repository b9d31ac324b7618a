// An actor: a mailbox drained by a loop that handles one message at a time and reports crashes up.
//
// The mailbox belongs to the actor for its whole life; the state belongs to one *incarnation*
// (one run of `init` and the loop). A crash ends the incarnation — its timers are cleared and its
// behaviour is dropped — but not the mailbox, so nothing sent meanwhile is lost and the restarted
// incarnation rebuilds its state from the world, never from memory.
//
// Crash policy for the message in flight: it goes back to the front of the mailbox, marked as
// redelivered, and the next incarnation handles it once more. If it crashes that one too, it is
// dropped (counted and reported as a poison message): input is level-based, so a dropped notice
// costs nothing that the next notice or resync for the key will not repair, whereas retrying it
// forever would spend the supervisor's restart intensity on one bad message.
import type { Clock, TimerId } from "./clock.ts";
import type { ChildStatus, ParentLink, StopOptions, SupervisedChild } from "./child.ts";
import type { ActorLabels, DropReason, InFlightOutcome, RuntimeHooks } from "./hooks.ts";
import { type Delivery, Mailbox, type MailboxMode } from "./mailbox.ts";

export type Cancel = () => void;

export interface ActorContext<M> {
  readonly kind: string;
  readonly name: string;
  readonly clock: Clock;
  /** Sends to our own mailbox; false once this incarnation has ended or the actor is stopping. */
  self(message: M): boolean;
  /** Sends `message` to ourselves after `delayMs` (e.g. requeue after backoff); cleared on stop. */
  scheduleSelf(message: M, delayMs: number): Cancel;
  /**
   * Calls `listener` each time a message arrives, until cancelled or the incarnation ends: a
   * handler waiting on something slow can learn that newer news makes its wait pointless.
   */
  onMessage(listener: () => void): Cancel;
}

export type TerminateReason =
  | { readonly kind: "stopped" }
  | { readonly kind: "crashed"; readonly error: unknown };

export interface Behavior<M> {
  handle(message: M, context: ActorContext<M>): Promise<void> | void;
  /** Releases what `init` acquired (clients, watches); runs after a stop and after a crash. */
  terminate?(reason: TerminateReason): Promise<void> | void;
}

export interface ActorSpec<M> {
  /** Bounded, for metrics: "EtcdCluster", "EtcdPeer". */
  readonly kind: string;
  /** Unique under its supervisor: "EtcdCluster/ns/name". */
  readonly name: string;
  /** Builds a fresh behaviour (and state) for each incarnation; throwing counts as a crash. */
  readonly init: (context: ActorContext<M>) => Behavior<M> | Promise<Behavior<M>>;
  readonly mailbox?: MailboxMode<M>;
}

/** What senders hold: it stays valid across restarts. */
export interface ActorRef<M> {
  readonly kind: string;
  readonly name: string;
  readonly status: ChildStatus;
  readonly pending: number;
  /** Never blocks; false once the actor is stopping or stopped. */
  send(message: M): boolean;
}

export interface ActorEnvironment {
  readonly clock: Clock;
  readonly hooks: RuntimeHooks;
  readonly parent: ParentLink;
}

const noop: Cancel = () => {};

/** One run of `init` and the loop; everything it owns dies with it. */
class Incarnation<M> {
  retired = false;
  reportedHealthy = false;
  behavior: Behavior<M> | undefined;
  context!: ActorContext<M>;
  done: Promise<void> = Promise.resolve();
  readonly #timers = new Set<TimerId>();
  readonly #messageListeners = new Set<() => void>();

  constructor(readonly clock: Clock) {}

  schedule(delayMs: number, fire: () => void): Cancel {
    if (this.retired) return noop;
    const timerId = this.clock.setTimeout(() => {
      this.#timers.delete(timerId);
      if (!this.retired) fire();
    }, delayMs);
    this.#timers.add(timerId);
    return () => {
      if (this.#timers.delete(timerId)) this.clock.clearTimeout(timerId);
    };
  }

  listen(listener: () => void): Cancel {
    if (this.retired) return noop;
    // A wrapper per registration, so one listener registered twice is cancelled once each.
    const registered = () => listener();
    this.#messageListeners.add(registered);
    return () => void this.#messageListeners.delete(registered);
  }

  /** Tells the listeners a message arrived; a failing listener must not fail the sender. */
  messageArrived(): void {
    for (const listener of [...this.#messageListeners]) {
      try {
        listener();
      } catch {
        // The sender is a watch handler or a timer: it has no one to report to.
      }
    }
  }

  retire(): void {
    this.retired = true;
    for (const timerId of this.#timers) this.clock.clearTimeout(timerId);
    this.#timers.clear();
    this.#messageListeners.clear();
  }
}

type HandleResult = { readonly ok: true } | { readonly ok: false; readonly error: unknown };

export class Actor<M> implements ActorRef<M>, SupervisedChild {
  readonly labels: ActorLabels;
  readonly #spec: ActorSpec<M>;
  readonly #environment: ActorEnvironment;
  readonly #mailbox: Mailbox<M>;
  #status: ChildStatus = "new";
  #incarnation: Incarnation<M> | undefined;
  #stopped: Promise<void> | undefined;

  constructor(spec: ActorSpec<M>, environment: ActorEnvironment) {
    this.#spec = spec;
    this.#environment = environment;
    this.#mailbox = new Mailbox(spec.mailbox);
    this.labels = { kind: spec.kind, name: spec.name };
  }

  get kind(): string {
    return this.#spec.kind;
  }

  get name(): string {
    return this.#spec.name;
  }

  get status(): ChildStatus {
    return this.#status;
  }

  get pending(): number {
    return this.#mailbox.size;
  }

  send(message: M): boolean {
    const accepted = this.#mailbox.send(message);
    if (accepted) {
      this.#reportDepth();
      this.#incarnation?.messageArrived();
    }
    return accepted;
  }

  start(): void {
    if (this.#status !== "new" && this.#status !== "crashed") return;
    this.#status = "running";
    const incarnation = new Incarnation<M>(this.#environment.clock);
    incarnation.context = this.#contextFor(incarnation);
    this.#incarnation = incarnation;
    incarnation.done = this.#run(incarnation);
  }

  /** Lets the current message finish, then drains or drops the rest; never rejects. */
  stop(options: StopOptions = { drain: false }): Promise<void> {
    this.#stopped ??= this.#stop(options);
    return this.#stopped;
  }

  async #stop(options: StopOptions): Promise<void> {
    const wasRunning = this.#status === "running";
    this.#status = "stopping";
    this.#incarnation?.retire();
    this.#mailbox.close();
    if (!options.drain || !wasRunning) this.#dropPending("stoppedWithoutDrain");
    if (wasRunning) await this.#incarnation?.done;
    this.#status = "stopped";
    // Last word: the mailbox is closed and the loop is over, so no gauge follows this.
    this.#environment.hooks.event({ kind: "actorStopped", actor: this.labels });
  }

  // The top-level catch: whatever goes wrong in init or the loop ends as a reported crash.
  async #run(incarnation: Incarnation<M>): Promise<void> {
    try {
      const behavior = await this.#spec.init(incarnation.context);
      incarnation.behavior = behavior;
      await this.#loop(incarnation, behavior);
    } catch (error) {
      await this.#crash(incarnation, error, undefined);
    }
  }

  async #loop(incarnation: Incarnation<M>, behavior: Behavior<M>): Promise<void> {
    for (;;) {
      const delivery = await this.#mailbox.take();
      this.#reportDepth();
      if (delivery.kind === "closed") break;
      const result = await this.#handle(incarnation, behavior, delivery.message);
      if (!result.ok) return await this.#crash(incarnation, result.error, delivery);
      this.#succeeded(incarnation);
    }
    await this.#terminate(behavior, { kind: "stopped" });
  }

  async #handle(
    incarnation: Incarnation<M>,
    behavior: Behavior<M>,
    message: M,
  ): Promise<HandleResult> {
    try {
      await behavior.handle(message, incarnation.context);
      return { ok: true };
    } catch (error) {
      return { ok: false, error };
    }
  }

  #succeeded(incarnation: Incarnation<M>): void {
    this.#environment.hooks.count("messagesProcessed", this.labels, 1);
    if (incarnation.reportedHealthy) return;
    incarnation.reportedHealthy = true;
    this.#environment.parent.healthy(this);
  }

  async #crash(
    incarnation: Incarnation<M>,
    error: unknown,
    inFlight: Delivery<M> | undefined,
  ): Promise<void> {
    incarnation.retire();
    const { hooks } = this.#environment;
    hooks.count("failures", this.labels, 1);
    const outcome = this.#settleInFlight(inFlight);
    hooks.event({ kind: "actorCrashed", actor: this.labels, error, inFlight: outcome });
    if (incarnation.behavior) {
      await this.#terminate(incarnation.behavior, { kind: "crashed", error });
    }
    if (this.#status === "stopping") return this.#dropPending("crashedWhileStopping");
    this.#status = "crashed";
    this.#environment.parent.failed(this, error);
  }

  #settleInFlight(inFlight: Delivery<M> | undefined): InFlightOutcome {
    if (inFlight?.kind !== "message") return "none";
    if (this.#status === "stopping") return this.#drop(1, "crashedWhileStopping");
    if (inFlight.redelivered) return this.#drop(1, "poisonMessage");
    const outcome = this.#mailbox.putBack(inFlight.message);
    this.#reportDepth();
    if (outcome === "rejected") return this.#drop(1, "crashedWhileStopping");
    return outcome === "requeued" ? "redelivered" : "absorbed";
  }

  async #terminate(behavior: Behavior<M>, reason: TerminateReason): Promise<void> {
    try {
      await behavior.terminate?.(reason);
    } catch (error) {
      this.#environment.hooks.event({ kind: "terminateFailed", actor: this.labels, error });
    }
  }

  #dropPending(reason: DropReason): void {
    const dropped = this.#mailbox.clear();
    this.#reportDepth();
    if (dropped.length > 0) this.#drop(dropped.length, reason);
  }

  #drop(count: number, reason: DropReason): "dropped" {
    const { hooks } = this.#environment;
    hooks.count("messagesDropped", this.labels, count);
    hooks.event({ kind: "messagesDropped", actor: this.labels, count, reason });
    return "dropped";
  }

  #reportDepth(): void {
    this.#environment.hooks.gauge("mailboxDepth", this.labels, this.#mailbox.size);
  }

  #contextFor(incarnation: Incarnation<M>): ActorContext<M> {
    return {
      kind: this.kind,
      name: this.name,
      clock: this.#environment.clock,
      self: (message) => !incarnation.retired && this.send(message),
      scheduleSelf: (message, delayMs) => incarnation.schedule(delayMs, () => this.send(message)),
      onMessage: (listener) => incarnation.listen(listener),
    };
  }
}
