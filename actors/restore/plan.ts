// The EtcdRestore planner: Pending → Restoring → Completed | Failed, one step per pass. Pure.
//
// A restore only ever creates: it refuses (Failed, nothing touched) when the EtcdCluster or any
// PVC of that cluster exists and was not made by this very restore. What it made is recognised by
// the restore's uid in an annotation, so a later pass, or the operator after a restart, does not
// mistake its own PVCs (or the cluster it created just before crashing) for someone else's data.
import type { KubeObject } from "../../k8s/objects.ts";
import type { RestorePhase } from "../types.ts";
import {
  type Member,
  members,
  restoredCluster,
  restorePod,
  restorePodName,
  type RestoreTarget,
  volumeClaim,
} from "./resources.ts";

/** Something of the target cluster's that exists; `restoreUid` is the mark of who made it. */
export interface ExistingObject {
  readonly name: string;
  readonly restoreUid: string | undefined;
}

/** The target EtcdCluster as a restore into an existing cluster must check it. */
export interface ExistingCluster extends ExistingObject {
  readonly uid?: string;
  /** The EtcdRestore its quorum recovery record names, while it recovers from a backup. */
  readonly recoveryRestore?: string;
}

export interface RestorePodState {
  readonly name: string;
  /** `status.phase`: Pending, Running, Succeeded, Failed, Unknown. */
  readonly phase: string | undefined;
  /** Why it failed, with the failing container's log tail, when it did. */
  readonly failure: string | undefined;
}

export interface RestoreObservation {
  readonly phase: RestorePhase | undefined;
  readonly target: RestoreTarget;
  /** The EtcdCluster named `clusterTemplate.clusterName`, if any. */
  readonly cluster: ExistingCluster | undefined;
  /** PVCs labelled for the cluster or named as one of its members. */
  readonly volumeClaims: readonly ExistingObject[];
  /** This restore's pods. */
  readonly pods: readonly RestorePodState[];
}

export type FailureReason =
  | "ClusterExists"
  | "ClusterGone"
  | "VolumeClaimsExist"
  | "RestorePodFailed";

export type RestoreStep =
  /** Completed or Failed: nothing more to do, ever. */
  | { readonly kind: "done" }
  | { readonly kind: "fail"; readonly reason: FailureReason; readonly message: string }
  /** Enter Restoring (status and the RestoreStarted Event) before creating anything. */
  | { readonly kind: "start"; readonly message: string }
  | { readonly kind: "createVolumeClaims"; readonly claims: readonly KubeObject[] }
  | { readonly kind: "createPods"; readonly pods: readonly KubeObject[] }
  | { readonly kind: "createCluster"; readonly cluster: KubeObject }
  | { readonly kind: "complete"; readonly message: string }
  | { readonly kind: "wait"; readonly reason: string };

export function planRestore(seen: RestoreObservation): RestoreStep {
  if (seen.phase === "Completed" || seen.phase === "Failed") return { kind: "done" };
  const { target } = seen;
  const uid = target.restore.uid;
  const refusal = refuse(seen);
  if (refusal) return refusal;
  const all = members(target);
  if (seen.phase !== "Restoring") return { kind: "start", message: startMessage(target) };
  // The cluster exists only once every pod succeeded: creating it was the last step.
  if (!target.intoCluster && seen.cluster?.restoreUid === uid) {
    return { kind: "complete", message: completedMessage(target) };
  }
  const claimed = new Set(seen.volumeClaims.map((claim) => claim.name));
  const missingClaims = all.filter((member) => !claimed.has(member.name));
  if (missingClaims.length > 0) {
    return {
      kind: "createVolumeClaims",
      claims: missingClaims.map((member) => volumeClaim(target, member)),
    };
  }
  const failed = seen.pods.find((pod) => pod.phase === "Failed");
  if (failed) {
    return {
      kind: "fail",
      reason: "RestorePodFailed",
      message: `restore pod ${failed.name} failed: ${failed.failure ?? "no reason given"}`,
    };
  }
  const podNames = new Set(seen.pods.map((pod) => pod.name));
  const missingPods = all.filter((member) => !podNames.has(restorePodName(member.name)));
  if (missingPods.length > 0) {
    return { kind: "createPods", pods: missingPods.map((member) => restorePod(target, member)) };
  }
  const running = seen.pods.filter((pod) => pod.phase !== "Succeeded");
  if (running.length > 0) {
    return {
      kind: "wait",
      reason: `waiting for restore pods ${running.map((pod) => pod.name).join(", ")}`,
    };
  }
  // Into an existing cluster: its actor starts the members on the filled volumes.
  if (target.intoCluster) return { kind: "complete", message: completedMessage(target) };
  return { kind: "createCluster", cluster: restoredCluster(target) };
}

/** The cluster or PVCs exist and are not this restore's: refuse, whatever the phase. */
function refuse(seen: RestoreObservation): RestoreStep | undefined {
  const { target } = seen;
  const uid = target.restore.uid;
  const where = `in namespace ${target.restore.namespace}`;
  if (target.intoCluster) {
    // Only the recovery that cluster recorded may fill its volumes: never another cluster's
    // namesake, nor a restore someone made look like one.
    if (!seen.cluster || seen.cluster.uid !== target.intoCluster) {
      return {
        kind: "fail",
        reason: "ClusterGone",
        message: `the EtcdCluster ${target.clusterName} this restore recovers (uid ` +
          `${target.intoCluster}) no longer exists ${where}; nothing was restored`,
      };
    }
    if (seen.cluster.recoveryRestore !== target.restore.name) {
      return {
        kind: "fail",
        reason: "ClusterExists",
        message: `EtcdCluster ${target.clusterName} exists ${where} and its quorum recovery does ` +
          `not name this restore: a restore fills an existing cluster's volumes only when that ` +
          `cluster's recovery from a backup created it; touched nothing`,
      };
    }
  } else if (seen.cluster && seen.cluster.restoreUid !== uid) {
    return {
      kind: "fail",
      reason: "ClusterExists",
      message: `EtcdCluster ${target.clusterName} already exists ${where}: a restore only ` +
        `creates a new cluster and touched nothing; choose another clusterTemplate.clusterName ` +
        `or delete the cluster and its PersistentVolumeClaims first`,
    };
  }
  const foreign = seen.volumeClaims.filter((claim) => claim.restoreUid !== uid)
    .map((claim) => claim.name).sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
  if (foreign.length > 0) {
    return {
      kind: "fail",
      reason: "VolumeClaimsExist",
      message: `PersistentVolumeClaims of cluster ${target.clusterName} already exist ${where} ` +
        `(${foreign.join(", ")}): they may hold another cluster's data, so the restore touched ` +
        `nothing; delete them or choose another clusterTemplate.clusterName`,
    };
  }
  return undefined;
}

function intoWhat(target: RestoreTarget): string {
  return target.intoCluster
    ? `the volumes of existing cluster ${target.clusterName}, recovering from a lost quorum`
    : `new cluster ${target.clusterName}`;
}

function startMessage(target: RestoreTarget): string {
  const { snapshot } = target;
  const verified = snapshot
    ? ` (checked against EtcdBackup ${snapshot.backupName}, the last to write it: sha256 ` +
      `${snapshot.sha256})`
    : " (no Completed EtcdBackup in this namespace recorded it: only its size is checked)";
  return `restoring ${target.objectURL}${verified} into ${target.clusterSpec.replicas} ` +
    `member(s) of ${intoWhat(target)} (etcd ${target.clusterSpec.version})`;
}

function completedMessage(target: RestoreTarget): string {
  return target.intoCluster
    ? `restored ${target.objectURL} into the volumes of ${target.clusterSpec.replicas} ` +
      `member(s) of EtcdCluster ${target.clusterName}, which starts them`
    : `restored ${target.objectURL} into ${target.clusterSpec.replicas} member(s) and created ` +
      `EtcdCluster ${target.clusterName}`;
}

/** The members a target has, re-exported for callers that list what to observe. */
export function memberNames(target: RestoreTarget): string[] {
  return members(target).map((member: Member) => member.name);
}
