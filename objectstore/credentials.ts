// Object-store credentials as data, read from a Secret's keys; none means the SDK's own defaults.
import { failure, type ObjectResult, success } from "./errors.ts";
import type { ObjectLocation } from "./url.ts";

export interface S3Credentials {
  readonly kind: "s3";
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface GcsCredentials {
  readonly kind: "gcs";
  /** A service-account (or other google-auth) JSON key; absent means application defaults. */
  readonly serviceAccountJson?: string;
  /**
   * Send no credentials at all, not even application defaults: for a custom endpoint (an
   * emulator) that an object named, which must never receive the operator's own token.
   */
  readonly anonymous?: true;
}

export type ObjectCredentials = S3Credentials | GcsCredentials;

/**
 * What callers pass around: explicit credentials, or `undefined` for the process environment
 * (AWS_* variables, instance roles, GOOGLE_APPLICATION_CREDENTIALS, workload identity), which the
 * SDKs resolve themselves.
 */
export type CredentialsSource = ObjectCredentials | undefined;

/** The Secret keys we read, named as the SDKs' environment variables so one Secret fits both. */
export const secretKeys = {
  accessKeyId: "AWS_ACCESS_KEY_ID",
  secretAccessKey: "AWS_SECRET_ACCESS_KEY",
  sessionToken: "AWS_SESSION_TOKEN",
  gcsJson: "GOOGLE_APPLICATION_CREDENTIALS_JSON",
  gcsJsonFile: "credentials.json",
} as const;

/** A Secret's data, already decoded from base64 (`decodeSecretData` does that). */
export type SecretData = Readonly<Record<string, string | undefined>>;

/** Picks the credentials for the store `location` lives in out of a Secret's data. */
export function credentialsFromSecret(
  location: ObjectLocation,
  data: SecretData,
): ObjectResult<ObjectCredentials> {
  return location.kind === "s3" ? s3FromSecret(data) : gcsFromSecret(data, "the Secret's");
}

/**
 * Credentials from the process environment. For S3 that is `undefined`: the SDK's own chain reads
 * AWS_* variables, profiles and roles. For GCS, `GOOGLE_APPLICATION_CREDENTIALS_JSON` (what a
 * Secret passed with `envFrom` provides) is read here because google-auth only reads a file path.
 */
export function credentialsFromEnvironment(
  location: ObjectLocation,
  environment: (name: string) => string | undefined = (name) => Deno.env.get(name),
): ObjectResult<CredentialsSource> {
  const json = environment(secretKeys.gcsJson);
  if (location.kind === "s3" || json === undefined || json.trim() === "") return success(undefined);
  return gcsFromSecret({ [secretKeys.gcsJson]: json }, "the environment variable");
}

/** Kubernetes sends `Secret.data` base64-encoded; the keys stay as they are. */
export function decodeSecretData(data: Readonly<Record<string, string>>): SecretData {
  const decoder = new TextDecoder();
  return Object.fromEntries(
    Object.entries(data).map((
      [name, encoded],
    ) => [name, decoder.decode(Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0)))]),
  );
}

/** Safe to log: says which credentials are in use without any secret part. */
export function describeCredentials(credentials: CredentialsSource): string {
  if (credentials === undefined) return "credentials from the environment";
  if (credentials.kind === "gcs") {
    if (credentials.anonymous) return "no credentials (anonymous)";
    return credentials.serviceAccountJson === undefined
      ? "GCS application default credentials"
      : `GCS credentials for ${gcsAccountName(credentials.serviceAccountJson)}`;
  }
  const id = credentials.accessKeyId;
  return `S3 access key ${id.slice(0, 4)}…${id.length > 8 ? id.slice(-2) : ""}`;
}

function s3FromSecret(data: SecretData): ObjectResult<S3Credentials> {
  const accessKeyId = nonEmpty(data[secretKeys.accessKeyId]);
  const secretAccessKey = nonEmpty(data[secretKeys.secretAccessKey]);
  const missing = [
    ...(accessKeyId === undefined ? [secretKeys.accessKeyId] : []),
    ...(secretAccessKey === undefined ? [secretKeys.secretAccessKey] : []),
  ];
  if (accessKeyId === undefined || secretAccessKey === undefined) {
    return failure("invalidCredentials", `the Secret has no ${missing.join(" or ")} for S3`);
  }
  const sessionToken = nonEmpty(data[secretKeys.sessionToken]);
  return success({
    kind: "s3",
    accessKeyId,
    secretAccessKey,
    ...(sessionToken === undefined ? {} : { sessionToken }),
  });
}

/** `source` names where `data` came from in messages ("the Secret's", "the environment variable"). */
function gcsFromSecret(data: SecretData, source: string): ObjectResult<GcsCredentials> {
  const key = [secretKeys.gcsJson, secretKeys.gcsJsonFile].find((name) => nonEmpty(data[name]));
  if (key === undefined) {
    return failure(
      "invalidCredentials",
      `the Secret has no ${secretKeys.gcsJson} or ${secretKeys.gcsJsonFile} for GCS`,
    );
  }
  const json = data[key] ?? "";
  // Checked here so a broken Secret fails with its key's name, not deep inside google-auth.
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return failure("invalidCredentials", `${source} ${key} is not valid JSON`);
  }
  if (typeof parsed !== "object" || parsed === null || !("type" in parsed)) {
    return failure(
      "invalidCredentials",
      `${source} ${key} is not a Google credentials file (no "type" field)`,
    );
  }
  return success({ kind: "gcs", serviceAccountJson: json });
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed === "" ? undefined : trimmed;
}

function gcsAccountName(json: string): string {
  try {
    const email: unknown = JSON.parse(json).client_email;
    return typeof email === "string" ? email : "a credentials file without client_email";
  } catch {
    return "an unreadable credentials file";
  }
}
