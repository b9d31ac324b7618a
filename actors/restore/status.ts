// The EtcdRestore status written at each phase change, with its one condition. Pure.
import type { EtcdRestoreStatus, RestorePhase, StatusCondition } from "../types.ts";
import { withTransitionTime } from "../conditions.ts";
import type { SnapshotSource } from "../snapshot_source.ts";

/** `kubectl wait --for=condition=Completed etcdrestore/x`: True done, False failed, Unknown running. */
export const completedCondition = "Completed";

export interface StatusInput {
  readonly previous: readonly StatusCondition[];
  readonly generation: number;
  readonly now: string;
}

export function restoringStatus(
  input: StatusInput,
  message: string,
  snapshot: SnapshotSource | undefined,
): EtcdRestoreStatus {
  return {
    ...status(input, "Restoring", { status: "Unknown", reason: "Restoring", message }),
    ...(snapshot ? { snapshot } : {}),
  };
}

export function completedStatus(input: StatusInput, message: string): EtcdRestoreStatus {
  return status(input, "Completed", { status: "True", reason: "Succeeded", message });
}

export function failedStatus(
  input: StatusInput,
  reason: string,
  message: string,
): EtcdRestoreStatus {
  return status(input, "Failed", { status: "False", reason, message });
}

function status(
  input: StatusInput,
  phase: RestorePhase,
  next: Pick<StatusCondition, "status" | "reason" | "message">,
): EtcdRestoreStatus {
  const condition = { type: completedCondition, ...next, observedGeneration: input.generation };
  return { phase, conditions: [withTransitionTime(condition, input.previous, input.now)] };
}
