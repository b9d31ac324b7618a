// The object-store facade: s3:// and gs:// transfers by location, for backups and restore pods.
import type { CredentialsSource } from "./credentials.ts";
import { failure, type ObjectResult } from "./errors.ts";
import type { Digest, ObjectDownload, ObjectMetadata } from "./streams.ts";
import { formatObjectURL, type ObjectLocation } from "./url.ts";

export {
  credentialsFromEnvironment,
  credentialsFromSecret,
  type CredentialsSource,
  decodeSecretData,
  describeCredentials,
  type GcsCredentials,
  type ObjectCredentials,
  type S3Credentials,
  type SecretData,
  secretKeys,
} from "./credentials.ts";
export {
  isTransient,
  type ObjectErrorKind,
  type ObjectFailure,
  type ObjectResult,
  ObjectStoreError,
} from "./errors.ts";
export type { Digest, ObjectDownload, ObjectMetadata } from "./streams.ts";
export {
  formatObjectURL,
  type GcsLocation,
  type ObjectLocation,
  parseObjectURL,
  type S3Location,
  type URLError,
} from "./url.ts";

// The SDKs are loaded on the first transfer to their store, not at start-up: together they hold
// about 20 MiB of resident memory, which an operator that never backs up should not pay.
const s3Store = () => import("./s3.ts");
const gcsStore = () => import("./gcs.ts");

export interface TransferOptions {
  /** `undefined`: whatever the SDK finds in the environment. Must match the location's store. */
  readonly credentials?: CredentialsSource;
  /** Stops the transfer; use `AbortSignal.timeout` for a deadline (reported as `unreachable`). */
  readonly signal?: AbortSignal;
}

export interface UploadOptions extends TransferOptions {
  /** S3 multipart part size or GCS resumable chunk size; memory grows with it. Default 8 MiB. */
  readonly partSizeBytes?: number;
  /**
   * Stored with the object and read back with every download of it. Set when the upload starts,
   * so it can only hold what is known before the bytes (a writer's identity, not their digest).
   */
  readonly metadata?: ObjectMetadata;
}

/** Streams `body` into the object; resolves with the size and sha256 of what was stored. */
export async function uploadObject(
  location: ObjectLocation,
  body: ReadableStream<Uint8Array>,
  options: UploadOptions = {},
): Promise<ObjectResult<Digest>> {
  const { credentials } = options;
  if (location.kind === "s3") {
    if (credentials?.kind === "gcs") return mismatch(location, body);
    return (await s3Store()).upload(location, body, { ...options, credentials });
  }
  if (credentials?.kind === "s3") return mismatch(location, body);
  return (await gcsStore()).upload(location, body, { ...options, credentials });
}

/** Opens the object for reading; fails before any byte if it does not exist. */
export async function downloadObject(
  location: ObjectLocation,
  options: TransferOptions = {},
): Promise<ObjectResult<ObjectDownload>> {
  const { credentials } = options;
  if (location.kind === "s3") {
    if (credentials?.kind === "gcs") return mismatch(location);
    return (await s3Store()).download(location, { ...options, credentials });
  }
  if (credentials?.kind === "s3") return mismatch(location);
  return (await gcsStore()).download(location, { ...options, credentials });
}

/** The object's size without reading it. */
export async function statObject(
  location: ObjectLocation,
  options: TransferOptions = {},
): Promise<ObjectResult<{ readonly sizeBytes: number }>> {
  const { credentials } = options;
  if (location.kind === "s3") {
    if (credentials?.kind === "gcs") return mismatch(location);
    return (await s3Store()).stat(location, { ...options, credentials });
  }
  if (credentials?.kind === "s3") return mismatch(location);
  return (await gcsStore()).stat(location, { ...options, credentials });
}

/**
 * Deletes the object; one that is already gone counts as deleted, so a repeated delete (after a
 * crash between it and whatever followed) succeeds.
 */
export async function deleteObject(
  location: ObjectLocation,
  options: TransferOptions = {},
): Promise<ObjectResult<void>> {
  const { credentials } = options;
  if (location.kind === "s3") {
    if (credentials?.kind === "gcs") return mismatch(location);
    return (await s3Store()).remove(location, { ...options, credentials });
  }
  if (credentials?.kind === "s3") return mismatch(location);
  return (await gcsStore()).remove(location, { ...options, credentials });
}

/** S3 keys for a gs:// URL or the reverse: a spec mistake, reported before any network call. */
async function mismatch<T>(
  location: ObjectLocation,
  body?: ReadableStream<Uint8Array>,
): Promise<ObjectResult<T>> {
  await body?.cancel().catch(() => {});
  const [given, wanted] = location.kind === "s3"
    ? ["GCS credentials", "S3 access keys"]
    : ["S3 access keys", "a GCS credentials JSON"];
  return failure(
    "invalidCredentials",
    `${formatObjectURL(location)}: given ${given}, but this store needs ${wanted}`,
  );
}
