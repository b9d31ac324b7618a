// Leader election's decision, pure: given the Lease as read, create it, take or renew it, or wait.
import { formatMicroTime } from "./microtime.ts";

export interface LeaseSpec {
  readonly holderIdentity?: string;
  readonly leaseDurationSeconds?: number;
  readonly acquireTime?: string;
  readonly renewTime?: string;
  readonly leaseTransitions?: number;
}

export interface LeaseInput {
  /** The Lease's spec as just read; undefined when the Lease does not exist. */
  readonly spec: LeaseSpec | undefined;
  readonly identity: string;
  readonly leaseDurationSeconds: number;
  /** Monotonic ms now, and when this holder/renewTime pair was first seen by us. */
  readonly nowMs: number;
  readonly observedAtMs: number;
  /** Wall-clock time, written into acquireTime/renewTime. */
  readonly wallNow: Date;
}

export type LeaseDecision =
  | { readonly kind: "create"; readonly spec: LeaseSpec }
  | { readonly kind: "update"; readonly spec: LeaseSpec; readonly acquiring: boolean }
  | { readonly kind: "wait"; readonly holder: string; readonly expiresInMs: number };

/**
 * Follows client-go: another holder's lease counts as valid for its duration measured on *our*
 * clock from when we saw its last renewal, so clock skew between replicas cannot make two
 * leaders. An empty holder (a released lease) may be taken at once.
 */
export function decideLease(input: LeaseInput): LeaseDecision {
  const now = formatMicroTime(input.wallNow);
  const { spec, identity, leaseDurationSeconds } = input;
  if (!spec) {
    return {
      kind: "create",
      spec: {
        holderIdentity: identity,
        leaseDurationSeconds,
        acquireTime: now,
        renewTime: now,
        leaseTransitions: 0,
      },
    };
  }
  const holder = spec.holderIdentity ?? "";
  if (holder !== "" && holder !== identity) {
    const durationMs = (spec.leaseDurationSeconds ?? leaseDurationSeconds) * 1000;
    const expiresInMs = input.observedAtMs + durationMs - input.nowMs;
    if (expiresInMs > 0) return { kind: "wait", holder, expiresInMs };
  }
  const acquiring = holder !== identity;
  return {
    kind: "update",
    acquiring,
    spec: {
      holderIdentity: identity,
      leaseDurationSeconds,
      acquireTime: acquiring ? now : spec.acquireTime ?? now,
      renewTime: now,
      leaseTransitions: (spec.leaseTransitions ?? 0) + (acquiring ? 1 : 0),
    },
  };
}

/** The spec written on release: no holder, so a waiting replica takes over without waiting. */
export function releasedLease(spec: LeaseSpec, wallNow: Date): LeaseSpec {
  const now = formatMicroTime(wallNow);
  return {
    holderIdentity: "",
    leaseDurationSeconds: 1,
    acquireTime: now,
    renewTime: now,
    leaseTransitions: spec.leaseTransitions ?? 0,
  };
}

/** What identifies one renewal; when it changes, the holder is alive and our timer restarts. */
export function renewalMark(spec: LeaseSpec | undefined): string {
  return spec ? `${spec.holderIdentity ?? ""}@${spec.renewTime ?? ""}` : "";
}
