// Test helpers: a clock whose timers fire only when told, and hooks that record what they hear.
import type { Clock, TimerId } from "./clock.ts";
import type { RuntimeCounter, RuntimeEvent, RuntimeGauge, RuntimeHooks } from "./hooks.ts";

export interface PendingTimer {
  readonly dueAt: number;
  readonly delayMs: number;
}

export interface ManualClock extends Clock {
  /** Moves time forward, firing due timers in order and letting the actors react after each. */
  advance(ms: number): Promise<void>;
  pending(): readonly PendingTimer[];
}

interface ManualTimer extends PendingTimer {
  readonly timerId: TimerId;
  readonly callback: () => void;
}

/** Lets every promise callback that is already queued run (one macrotask turn). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

export function manualClock(startMs = 0): ManualClock {
  let now = startMs;
  let nextId = 1;
  const timers = new Map<TimerId, ManualTimer>();
  const nextDue = (limit: number) =>
    [...timers.values()]
      .filter((timer) => timer.dueAt <= limit)
      .sort((a, b) => a.dueAt - b.dueAt)[0]; // stable: equal due times fire in creation order
  return {
    now: () => now,
    setTimeout(callback, delayMs) {
      const timerId = nextId++;
      timers.set(timerId, { timerId, callback, delayMs, dueAt: now + Math.max(0, delayMs) });
      return timerId;
    },
    clearTimeout: (timerId) => void timers.delete(timerId),
    async advance(ms) {
      const target = now + ms;
      await settle();
      for (let timer = nextDue(target); timer; timer = nextDue(target)) {
        timers.delete(timer.timerId);
        now = timer.dueAt;
        timer.callback();
        await settle();
      }
      now = target;
    },
    pending: () =>
      [...timers.values()]
        .sort((a, b) => a.dueAt - b.dueAt)
        .map(({ dueAt, delayMs }) => ({ dueAt, delayMs })),
  };
}

export interface RecordingHooks extends RuntimeHooks {
  readonly events: RuntimeEvent[];
  /** The sum of a counter, for one actor name or for all. */
  total(counter: RuntimeCounter, name?: string): number;
  /** The last value of a gauge for one actor. */
  last(gauge: RuntimeGauge, name: string): number | undefined;
}

export function recordingHooks(): RecordingHooks {
  const events: RuntimeEvent[] = [];
  const counts: { counter: RuntimeCounter; name: string; amount: number }[] = [];
  const gauges = new Map<string, number>();
  return {
    events,
    count: (counter, actor, amount) => void counts.push({ counter, name: actor.name, amount }),
    gauge: (gauge, actor, value) => void gauges.set(`${gauge}/${actor.name}`, value),
    event: (event) => void events.push(event),
    total: (counter, name) =>
      counts
        .filter((entry) => entry.counter === counter && (name === undefined || entry.name === name))
        .reduce((sum, entry) => sum + entry.amount, 0),
    last: (gauge, name) => gauges.get(`${gauge}/${name}`),
  };
}
