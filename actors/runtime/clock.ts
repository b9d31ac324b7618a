// Time as a dependency: the runtime only reads the clock and sets timers through this interface.
//
// Tests pass a manual clock (see testing.ts) so backoff and scheduled messages are asserted
// exactly, without sleeping.

/** A number under Deno and the manual clock; Node's typings (pulled in by npm packages) say object. */
export type TimerId = number | ReturnType<typeof setTimeout>;

export interface Clock {
  /** Monotonic milliseconds; only differences are meaningful. */
  now(): number;
  setTimeout(callback: () => void, delayMs: number): TimerId;
  clearTimeout(timerId: TimerId): void;
}

/** The real clock: monotonic `performance.now()` so a wall-clock jump cannot fake a restart storm. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (callback, delayMs) => setTimeout(callback, delayMs),
  clearTimeout: (timerId) => clearTimeout(timerId),
};
