// What a quorum recovery under way records on its EtcdCluster (quorumRecoveryAnnotation, JSON).
// Pure. The cluster actor writes it before each phase; the restore actor reads it to know that a
// restore into an existing cluster is the one that cluster asked for.

/** From the survivor with the most data, restarted alone with --force-new-cluster. */
export interface SurvivorRecovery {
  readonly source: "survivor";
  readonly survivor: string;
  readonly memberId: string;
  /** forcing: restarting the survivor alone; clearing: restarting it without the flag. */
  readonly phase: "forcing" | "clearing";
}

/** No member's data survives: from the latest Completed EtcdBackup, restored into the members. */
export interface BackupRecovery {
  readonly source: "backup";
  /** The EtcdBackup chosen when the recovery began, and what it recorded. */
  readonly backup: string;
  readonly backupUID: string;
  readonly objectURL: string;
  readonly completionTime: string;
  readonly credentialsSecret?: string;
  /** clearing: the lost peers and volumes go; restoring: the EtcdRestore `restore` fills new ones. */
  readonly phase: "clearing" | "restoring";
  readonly restore?: string;
}

export type QuorumRecovery = SurvivorRecovery | BackupRecovery;

export function parseQuorumRecovery(text: string | undefined): QuorumRecovery | undefined {
  if (!text) return undefined;
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined; // not ours, or damaged: treated as absent
  }
  if (typeof value !== "object" || value === null) return undefined;
  const stringAt = (key: string) =>
    typeof value[key] === "string" ? value[key] as string : undefined;
  // Records written before recoveries from a backup existed have no `source`.
  if (value.source === undefined || value.source === "survivor") {
    const survivor = stringAt("survivor");
    const memberId = stringAt("memberId");
    if (survivor && memberId && (value.phase === "forcing" || value.phase === "clearing")) {
      return { source: "survivor", survivor, memberId, phase: value.phase };
    }
    return undefined;
  }
  if (value.source !== "backup") return undefined;
  const backup = stringAt("backup");
  const backupUID = stringAt("backupUID");
  const objectURL = stringAt("objectURL");
  const completionTime = stringAt("completionTime");
  if (!backup || !backupUID || !objectURL || !completionTime) return undefined;
  if (value.phase !== "clearing" && value.phase !== "restoring") return undefined;
  const credentialsSecret = stringAt("credentialsSecret");
  const restore = stringAt("restore");
  return {
    source: "backup",
    backup,
    backupUID,
    objectURL,
    completionTime,
    ...(credentialsSecret ? { credentialsSecret } : {}),
    phase: value.phase,
    ...(restore ? { restore } : {}),
  };
}

export function formatQuorumRecovery(recovery: QuorumRecovery): string {
  return JSON.stringify(recovery);
}

/** The EtcdRestore a cluster's record names as filling its volumes, if any. */
export function restoreOfRecord(text: string | undefined): string | undefined {
  const recovery = parseQuorumRecovery(text);
  return recovery?.source === "backup" ? recovery.restore : undefined;
}
