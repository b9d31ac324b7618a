// Observability callbacks the runtime calls; the metrics and logging layers implement them later.

/** Who a number or an event is about; `kind` is bounded (metrics label), `name` is one instance. */
export interface ActorLabels {
  readonly kind: string;
  readonly name: string;
}

export type RuntimeCounter =
  | "messagesProcessed"
  | "failures"
  | "restarts"
  | "messagesDropped"
  | "suspensions"
  | "escalations";

export type RuntimeGauge = "mailboxDepth";

/** What became of the message an actor was handling when it crashed. */
export type InFlightOutcome = "none" | "redelivered" | "absorbed" | "dropped";

export type DropReason = "poisonMessage" | "stoppedWithoutDrain" | "crashedWhileStopping";

/** Why a supervisor gave up; each counts something different against the restart intensity. */
export type EscalationReason =
  /** `child` was restarted more than `maxRestarts` times within `withinMs`. */
  | "childRestarts"
  /** More than `maxRestarts` of its children were suspended within `withinMs`; `child` is the last. */
  | "childrenSuspended"
  /** The supervisor's own `init` threw (`child` is the supervisor itself, `count` is 0). */
  | "initFailed";

export type RuntimeEvent =
  | {
    readonly kind: "actorCrashed";
    readonly actor: ActorLabels;
    readonly error: unknown;
    readonly inFlight: InFlightOutcome;
  }
  | {
    readonly kind: "restartScheduled";
    readonly supervisor: string;
    readonly actor: ActorLabels;
    readonly delayMs: number;
    readonly consecutiveFailures: number;
  }
  | {
    readonly kind: "messagesDropped";
    readonly actor: ActorLabels;
    readonly count: number;
    readonly reason: DropReason;
  }
  /** Restarted more often than the intensity allows: it rests for `resumeInMs`, then starts afresh. */
  | {
    readonly kind: "childSuspended";
    readonly supervisor: string;
    readonly actor: ActorLabels;
    readonly error: unknown;
    readonly restarts: number;
    readonly resumeInMs: number;
  }
  | { readonly kind: "terminateFailed"; readonly actor: ActorLabels; readonly error: unknown }
  /** Stopped for good: nothing more will be reported about this actor (this instance of it). */
  | { readonly kind: "actorStopped"; readonly actor: ActorLabels }
  | {
    readonly kind: "supervisorGaveUp";
    readonly supervisor: string;
    readonly reason: EscalationReason;
    readonly child: ActorLabels;
    readonly error: unknown;
    readonly count: number;
    readonly withinMs: number;
  };

export interface RuntimeHooks {
  count(counter: RuntimeCounter, actor: ActorLabels, amount: number): void;
  gauge(gauge: RuntimeGauge, actor: ActorLabels, value: number): void;
  event(event: RuntimeEvent): void;
}

export const silentHooks: RuntimeHooks = {
  count: () => {},
  gauge: () => {},
  event: () => {},
};

/** Wraps hooks so a faulty metrics or log sink can never break an actor loop or a supervisor. */
export function guardedHooks(hooks: RuntimeHooks): RuntimeHooks {
  const guard = (call: () => void) => {
    try {
      call();
    } catch {
      // Observability is best effort: losing a sample is better than crashing the operator.
    }
  };
  return {
    count: (counter, actor, amount) => guard(() => hooks.count(counter, actor, amount)),
    gauge: (gauge, actor, value) => guard(() => hooks.gauge(gauge, actor, value)),
    event: (event) => guard(() => hooks.event(event)),
  };
}
