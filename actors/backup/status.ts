// The EtcdBackup status the actor writes at each phase change, with its one condition. Pure.
import type { BackupFailure } from "./failure.ts";
import type { EtcdBackupStatus, StatusCondition } from "../types.ts";
import { withTransitionTime } from "../conditions.ts";

/** `kubectl wait --for=condition=Completed etcdbackup/x`: True done, False failed, Unknown running. */
export const completedCondition = "Completed";

export interface BackupResult {
  readonly sizeBytes: number;
  readonly sha256: string;
  readonly revision: number;
}

interface Common {
  readonly previous: readonly StatusCondition[];
  readonly generation: number;
  readonly now: string;
}

export function backingUpStatus(
  input: Common & {
    readonly startTime: string | undefined;
    readonly objectURL: string;
    readonly clusterURL: string;
    readonly attempt: number;
  },
): EtcdBackupStatus {
  const again = input.attempt > 1 ? ` (attempt ${input.attempt})` : "";
  return {
    phase: "BackingUp",
    startTime: input.startTime ?? input.now,
    objectURL: input.objectURL,
    conditions: [condition(input, {
      status: "Unknown",
      reason: "BackingUp",
      message: `streaming a snapshot of ${input.clusterURL} to ${input.objectURL}${again}`,
    })],
  };
}

export function completedStatus(
  input: Common & { readonly objectURL: string; readonly result: BackupResult },
): EtcdBackupStatus {
  const { result } = input;
  return {
    phase: "Completed",
    completionTime: input.now,
    objectURL: input.objectURL,
    sizeBytes: result.sizeBytes,
    revision: result.revision,
    sha256: result.sha256,
    conditions: [condition(input, {
      status: "True",
      reason: "Succeeded",
      message: succeededMessage(input.objectURL, result),
    })],
  };
}

export function failedStatus(
  input: Common & { readonly objectURL: string | undefined; readonly failure: BackupFailure },
): EtcdBackupStatus {
  return {
    phase: "Failed",
    ...(input.objectURL === undefined ? {} : { objectURL: input.objectURL }),
    conditions: [condition(input, {
      status: "False",
      reason: input.failure.reason,
      message: input.failure.message,
    })],
  };
}

export function succeededMessage(objectURL: string, result: BackupResult): string {
  return `uploaded ${result.sizeBytes} bytes at revision ${result.revision} to ${objectURL} ` +
    `(sha256 ${result.sha256})`;
}

function condition(
  input: Common,
  next: Pick<StatusCondition, "status" | "reason" | "message">,
): StatusCondition {
  return withTransitionTime(
    { type: completedCondition, ...next, observedGeneration: input.generation },
    input.previous,
    input.now,
  );
}
