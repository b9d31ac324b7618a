// Shared setup for supervisor and registry tests: a root on a manual clock with recorded hooks.
import type { RestartPolicy } from "../../../../actors/runtime/backoff.ts";
import {
  type Escalation,
  startSupervisor,
  type Supervisor,
} from "../../../../actors/runtime/supervisor.ts";
import {
  type ManualClock,
  manualClock,
  type RecordingHooks,
  recordingHooks,
} from "../../../../actors/runtime/testing.ts";

export interface Tree {
  readonly root: Supervisor;
  readonly clock: ManualClock;
  readonly hooks: RecordingHooks;
  readonly escalations: Escalation[];
}

export function policy(
  maxRestarts = 10,
  withinMs = 60_000,
  backoff: Partial<RestartPolicy["backoff"]> = {},
): RestartPolicy {
  return {
    backoff: { baseMs: 100, factor: 2, maxMs: 400, jitter: 0, ...backoff },
    intensity: { maxRestarts, withinMs },
  };
}

export function tree(
  restart: RestartPolicy = policy(),
  init?: (supervisor: Supervisor) => void,
  random: () => number = () => 0,
): Tree {
  const clock = manualClock();
  const hooks = recordingHooks();
  const escalations: Escalation[] = [];
  const root = startSupervisor({
    name: "root",
    restart,
    init,
    clock,
    random,
    hooks,
    onEscalate: (escalation) => void escalations.push(escalation),
  });
  return { root, clock, hooks, escalations };
}

/** The delays of every restart the runtime scheduled, in order. */
export function restartDelays(hooks: RecordingHooks, name?: string): number[] {
  return hooks.events.flatMap((event) =>
    event.kind === "restartScheduled" && (name === undefined || event.actor.name === name)
      ? [event.delayMs]
      : []
  );
}
