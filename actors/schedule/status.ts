// The EtcdBackupSchedule status: last schedule and success times, and whether it is scheduling. Pure.
import type { StatusCondition } from "../types.ts";
import { withTransitionTime } from "../conditions.ts";
import type { ScheduleState } from "./plan.ts";

/** True while the schedule starts backups; False when suspended or its schedule is invalid. */
export const scheduledCondition = "Scheduled";
/** The Scheduled condition's reason (and the Warning Event's) for a schedule that cannot tick. */
export const invalidScheduleReason = "InvalidSchedule";

export interface ScheduleStatus {
  readonly lastScheduleTime?: string;
  readonly lastSuccessfulTime?: string;
  readonly conditions: readonly StatusCondition[];
}

export interface ScheduleStatusInput {
  readonly previous: {
    readonly lastScheduleTime?: string;
    readonly lastSuccessfulTime?: string;
    readonly conditions?: readonly StatusCondition[];
  };
  /** The latest tick this actor created a backup for (in this pass or an earlier one). */
  readonly createdTick: Date | undefined;
  /** completionTime of every Completed backup the schedule still has. */
  readonly completionTimes: readonly string[];
  readonly state: ScheduleState;
  readonly nextTick: Date | undefined;
  readonly generation: number;
  readonly now: string;
}

export function scheduleStatus(input: ScheduleStatusInput): ScheduleStatus {
  // Never moves back either: a status read from a lagging cache may predate the last tick.
  const lastScheduleTime = latest([
    ...(input.createdTick ? [formatTime(input.createdTick)] : []),
    ...(input.previous.lastScheduleTime ? [input.previous.lastScheduleTime] : []),
  ]);
  // Never moves back: pruning the newest success's backup does not undo that it happened.
  const lastSuccessfulTime = latest([
    ...input.completionTimes,
    ...(input.previous.lastSuccessfulTime ? [input.previous.lastSuccessfulTime] : []),
  ]);
  return {
    ...(lastScheduleTime ? { lastScheduleTime } : {}),
    ...(lastSuccessfulTime ? { lastSuccessfulTime } : {}),
    conditions: [condition(input)],
  };
}

function condition(input: ScheduleStatusInput): StatusCondition {
  return withTransitionTime(
    {
      type: scheduledCondition,
      ...describe(input.state, input.nextTick),
      observedGeneration: input.generation,
    },
    input.previous.conditions ?? [],
    input.now,
  );
}

function describe(
  state: ScheduleState,
  nextTick: Date | undefined,
): Pick<StatusCondition, "status" | "reason" | "message"> {
  switch (state.kind) {
    case "suspended":
      return {
        status: "False",
        reason: "Suspended",
        message: "spec.suspend is true: no backups are started and none are pruned",
      };
    case "invalid":
      return { status: "False", reason: invalidScheduleReason, message: state.message };
    case "active":
      return {
        status: "True",
        reason: "Scheduled",
        message: nextTick
          ? `the next backup is due at ${formatTime(nextTick)}`
          : "the schedule has no further ticks",
      };
  }
}

function latest(times: readonly string[]): string | undefined {
  let best: string | undefined;
  for (const time of times) {
    if (best === undefined || Date.parse(time) > Date.parse(best)) best = time;
  }
  return best;
}

/** RFC 3339 in UTC without fractions, as Kubernetes writes times. */
export function formatTime(time: Date): string {
  return time.toISOString().replace(/\.\d+Z$/, "Z");
}
