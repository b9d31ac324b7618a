// One-for-one supervisor: restarts a crashed child with backoff, gives up past a restart intensity.
//
// The intensity is counted per child, not across all children as OTP does: a supervisor holding
// one actor per object would otherwise give up when ten different objects fail once each within a
// minute (an API-server restart), although no single one of them is crash-looping.
//
// A supervisor of one actor per object (`exhaustedChild: "suspend"`) does not give up when one
// child crash-loops: that child rests instead (see `#suspend`), so one broken object never stops
// the actors of every other object nor, repeated, the process.
//
// As in OTP: a supervisor that gives up stops all its children (reverse start order) and fails
// towards its own parent, which treats that as one more child crash — it restarts the nested
// supervisor (whose `init` runs again) or, past its own intensity, gives up in turn. The root has
// no parent: it calls `onEscalate`, and the process exits so the Deployment starts a fresh one.
//
// Children spawned while a supervisor is down (giving up, or waiting to be restarted) are kept
// and started when it comes back up; a child never starts while an older child of the same name
// is still stopping, so one key is never handled by two actors at once.
import { Actor, type ActorRef, type ActorSpec } from "./actor.ts";
import {
  backoffDelay,
  defaultRestartPolicy,
  intensityExceeded,
  recordRestart,
  type RestartPolicy,
} from "./backoff.ts";
import type { ChildStatus, ParentLink, StopOptions, SupervisedChild } from "./child.ts";
import { type Clock, systemClock, type TimerId } from "./clock.ts";
import {
  type ActorLabels,
  type EscalationReason,
  guardedHooks,
  type RuntimeHooks,
  silentHooks,
} from "./hooks.ts";

export interface Escalation {
  readonly supervisor: string;
  readonly reason: EscalationReason;
  /** The child whose failure made it give up (a nested supervisor's failure is an EscalationError). */
  readonly child: ActorLabels;
  readonly error: unknown;
  /** What exceeded the intensity within `withinMs`, the last one included (see `reason`). */
  readonly count: number;
  readonly withinMs: number;
}

/** How a nested supervisor's giving up reaches its parent as a child failure. */
export class EscalationError extends Error {
  constructor(readonly escalation: Escalation) {
    super(`supervisor ${escalation.supervisor} gave up: ${describe(escalation)}`, {
      cause: escalation.error,
    });
    this.name = "EscalationError";
  }
}

function describe({ reason, child, count, withinMs }: Escalation): string {
  const who = `${child.kind} ${child.name}`;
  switch (reason) {
    case "childRestarts":
      return `${who} restarted ${count} times within ${withinMs} ms`;
    case "childrenSuspended":
      return `${count} children suspended within ${withinMs} ms (the last: ${who})`;
    case "initFailed":
      return "its init failed";
  }
}

export interface SupervisorSpec {
  readonly name: string;
  readonly restart?: RestartPolicy;
  /**
   * What a child restarted more often than the intensity allows costs. "escalate" (OTP's rule and
   * the default, for static children such as nested supervisors): this supervisor gives up.
   * "suspend" (for one actor per object): that child alone rests for the intensity window.
   */
  readonly exhaustedChild?: "escalate" | "suspend";
  /** Spawns the static children; runs at start and again after every restart. */
  readonly init?: (supervisor: Supervisor) => void;
}

export interface RootSupervisorOptions extends SupervisorSpec {
  /** Called once all children have stopped; the caller is expected to exit the process. */
  readonly onEscalate: (escalation: Escalation) => void;
  readonly clock?: Clock;
  /** Uniform in [0, 1); injectable so jittered delays are deterministic in tests. */
  readonly random?: () => number;
  readonly hooks?: RuntimeHooks;
}

export interface ChildSummary {
  readonly name: string;
  readonly kind: string;
  readonly status: ChildStatus;
}

interface RuntimeEnvironment {
  readonly clock: Clock;
  readonly random: () => number;
  readonly hooks: RuntimeHooks;
}

type Upward =
  | { readonly kind: "root"; readonly onEscalate: (escalation: Escalation) => void }
  | { readonly kind: "nested"; readonly parent: ParentLink };

interface ChildEntry {
  readonly child: SupervisedChild;
  /** This child's restart times still inside the intensity window. */
  restarts: readonly number[];
  consecutiveFailures: number;
  restartTimer: TimerId | undefined;
}

export const supervisorKind = "Supervisor";

/** Creates and starts the root of a supervisor tree. */
export function startSupervisor(options: RootSupervisorOptions): Supervisor {
  const environment: RuntimeEnvironment = {
    clock: options.clock ?? systemClock,
    random: options.random ?? Math.random,
    hooks: guardedHooks(options.hooks ?? silentHooks),
  };
  const root = new Supervisor(options, environment, {
    kind: "root",
    onEscalate: options.onEscalate,
  });
  root.start();
  return root;
}

export class Supervisor implements SupervisedChild {
  readonly labels: ActorLabels;
  readonly #spec: SupervisorSpec;
  readonly #policy: RestartPolicy;
  readonly #environment: RuntimeEnvironment;
  readonly #upward: Upward;
  // Map order is start order, which shutdown walks backwards.
  readonly #children = new Map<string, ChildEntry>();
  readonly #retiring = new Map<string, Promise<void>>();
  readonly #asParent: ParentLink = {
    failed: (child, error) => this.#childFailed(child, error),
    healthy: (child) => this.#childHealthy(child),
  };
  #status: ChildStatus = "new";
  /** When children were suspended, inside the intensity window; forgotten on restart. */
  #suspensions: readonly number[] = [];
  #givingUp: Promise<void> | undefined;
  #stopped: Promise<void> | undefined;

  /** Use `startSupervisor` for a root and `spawnSupervisor` for a nested one. */
  constructor(spec: SupervisorSpec, environment: RuntimeEnvironment, upward: Upward) {
    this.#spec = spec;
    this.#policy = spec.restart ?? defaultRestartPolicy;
    this.#environment = environment;
    this.#upward = upward;
    this.labels = { kind: supervisorKind, name: spec.name };
  }

  get name(): string {
    return this.#spec.name;
  }

  get status(): ChildStatus {
    return this.#status;
  }

  start(): void {
    if (this.#status !== "new" && this.#status !== "crashed") return;
    this.#status = "running";
    this.#suspensions = [];
    this.#givingUp = undefined;
    try {
      this.#spec.init?.(this);
    } catch (error) {
      return this.#giveUp({ reason: "initFailed", child: this.labels, error, count: 0 });
    }
    for (const [name, entry] of this.#children) this.#startWhenFree(name, entry.child);
  }

  /** Adds an actor under this supervisor; the name must be unique among its children. */
  spawn<M>(spec: ActorSpec<M>): ActorRef<M> {
    const { clock, hooks } = this.#environment;
    const actor = new Actor(spec, { clock, hooks, parent: this.#asParent });
    this.#adopt(spec.name, actor);
    return actor;
  }

  spawnSupervisor(spec: SupervisorSpec): Supervisor {
    const upward: Upward = { kind: "nested", parent: this.#asParent };
    const nested = new Supervisor(spec, this.#environment, upward);
    this.#adopt(spec.name, nested);
    return nested;
  }

  /** Stops one child and forgets it; resolves when it has stopped. */
  stopChild(name: string, options: StopOptions = { drain: false }): Promise<void> {
    const entry = this.#children.get(name);
    if (entry) return this.#retire(name, entry, options);
    return this.#retiring.get(name) ?? Promise.resolve();
  }

  children(): readonly ChildSummary[] {
    return [...this.#children.values()].map(({ child }) => ({
      name: child.labels.name,
      kind: child.labels.kind,
      status: child.status,
    }));
  }

  /** Stops every child in reverse start order (nested supervisors recursively); never rejects. */
  stop(options: StopOptions = { drain: false }): Promise<void> {
    this.#stopped ??= this.#shutdown(options);
    return this.#stopped;
  }

  async #shutdown(options: StopOptions): Promise<void> {
    this.#status = "stopping";
    await this.#givingUp?.catch(() => {}); // a throwing onEscalate is the caller's to see, not ours
    await this.#stopAll(options);
    this.#status = "stopped";
  }

  #adopt(name: string, child: SupervisedChild): void {
    if (this.#children.has(name)) {
      throw new Error(`supervisor ${this.name} already has a child named ${name}`);
    }
    if (this.#status === "stopping" || this.#status === "stopped") {
      void child.stop({ drain: false }); // a shut-down supervisor hands out dead refs
      return;
    }
    this.#children.set(name, {
      child,
      restarts: [],
      consecutiveFailures: 0,
      restartTimer: undefined,
    });
    this.#startWhenFree(name, child);
  }

  #startWhenFree(name: string, child: SupervisedChild): void {
    if (this.#status !== "running" || child.status !== "new") return;
    const previous = this.#retiring.get(name);
    if (!previous) return child.start();
    void previous.then(() => {
      if (this.#status === "running" && this.#children.get(name)?.child === child) child.start();
    });
  }

  #entryOf(child: SupervisedChild): ChildEntry | undefined {
    const entry = this.#children.get(child.labels.name);
    return entry?.child === child ? entry : undefined;
  }

  #childHealthy(child: SupervisedChild): void {
    const entry = this.#entryOf(child);
    if (entry) entry.consecutiveFailures = 0;
  }

  #childFailed(child: SupervisedChild, error: unknown): void {
    const entry = this.#entryOf(child);
    // While stopping or giving up every child is being stopped anyway: no restarts.
    if (!entry || this.#status !== "running") return;
    const { intensity } = this.#policy;
    entry.restarts = recordRestart(entry.restarts, this.#environment.clock.now(), intensity);
    if (!intensityExceeded(entry.restarts, intensity)) return this.#scheduleRestart(entry);
    if (this.#spec.exhaustedChild === "suspend") return this.#suspend(entry, error);
    this.#giveUp({
      reason: "childRestarts",
      child: child.labels,
      error,
      count: entry.restarts.length,
    });
  }

  #scheduleRestart(entry: ChildEntry): void {
    const { clock, random, hooks } = this.#environment;
    entry.consecutiveFailures += 1;
    const delayMs = backoffDelay(this.#policy.backoff, entry.consecutiveFailures, random);
    hooks.event({
      kind: "restartScheduled",
      supervisor: this.name,
      actor: entry.child.labels,
      delayMs,
      consecutiveFailures: entry.consecutiveFailures,
    });
    entry.restartTimer = clock.setTimeout(() => this.#restart(entry), delayMs);
  }

  /**
   * A child past its intensity rests for the intensity window, then starts afresh; messages sent
   * meanwhile wait in its mailbox. Why neither OTP's escalation nor forgetting it:
   * - escalating would stop the actor of every other object, and repeated, exit the process: every
   *   cluster unmanaged because one crashes;
   * - a child given up for good would come back at its object's next watch event, which its own
   *   status writes cause: the crash loop would go on with a fresh budget, and an object without
   *   events would stay unmanaged until the resync. A rest is a real pause, and a bounded one.
   * Many children exhausted at once is no longer one object's fault but ours (a bug in every
   * pass, a broken dependency): past `maxRestarts` suspensions within the window this supervisor
   * gives up, its parent rebuilds the subtree, and past the parent's intensity the process exits.
   */
  #suspend(entry: ChildEntry, error: unknown): void {
    const { clock, hooks } = this.#environment;
    const { intensity } = this.#policy;
    this.#suspensions = recordRestart(this.#suspensions, clock.now(), intensity);
    if (intensityExceeded(this.#suspensions, intensity)) {
      return this.#giveUp({
        reason: "childrenSuspended",
        child: entry.child.labels,
        error,
        count: this.#suspensions.length,
      });
    }
    hooks.count("suspensions", entry.child.labels, 1);
    hooks.event({
      kind: "childSuspended",
      supervisor: this.name,
      actor: entry.child.labels,
      error,
      restarts: entry.restarts.length,
      resumeInMs: intensity.withinMs,
    });
    entry.restartTimer = clock.setTimeout(() => this.#resume(entry), intensity.withinMs);
  }

  #resume(entry: ChildEntry): void {
    entry.restarts = [];
    entry.consecutiveFailures = 0;
    this.#restart(entry);
  }

  #restart(entry: ChildEntry): void {
    entry.restartTimer = undefined;
    if (this.#status !== "running" || this.#entryOf(entry.child) !== entry) return;
    this.#environment.hooks.count("restarts", entry.child.labels, 1);
    entry.child.start();
  }

  #giveUp(cause: Omit<Escalation, "supervisor" | "withinMs">): void {
    this.#status = "crashed";
    const escalation: Escalation = {
      supervisor: this.name,
      ...cause,
      withinMs: this.#policy.intensity.withinMs,
    };
    const { hooks } = this.#environment;
    hooks.count("escalations", this.labels, 1);
    hooks.event({ kind: "supervisorGaveUp", ...escalation });
    this.#givingUp = this.#stopAll({ drain: false }).then(() => this.#escalate(escalation));
  }

  #escalate(escalation: Escalation): void {
    if (this.#status !== "crashed") return; // stopped meanwhile: nobody is waiting for news
    if (this.#upward.kind === "root") return this.#upward.onEscalate(escalation);
    this.#upward.parent.failed(this, new EscalationError(escalation));
  }

  async #stopAll(options: StopOptions): Promise<void> {
    for (const [name, entry] of [...this.#children].reverse()) {
      await this.#retire(name, entry, options);
    }
    await Promise.all(this.#retiring.values());
  }

  #retire(name: string, entry: ChildEntry, options: StopOptions): Promise<void> {
    if (entry.restartTimer !== undefined) this.#environment.clock.clearTimeout(entry.restartTimer);
    entry.restartTimer = undefined;
    this.#children.delete(name);
    const stopped = Promise.all([this.#retiring.get(name), entry.child.stop(options)]).then(() => {
      if (this.#retiring.get(name) === stopped) this.#retiring.delete(name);
    });
    this.#retiring.set(name, stopped);
    return stopped;
  }
}
