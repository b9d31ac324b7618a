// Why a backup failed, as a condition reason and a message that says what to fix. Pure.
import type { EtcdFailure } from "../../etcd/errors.ts";
import type { K8sError } from "../../k8s/errors.ts";
import type { ObjectFailure, URLError } from "../../objectstore/mod.ts";
import { redactSecrets, type TenancyRefusal } from "../tenancy.ts";
import type { TemplateError } from "./template.ts";

export type BackupFailureReason =
  | "InvalidTemplate"
  | "InvalidObjectURL"
  | "SecretNotFound"
  | "SecretUnreadable"
  | "InvalidCredentials"
  | "EtcdUnreachable"
  | "SnapshotFailed"
  | "BucketNotFound"
  | "AccessDenied"
  | "StoreUnreachable"
  | "UploadFailed"
  | "Interrupted"
  /** actors/tenancy.ts: the source is not a member of a cluster in the backup's namespace. */
  | "SourceOutsideNamespace"
  /** actors/tenancy.ts: no Secret, and the operator's own credentials may not be used. */
  | "AmbientCredentialsRefused";

export interface BackupFailure {
  readonly reason: BackupFailureReason;
  readonly message: string;
}

/** The spec is immutable, so every fix to it means a new object. */
const newBackup = "then create a new EtcdBackup (its spec cannot change)";
/** A failed backup is never retried, so whatever the fix, a new object picks it up. */
const retry = "then create a new EtcdBackup (a failed one is not retried)";

export function templateFailure(error: TemplateError): BackupFailure {
  return {
    reason: "InvalidTemplate",
    message: `${error.message}; fix spec.destination.objectURLTemplate, ${newBackup}`,
  };
}

export function urlFailure(error: URLError): BackupFailure {
  return {
    reason: "InvalidObjectURL",
    message: `the rendered objectURLTemplate is not a usable object URL: ${error.message}; ` +
      `fix spec.destination.objectURLTemplate, ${newBackup}`,
  };
}

/** Reading spec.credentialsSecretRef failed for a reason retrying will not fix. */
export function secretFailure(error: K8sError, namespace: string, name: string): BackupFailure {
  if (error.kind === "notFound") {
    return {
      reason: "SecretNotFound",
      message: `Secret ${namespace}/${name} (spec.credentialsSecretRef) does not exist: create ` +
        `it with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for s3://, or ` +
        `GOOGLE_APPLICATION_CREDENTIALS_JSON for gs://, ${retry}`,
    };
  }
  const hint = error.kind === "forbidden"
    ? "the operator's role needs get on secrets"
    : "check the Secret";
  return {
    reason: "SecretUnreadable",
    message: `cannot read Secret ${namespace}/${name} (spec.credentialsSecretRef): ` +
      `${error.message}; ${hint}`,
  };
}

/** The Secret or the environment holds no usable credentials for this store. */
export function credentialsFailure(error: ObjectFailure, source: string): BackupFailure {
  return {
    reason: "InvalidCredentials",
    message: `${error.message.replace(/^the Secret/, source)}; fix the credentials, ${retry}`,
  };
}

/** The tenancy rules refused the backup before anything was read, dialled or uploaded. */
export function refusedFailure(refusal: TenancyRefusal): BackupFailure {
  return { reason: refusal.reason, message: `${refusal.message}; ${newBackup}` };
}

/** The snapshot could not start: `dialled` is where we connected, which may be a pod IP. */
export function etcdFailure(
  error: EtcdFailure,
  clusterURL: string,
  dialled: string,
): BackupFailure {
  const via = dialled === clusterURL ? "" : ` (dialled as ${dialled})`;
  if (error.kind === "unreachable") {
    return {
      reason: "EtcdUnreachable",
      message: `cannot reach etcd at ${clusterURL}${via}: ${redactSecrets(error.message)}; ` +
        `spec.source.clusterURL ` +
        `must be the client URL of a running member, e.g. http://my-cluster-0.my-cluster:2379`,
    };
  }
  return {
    reason: "SnapshotFailed",
    message: `etcd at ${clusterURL}${via} refused the snapshot: ${redactSecrets(error.message)}; ` +
      `check that member's health and logs`,
  };
}

/** The member named by a `.svc` URL has no running pod (only seen outside the cluster). */
export function noPodFailure(clusterURL: string, why: string): BackupFailure {
  return {
    reason: "EtcdUnreachable",
    message: `cannot reach etcd at ${clusterURL}: ${why}; wait for the member to run, or point ` +
      `spec.source.clusterURL at a running member`,
  };
}

const storeHints: Partial<Record<ObjectFailure["kind"], [BackupFailureReason, string]>> = {
  bucketNotFound: [
    "BucketNotFound",
    "create the bucket, or fix its name (and endpoint) in spec.destination.objectURLTemplate",
  ],
  accessDenied: [
    "AccessDenied",
    "check the credentials (spec.credentialsSecretRef, or the operator's own where allowed) and " +
    "that they may write to the bucket",
  ],
  invalidCredentials: ["InvalidCredentials", "fix the credentials"],
  unreachable: [
    "StoreUnreachable",
    "check the endpoint in the object URL and that the store is up",
  ],
  sourceFailed: [
    "SnapshotFailed",
    "the etcd member stopped sending the snapshot; check its health and logs",
  ],
};

export function storeFailure(error: ObjectFailure): BackupFailure {
  const [reason, hint] = storeHints[error.kind] ?? ["UploadFailed", "see the message"];
  // SDK messages may quote a request URL: never its signature or upload session.
  return { reason, message: `${redactSecrets(error.message)}; ${hint}, ${retry}` };
}

/** The transfer made no progress for `seconds`: etcd or the store hung. */
export function stalledFailure(seconds: number): BackupFailure {
  return {
    reason: "UploadFailed",
    message: `no snapshot bytes moved for ${seconds} s, so the transfer was stopped; check the ` +
      `etcd member and the object store`,
  };
}

export function interruptedFailure(attempts: number): BackupFailure {
  return {
    reason: "Interrupted",
    message: `the backup was interrupted ${attempts} times (the operator restarted while it ` +
      `was running) and is not started again; check the operator's logs, then create a new ` +
      `EtcdBackup`,
  };
}
