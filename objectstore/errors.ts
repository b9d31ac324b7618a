// Object-store failures as values: a kind the operator can act on and a message naming the object.

/**
 * - `invalidLocation`: the URL does not parse; nothing works until the spec changes.
 * - `invalidCredentials`: the Secret lacks a key or holds malformed JSON.
 * - `bucketNotFound` / `objectNotFound`: the store answered that it has no such thing.
 * - `accessDenied`: wrong or missing credentials, or no permission for this object.
 * - `integrity`: the bytes differ from the size or sha256 they should have.
 * - `sourceFailed`: the stream being uploaded failed (e.g. the etcd snapshot broke off).
 * - `unreachable`: no answer, a timeout, or a 5xx: try again later.
 * - `aborted`: the caller's signal stopped the transfer.
 * - `other`: anything else; the message says what.
 */
export type ObjectErrorKind =
  | "invalidLocation"
  | "invalidCredentials"
  | "bucketNotFound"
  | "objectNotFound"
  | "accessDenied"
  | "integrity"
  | "sourceFailed"
  | "unreachable"
  | "aborted"
  | "other";

export interface ObjectFailure {
  readonly kind: ObjectErrorKind;
  readonly message: string;
}

export type ObjectResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: ObjectFailure };

export function success<T>(value: T): ObjectResult<T> {
  return { ok: true, value };
}

export function failure<T>(kind: ObjectErrorKind, message: string): ObjectResult<T> {
  return { ok: false, error: { kind, message } };
}

/**
 * Thrown only where a value cannot be returned: from inside a stream that is already flowing, so
 * its reader can still tell the kind (`classifyCommonError` recognises it).
 */
export class ObjectStoreError extends Error {
  constructor(readonly kind: ObjectErrorKind, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ObjectStoreError";
  }
}

/** Kinds that go away by themselves: retry with backoff rather than wait for a spec change. */
export function isTransient(kind: ObjectErrorKind): boolean {
  return kind === "unreachable";
}

/** Network error codes Node's http stack sets when the store cannot be reached or drops us. */
const networkCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EPIPE",
  "ECONNABORTED",
]);

/**
 * What every store shares: our own errors, the caller's signal (a deadline is `unreachable`, a
 * cancellation `aborted`) and plain network failures. `undefined` leaves it to the store's rules.
 */
export function classifyCommonError(
  error: unknown,
  signal: AbortSignal | undefined,
): ObjectErrorKind | undefined {
  if (error instanceof ObjectStoreError) return error.kind;
  if (signal?.aborted) return isDeadline(signal.reason) ? "unreachable" : "aborted";
  if (isDeadline(error)) return "unreachable";
  const code = errorProperty(error, "code");
  if (typeof code === "string" && networkCodes.has(code)) return "unreachable";
  return undefined;
}

/** The error a transfer ends with when `signal` fires: a deadline, or the caller giving up. */
export function abortedError(signal: AbortSignal): ObjectStoreError {
  return isDeadline(signal.reason)
    ? new ObjectStoreError("unreachable", "the deadline passed before the transfer finished")
    : new ObjectStoreError("aborted", "the transfer was cancelled");
}

/** How a kind reads at the start of a message. */
export const kindSummaries: Readonly<Record<ObjectErrorKind, string>> = {
  invalidLocation: "invalid object URL",
  invalidCredentials: "unusable credentials",
  bucketNotFound: "bucket not found",
  objectNotFound: "object not found",
  accessDenied: "access denied (check the credentials and their permissions)",
  integrity: "content check failed",
  sourceFailed: "the data being uploaded failed",
  unreachable: "store unreachable or timed out",
  aborted: "cancelled",
  other: "failed",
};

function isDeadline(reason: unknown): boolean {
  return reason instanceof Error && reason.name === "TimeoutError";
}

/** A property of a thrown value, whatever it is; SDK errors carry their details this way. */
export function errorProperty(error: unknown, name: string): unknown {
  return typeof error === "object" && error !== null
    ? (error as Record<string, unknown>)[name]
    : undefined;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
