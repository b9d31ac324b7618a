// What happens to a pruned backup's object when the schedule's prunedBackupObjects is Delete. Pure.
//
// Deleting data is the one thing here that cannot be undone, so an object is deleted only when
// nothing could still need it:
// - only a Completed backup's object (a Failed upload wrote nothing, or nothing anyone vouched for);
// - never the object of the schedule's newest Completed backup, even with a history limit of 0;
// - never an object another EtcdBackup in the namespace still names in status.objectURL (any
//   phase: templates can reuse a key, and a BackingUp backup is writing it right now), compared
//   by store, bucket and key whatever the endpoint;
// - not yet while some backup in the namespace has not rendered its URL (it may be about to write
//   that key) or the schedule creates one in this very pass: the backup is then left for a later
//   pass, since deleting it now would forget the object for good.
// The actor deletes the object before the EtcdBackup, so a crash in between repeats the (idempotent)
// object deletion rather than orphaning the object.
import { parseObjectURL } from "../../objectstore/mod.ts";
import type { ScheduledBackupView } from "./plan.ts";

/** spec.prunedBackupObjects: `Keep` (the default, as before) or `Delete`. */
export type PrunePolicy = "Keep" | "Delete";

/** The object of a backup being pruned: deleted, or kept and why. */
export type PrunedObject =
  | { readonly kind: "delete"; readonly objectURL: string }
  | { readonly kind: "keep"; readonly objectURL: string; readonly why: string };

/** Or the backup is not pruned in this pass at all, and why. */
export type ObjectDecision = PrunedObject | { readonly kind: "defer"; readonly why: string };

export interface ObjectPruningInput {
  /** The schedule's own backups, pruned ones included. */
  readonly backups: readonly ScheduledBackupView[];
  /** Every other EtcdBackup in the namespace. */
  readonly otherBackups: readonly ScheduledBackupView[];
  /** Names of the schedule's backups the history limits prune in this pass. */
  readonly pruned: readonly string[];
  /** The schedule creates a backup in this pass. */
  readonly creating: boolean;
}

/** A decision for each pruned backup that has one; a pruned backup without one is just deleted. */
export function planObjectPruning(input: ObjectPruningInput): Map<string, ObjectDecision> {
  const decisions = new Map<string, ObjectDecision>();
  const pruned = new Set(input.pruned);
  const everyone = [...input.backups, ...input.otherBackups].filter((b) => !b.terminating);
  const newest = newestCompleted(input.backups);
  const unstarted = everyone.find((backup) => backup.phase === undefined);
  for (const name of input.pruned) {
    const backup = input.backups.find((candidate) => candidate.name === name);
    if (backup?.phase !== "Completed" || backup.objectURL === undefined) continue;
    const objectURL = backup.objectURL;
    const keep = (why: string) => decisions.set(name, { kind: "keep", objectURL, why });
    if (objectOf(objectURL) === undefined) {
      keep("its object URL cannot be read back");
    } else if (name === newest?.name) {
      keep("it is the newest completed backup of the schedule, whose object is never deleted");
    } else if (input.creating || unstarted) {
      const who = unstarted ? `EtcdBackup ${unstarted.name}` : "the backup created now";
      decisions.set(name, {
        kind: "defer",
        why: `${who} has no object URL yet and may write to the same key`,
      });
    } else {
      const referrers = everyone.filter((other) =>
        !pruned.has(other.name) && other.objectURL !== undefined &&
        sameObject(other.objectURL, objectURL)
      ).map((other) => other.name).sort();
      if (referrers.length > 0) {
        keep(`EtcdBackup ${referrers.join(", ")} still name${referrers.length > 1 ? "" : "s"} it`);
      } else {
        decisions.set(name, { kind: "delete", objectURL });
      }
    }
  }
  return decisions;
}

/** By creation, as the history limits count (the last one wins a tie on name). */
function newestCompleted(
  backups: readonly ScheduledBackupView[],
): ScheduledBackupView | undefined {
  return backups.filter((backup) => backup.phase === "Completed").sort((a, b) =>
    Date.parse(b.creationTimestamp) - Date.parse(a.creationTimestamp) ||
    b.name.localeCompare(a.name)
  )[0];
}

/** Store, bucket and key; the region default is irrelevant here, so no environment is read. */
function objectOf(url: string): string | undefined {
  const parsed = parseObjectURL(url, () => undefined);
  if (!parsed.ok) return undefined;
  const { kind, bucket, key } = parsed.value;
  return JSON.stringify([kind, bucket, key]);
}

function sameObject(a: string, b: string): boolean {
  const first = objectOf(a);
  return first !== undefined && first === objectOf(b);
}
