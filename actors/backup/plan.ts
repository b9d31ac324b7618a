// The EtcdBackup planner: new → BackingUp → Completed | Failed, decided from what is seen. Pure.
//
// A Completed or Failed backup is final: nothing ever retries it (a new EtcdBackup, or the next
// tick of a schedule, is the retry). An upload lives in the operator process that started it, so
// a backup seen BackingUp while no upload runs here was interrupted (the operator restarted or the
// actor crashed): it starts over, a bounded number of times, counted in an annotation so the count
// survives the restarts it is about.
import type { BackupPhase } from "../types.ts";

/** Uploads started per backup, restarts included, before an interrupted backup is given up. */
export const maxAttempts = 3;

/** Where the attempt count lives: metadata, because the status schema has no field for it. */
export const attemptsAnnotation = "etcd.improbable.io/backup-attempts";

export interface BackupObservation {
  /** `status.phase`; undefined for a backup nobody has started. */
  readonly phase: BackupPhase | undefined;
  /** An upload for this backup is running in this process. */
  readonly uploadRunning: boolean;
  /** An upload ended here and its outcome has not been written to the status yet. */
  readonly outcomePending: boolean;
  /** Uploads started so far, from the attempts annotation. */
  readonly attempts: number;
}

export type BackupStep =
  /** Completed or Failed: the backup is over for good. */
  | { readonly kind: "done" }
  /** The upload is running; its end will bring us back. */
  | { readonly kind: "wait" }
  /** Write the finished upload's outcome (Completed or Failed) with its Event. */
  | { readonly kind: "record" }
  /** Render the URL, read credentials, enter BackingUp and start streaming. */
  | { readonly kind: "start"; readonly attempt: number }
  /** BackingUp but no upload here: the process that ran it is gone; stream again from scratch. */
  | { readonly kind: "restart"; readonly attempt: number }
  /** Interrupted `attempts` times already: Failed, rather than a restart loop. */
  | { readonly kind: "giveUp"; readonly attempts: number };

export function planBackup(seen: BackupObservation): BackupStep {
  if (seen.phase === "Completed" || seen.phase === "Failed") return { kind: "done" };
  if (seen.outcomePending) return { kind: "record" };
  if (seen.uploadRunning) return { kind: "wait" };
  if (seen.attempts >= maxAttempts) return { kind: "giveUp", attempts: seen.attempts };
  const attempt = seen.attempts + 1;
  return seen.phase === "BackingUp" ? { kind: "restart", attempt } : { kind: "start", attempt };
}

/** The annotation's value as a count; anything unreadable counts as none. */
export function parseAttempts(value: string | undefined): number {
  const attempts = Number(value);
  return Number.isInteger(attempts) && attempts > 0 ? attempts : 0;
}
