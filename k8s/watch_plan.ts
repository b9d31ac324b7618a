// The list-watch state machine's decisions, pure: what to do after each list or watch attempt.
import { backoffDelayMs, type BackoffPolicy } from "./backoff.ts";
import type { K8sError } from "./errors.ts";
import type { KubeObject } from "./objects.ts";
import type { RawWatchEvent } from "./watch_protocol.ts";

/** Why a watch we were reading stopped. */
export type WatchOutcome =
  /** The server closed the stream (its `timeoutSeconds` ran out, or it went away cleanly). */
  | { readonly kind: "ended"; readonly events: number; readonly durationMs: number }
  /** The request failed before or while streaming. */
  | { readonly kind: "failed"; readonly error: K8sError }
  /** The server sent an ERROR event (410 Expired is the usual one). */
  | { readonly kind: "errorEvent"; readonly error: K8sError }
  /** We cut it: nothing arrived for too long, a resync is due, or someone asked. */
  | { readonly kind: "interrupted"; readonly reason: InterruptReason };

export type InterruptReason = "stall" | "resync" | "requested" | "stop";

export interface NextStep {
  readonly action: "list" | "watch" | "stop";
  readonly delayMs: number;
  /** Consecutive failures after this step; the backoff grows with it and a success clears it. */
  readonly failures: number;
}

/**
 * A stream that ended sooner than this with nothing in it is treated as a failure: a server
 * that closes watches at once would otherwise be hammered in a tight loop.
 */
export const minHealthyWatchMs = 1_000;

export function nextAfterWatch(
  outcome: WatchOutcome,
  failures: number,
  policy: BackoffPolicy,
  random: () => number,
): NextStep {
  const retry = (action: "list" | "watch"): NextStep => ({
    action,
    delayMs: backoffDelayMs(policy, failures + 1, random),
    failures: failures + 1,
  });
  switch (outcome.kind) {
    case "ended":
      return outcome.events > 0 || outcome.durationMs >= minHealthyWatchMs
        ? { action: "watch", delayMs: 0, failures: 0 }
        : retry("watch");
    case "failed":
      // A network failure keeps our place; anything the server refused (410 included, and a 404
      // while a CRD is not installed yet) is answered by listing again.
      if (outcome.error.kind === "gone") return { action: "list", delayMs: 0, failures };
      return outcome.error.kind === "transient" ? retry("watch") : retry("list");
    case "errorEvent":
      return outcome.error.kind === "gone"
        ? { action: "list", delayMs: 0, failures }
        : retry("list");
    case "interrupted":
      return nextAfterInterrupt(outcome.reason, failures, retry);
  }
}

function nextAfterInterrupt(
  reason: InterruptReason,
  failures: number,
  retry: (action: "list" | "watch") => NextStep,
): NextStep {
  switch (reason) {
    case "stop":
      return { action: "stop", delayMs: 0, failures };
    case "resync":
      return { action: "list", delayMs: 0, failures };
    case "requested":
      return { action: "watch", delayMs: 0, failures };
    case "stall": {
      // A silent connection is probably dead: reconnect at once, back off if it keeps happening.
      const step = retry("watch");
      return failures === 0 ? { ...step, delayMs: 0 } : step;
    }
  }
}

/** After a failed list: try again with backoff (the store keeps serving what it had). */
export function nextAfterListFailure(
  failures: number,
  policy: BackoffPolicy,
  random: () => number,
): NextStep {
  return {
    action: "list",
    delayMs: backoffDelayMs(policy, failures + 1, random),
    failures: failures + 1,
  };
}

/**
 * Where the next watch starts: every event but ERROR carries the resourceVersion the server has
 * reached (a bookmark carries nothing else), so resuming from it misses nothing and replays
 * nothing.
 */
export function resourceVersionAfter<T extends KubeObject>(
  current: string,
  event: RawWatchEvent<T>,
): string {
  if (event.type === "ERROR") return current;
  return event.object.metadata?.resourceVersion || current;
}
