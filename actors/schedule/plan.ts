// The EtcdBackupSchedule planner: is a tick due, may it run, which old backups go. Pure (`now` is
// passed in; croner only computes dates here, it runs no timers).
//
// A tick is due when the schedule has a tick after the last one handled and at or before now.
// Only the latest such tick runs, so an operator that was down for hours takes one backup, not
// one per missed tick. A due tick while an earlier backup is still running is skipped, not
// postponed. Ticks are in UTC.
import { Cron } from "croner";
import { backwardsRange, followsGrammar } from "./cron_rules.ts";
import type { BackupPhase } from "../types.ts";
import { planObjectPruning, type PrunedObject, type PrunePolicy } from "./prune.ts";

export interface ScheduledBackupView {
  readonly name: string;
  readonly phase: BackupPhase | undefined;
  readonly creationTimestamp: string;
  readonly terminating: boolean;
  /** status.objectURL: the object it writes or wrote, once it has started. */
  readonly objectURL?: string;
}

export interface ScheduleObservation {
  readonly scheduleName: string;
  readonly schedule: string;
  readonly suspend: boolean;
  readonly successfulBackupsHistoryLimit: number;
  readonly failedBackupsHistoryLimit: number;
  /** When the schedule was created: ticks before it never count. */
  readonly createdAt: Date;
  /** The latest tick already handled (created or skipped), if any. */
  readonly lastTick: Date | undefined;
  /** The backups this schedule controls. */
  readonly backups: readonly ScheduledBackupView[];
  /** spec.prunedBackupObjects: whether pruning a Completed backup also deletes its object. */
  readonly prunedBackupObjects?: PrunePolicy;
  /** Every other EtcdBackup in the namespace: an object one of them names is never deleted. */
  readonly otherBackups?: readonly ScheduledBackupView[];
  readonly now: Date;
}

export type ScheduleStep =
  | { readonly kind: "createBackup"; readonly name: string; readonly tick: Date }
  | { readonly kind: "skipTick"; readonly tick: Date; readonly runningBackup: string }
  | {
    readonly kind: "deleteBackup";
    readonly name: string;
    readonly phase: "Completed" | "Failed";
    /** With prunedBackupObjects: Delete, what happens to its object (deleted first, if so). */
    readonly object?: PrunedObject;
  };

export type ScheduleState =
  | { readonly kind: "active" }
  | { readonly kind: "suspended" }
  | { readonly kind: "invalid"; readonly message: string };

export interface SchedulePlan {
  readonly state: ScheduleState;
  readonly steps: readonly ScheduleStep[];
  /** The first tick after now: when to look again. Undefined when suspended or invalid. */
  readonly nextTick: Date | undefined;
}

export const defaultLimits = { successful: 3, failed: 1 } as const;

export function planSchedule(seen: ScheduleObservation): SchedulePlan {
  // Suspended means hands off: nothing is started and nothing is pruned.
  if (seen.suspend) return { state: { kind: "suspended" }, steps: [], nextTick: undefined };
  const cron = parseSchedule(seen.schedule);
  if (!cron.ok) {
    const prune = pruneSteps(seen, false);
    return { state: { kind: "invalid", message: cron.message }, steps: prune, nextTick: undefined };
  }
  const reference = laterOf(seen.lastTick, seen.createdAt);
  const tick = dueTick(cron.value, reference, seen.now);
  const nextTick = cron.value.nextRun(laterOf(reference, seen.now)) ?? undefined;
  // A backup created in this pass has no object URL yet, and may write to a pruned one's key.
  const prune = pruneSteps(seen, tick !== undefined);
  if (!tick) return { state: { kind: "active" }, steps: prune, nextTick };
  const running = runningBackups(seen.backups);
  const start: ScheduleStep = running.length > 0
    ? { kind: "skipTick", tick, runningBackup: running[0].name }
    : { kind: "createBackup", name: backupName(seen.scheduleName, tick), tick };
  return { state: { kind: "active" }, steps: [start, ...prune], nextTick };
}

export type ParsedSchedule =
  | { readonly ok: true; readonly value: Cron }
  | { readonly ok: false; readonly message: string };

/**
 * Five fields or an @-descriptor, in UTC. The grammar (cron_rules.ts) is the CRD's, so a schedule
 * refused here was refused at apply time too, unless it was stored before that rule existed; what
 * croner still refuses after it is reported as well, never silently left without ticks.
 */
export function parseSchedule(schedule: string): ParsedSchedule {
  const refuse = (detail: string): ParsedSchedule => ({
    ok: false,
    message: `spec.schedule ${JSON.stringify(schedule)} is not a valid cron schedule ` +
      `(${detail}); use five fields such as "0 */6 * * *" or a descriptor such as @hourly`,
  });
  if (!followsGrammar(schedule)) {
    return refuse(
      "minute 0-59, hour 0-23, day of month 1-31, month 1-12 or JAN-DEC, day of week 0-7 or " +
        "SUN-SAT; a step /N follows * or a range and is at most 60, 24, 31, 12 and 7 in the " +
        "five fields",
    );
  }
  const backwards = backwardsRange(schedule);
  if (backwards) return refuse(`the range ${backwards} runs backwards`);
  try {
    return { ok: true, value: new Cron(schedule.trim(), { timezone: "Etc/UTC", mode: "5-part" }) };
  } catch (error) {
    return refuse(error instanceof Error ? error.message : String(error));
  }
}

/** The latest tick in (reference, now], or undefined when there is none. */
export function dueTick(cron: Cron, reference: Date, now: Date): Date | undefined {
  const first = cron.nextRun(reference);
  if (!first || first.getTime() > now.getTime()) return undefined;
  // Ticks fall on whole seconds: the latest one at or before now is the latest before the
  // next whole second (previousRuns excludes its reference).
  const nextSecond = new Date(Math.floor(now.getTime() / 1000) * 1000 + 1000);
  const latest = cron.previousRuns(1, nextSecond)[0];
  return latest && latest.getTime() >= first.getTime() ? latest : first;
}

/** A backup that has not finished yet, including one created a moment ago with no status. */
function runningBackups(backups: readonly ScheduledBackupView[]): ScheduledBackupView[] {
  return backups
    .filter((backup) =>
      !backup.terminating && (backup.phase === undefined || backup.phase === "BackingUp")
    )
    .sort(oldestFirst);
}

function pruneSteps(seen: ScheduleObservation, creating: boolean): ScheduleStep[] {
  const steps = [
    ...excess(seen.backups, "Completed", seen.successfulBackupsHistoryLimit),
    ...excess(seen.backups, "Failed", seen.failedBackupsHistoryLimit),
  ];
  if (seen.prunedBackupObjects !== "Delete") return steps;
  const objects = planObjectPruning({
    backups: seen.backups,
    otherBackups: seen.otherBackups ?? [],
    pruned: steps.flatMap((step) => step.kind === "deleteBackup" ? [step.name] : []),
    creating,
  });
  // A deferred backup stays until its object can be decided: deleting it would orphan the object.
  return steps.flatMap((step): ScheduleStep[] => {
    if (step.kind !== "deleteBackup") return [step];
    const object = objects.get(step.name);
    if (object?.kind === "defer") return [];
    return [object ? { ...step, object } : step];
  });
}

/** The oldest finished backups beyond `limit`, oldest first. */
function excess(
  backups: readonly ScheduledBackupView[],
  phase: "Completed" | "Failed",
  limit: number,
): ScheduleStep[] {
  const finished = backups
    .filter((backup) => !backup.terminating && backup.phase === phase)
    .sort(oldestFirst);
  return finished
    .slice(0, Math.max(0, finished.length - Math.max(0, limit)))
    .map((backup): ScheduleStep => ({ kind: "deleteBackup", name: backup.name, phase }));
}

function oldestFirst(a: ScheduledBackupView, b: ScheduledBackupView): number {
  return Date.parse(a.creationTimestamp) - Date.parse(b.creationTimestamp) ||
    a.name.localeCompare(b.name);
}

/** Longest object name Kubernetes accepts for a custom resource (a DNS subdomain). */
const maxNameLength = 253;

/**
 * `<schedule>-<yyyymmddhhmmss>` of the tick in UTC: unique per tick, readable, and the same
 * name however often the tick is planned, so a repeated create is "already exists", not a twin.
 */
export function backupName(scheduleName: string, tick: Date): string {
  const stamp = tick.toISOString().replace(/\.\d+Z$/, "").replace(/[-T:]/g, "");
  const room = maxNameLength - stamp.length - 1;
  const prefix = scheduleName.slice(0, room).replace(/[-.]+$/, "");
  return `${prefix}-${stamp}`;
}

function laterOf(a: Date | undefined, b: Date): Date {
  return a && a.getTime() > b.getTime() ? a : b;
}
