// Exponential backoff and jitter as pure arithmetic; the random source is a parameter.

export interface BackoffPolicy {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly factor: number;
  /** Fraction (0..1) of each delay that is randomised, so many watchers do not retry in step. */
  readonly jitter: number;
}

export const defaultBackoff: BackoffPolicy = {
  initialMs: 500,
  maxMs: 30_000,
  factor: 2,
  jitter: 0.5,
};

/**
 * The delay before retry number `failures` (1 = first retry). Jitter only shortens the delay,
 * so `maxMs` stays a hard ceiling that an operator can reason about.
 */
export function backoffDelayMs(
  policy: BackoffPolicy,
  failures: number,
  random: () => number,
): number {
  if (failures <= 0) return 0;
  const base = Math.min(policy.maxMs, policy.initialMs * policy.factor ** (failures - 1));
  return Math.round(base * (1 - policy.jitter * random()));
}

/** A whole number of seconds spread uniformly over [min, max]. */
export function jitteredSeconds(min: number, max: number, random: () => number): number {
  return min + Math.floor(random() * (max - min + 1));
}

/** `periodMs` shortened by up to `jitter` of itself, so resyncs of many watchers spread out. */
export function jitteredPeriodMs(periodMs: number, jitter: number, random: () => number): number {
  return Math.round(periodMs * (1 - jitter * random()));
}
