// When a failed cluster step may be tried again (exponential backoff per step, whatever wakes the
// actor), and how soon a pass that can only wait looks again. Pure.
//
// Watch events wake the actor at any moment (its own status write, a pod's restart), so the delay
// it asked for is not enough: without this, a step that etcd refuses ("unhealthy cluster" after a
// promotion) was retried on every wake-up, every 60–150 ms.
import { backoffDelay, type BackoffPolicy } from "../runtime/backoff.ts";
import { diagnoseMember } from "./diagnose.ts";
import type { ClusterObservation, ClusterStep } from "./plan.ts";

export const stepBackoff: BackoffPolicy = { baseMs: 1_000, factor: 2, maxMs: 60_000, jitter: 0.2 };

export interface RetryState {
  /** Which step failed: its kind and what it acts on. */
  readonly stepKey: string;
  readonly failures: number;
  /** Epoch ms before which the same step is not tried again. */
  readonly notBefore: number;
  readonly lastError: string;
}

/** The same step on the same target: a retry. Another target or kind is a different step. */
export function stepKey(step: ClusterStep): string {
  switch (step.kind) {
    case "createPeers":
      return `createPeers:${step.peers.map((peer) => peer.name).join(",")}`;
    case "addLearner":
    case "removeMember":
    case "deletePeer":
    case "replacePeer":
    case "restartPeer":
    case "promote":
      return `${step.kind}:${step.peerName}`;
    case "startQuorumRecovery":
    case "finishQuorumRecovery":
      return `${step.kind}:${step.survivor}`;
    case "advanceQuorumRecovery":
      return `${step.kind}:${step.recovery.phase}`;
    case "startBackupRecovery":
    case "finishBackupRecovery":
      return `${step.kind}:${
        step.kind === "startBackupRecovery" ? step.recovery.backup : step.backup
      }`;
    case "createRecoveryRestore":
      return `${step.kind}:${step.recovery.restore}`;
    case "moveLeader":
      return `moveLeader:${step.fromId}>${step.toId}`;
    case "applyDisruptionBudget":
      return `applyDisruptionBudget:${step.minAvailable}`;
    case "recordFormed":
    case "createService":
    case "completeUpgrade":
    case "refuseUpgrade":
    case "wait":
      return step.kind;
  }
}

export function afterFailure(
  previous: RetryState | undefined,
  step: ClusterStep,
  error: string,
  now: number,
  random: () => number,
): RetryState {
  const key = stepKey(step);
  const failures = previous?.stepKey === key ? previous.failures + 1 : 1;
  return {
    stepKey: key,
    failures,
    notBefore: now + backoffDelay(stepBackoff, failures, random),
    lastError: error,
  };
}

/** How long `step` must still wait, if it is the step that failed and its backoff has not passed. */
export function heldBackMs(
  state: RetryState | undefined,
  step: ClusterStep,
  now: number,
): number | undefined {
  if (!state || state.stepKey !== stepKey(step) || now >= state.notBefore) return undefined;
  return state.notBefore - now;
}

/**
 * A pass that ends waiting looks again soon a few times: what it waits for inside etcd (a learner
 * catching up, a leader elected) raises no watch event, and is usually over within seconds. A wait
 * that outlasts those checks is for something outside (a member crash-looping, a node away, an
 * administrator), whose changes do wake the actor; it is then probed with a doubling delay, up to
 * the health interval, instead of every 3 s for as long as it lasts.
 */
export const waitBackoff = { quickChecks: 3, baseMs: 3_000 } as const;

/**
 * The delay after the `consecutiveWaits`-th pass in a row that ended in a wait (1 for the first),
 * never past `gateAtMs`, when a grace period ends and the plan changes with no event to say so.
 */
export function waitDelayMs(
  consecutiveWaits: number,
  healthIntervalMs: number,
  gateAtMs?: number,
  nowMs = 0,
): number {
  const doublings = Math.max(0, consecutiveWaits - waitBackoff.quickChecks);
  const capMs = Math.max(waitBackoff.baseMs, healthIntervalMs);
  const backoffMs = Math.min(capMs, waitBackoff.baseMs * 2 ** Math.min(doublings, 30));
  if (gateAtMs === undefined) return backoffMs;
  // A little past the moment, so the pass that comes finds the period over.
  return Math.min(backoffMs, Math.max(gateAtMs - nowMs + 50, 50));
}

/**
 * The next moment a plan made from `seen` changes by time alone: a member's grace period before
 * it is replaced, or a lost quorum's before it is recovered. Undefined when none is running.
 */
export function nextTimeGateMs(seen: ClusterObservation): number | undefined {
  const gates = seen.peers.flatMap((peer) => {
    const diagnosis = diagnoseMember(peer, seen.nowMs, seen.replaceAfterMs);
    return diagnosis.kind === "impaired" && diagnosis.lostAtMs !== undefined
      ? [diagnosis.lostAtMs]
      : [];
  });
  const lostSinceMs = seen.quorumLoss?.unavailableSinceMs;
  if (lostSinceMs !== undefined) gates.push(lostSinceMs + seen.replaceAfterMs);
  const future = gates.filter((atMs) => atMs > seen.nowMs);
  return future.length > 0 ? Math.min(...future) : undefined;
}
