// Restart arithmetic: exponential backoff with jitter, and the OTP restart-intensity window. Pure.

export interface BackoffPolicy {
  readonly baseMs: number;
  readonly factor: number;
  readonly maxMs: number;
  /** 0..1: each delay is shortened by up to this fraction, so restarts of many actors spread out. */
  readonly jitter: number;
}

export interface IntensityPolicy {
  /** More than this many restarts of one child within `withinMs` and the supervisor gives up. */
  readonly maxRestarts: number;
  readonly withinMs: number;
}

export interface RestartPolicy {
  readonly backoff: BackoffPolicy;
  readonly intensity: IntensityPolicy;
}

export const defaultRestartPolicy: RestartPolicy = {
  backoff: { baseMs: 100, factor: 2, maxMs: 30_000, jitter: 0.2 },
  intensity: { maxRestarts: 10, withinMs: 60_000 },
};

/**
 * The delay before a child's restart after `consecutiveFailures` (≥ 1) failures in a row. Jitter
 * only ever shortens the delay, so `maxMs` stays a true upper bound.
 */
export function backoffDelay(
  policy: BackoffPolicy,
  consecutiveFailures: number,
  random: () => number,
): number {
  const exponential = policy.baseMs * policy.factor ** Math.max(0, consecutiveFailures - 1);
  const capped = Math.min(policy.maxMs, exponential);
  return Math.round(capped * (1 - policy.jitter * random()));
}

/** The restart times still inside the window at `now`, with the restart at `now` added. */
export function recordRestart(
  history: readonly number[],
  now: number,
  policy: IntensityPolicy,
): readonly number[] {
  return [...history.filter((at) => now - at < policy.withinMs), now];
}

export function intensityExceeded(history: readonly number[], policy: IntensityPolicy): boolean {
  return history.length > policy.maxRestarts;
}
