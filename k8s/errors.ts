// API-server failures as values: a kind the operator can act on, classified from status and body.

/**
 * - `notFound` (404): the object (or its namespace) does not exist.
 * - `conflict` (409): a resourceVersion or uid precondition failed; re-read and try again.
 * - `alreadyExists` (409, reason AlreadyExists): a create found the name taken.
 * - `gone` (410): the resourceVersion or continue token is too old; list again from scratch.
 * - `forbidden` (401, 403): RBAC or authentication refused; retrying will not help.
 * - `invalid` (422 and the other 4xx): the request itself is wrong; the message says why.
 * - `transient` (429, 5xx, network, timeout): try again later with backoff.
 */
export type K8sErrorKind =
  | "notFound"
  | "conflict"
  | "alreadyExists"
  | "gone"
  | "forbidden"
  | "invalid"
  | "transient";

export interface K8sError {
  readonly kind: K8sErrorKind;
  /** The server's own message when it sent a Status, otherwise what went wrong locally. */
  readonly message: string;
  /** HTTP status; absent when no response arrived (network error, timeout). */
  readonly status?: number;
  /** metav1.Status `reason` (`AlreadyExists`, `Expired`, `Invalid`, …) when the server sent one. */
  readonly reason?: string;
  /** From `Retry-After` or Status `details.retryAfterSeconds` (429, some 5xx). */
  readonly retryAfterSeconds?: number;
}

export type K8sResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: K8sError };

export function success<T>(value: T): K8sResult<T> {
  return { ok: true, value };
}

export function failure<T>(error: K8sError): K8sResult<T> {
  return { ok: false, error };
}

/** Thrown only by `unwrap`, for callers (tests, scripts) that prefer exceptions to values. */
export class K8sRequestError extends Error {
  constructor(readonly error: K8sError) {
    super(`${error.kind}${error.status ? ` (${error.status})` : ""}: ${error.message}`);
    this.name = "K8sRequestError";
  }
}

export function unwrap<T>(result: K8sResult<T>): T {
  if (!result.ok) throw new K8sRequestError(result.error);
  return result.value;
}

export function isTransient(error: K8sError): boolean {
  return error.kind === "transient";
}

/** The fields of a metav1.Status body we use; anything else in the body is ignored. */
export interface StatusBody {
  readonly kind?: string;
  readonly message?: string;
  readonly reason?: string;
  readonly code?: number;
  readonly details?: { readonly retryAfterSeconds?: number };
}

/** Reads a metav1.Status out of a response body, or undefined when the body is something else. */
export function parseStatusBody(text: string): StatusBody | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== "object" || parsed === null) return undefined;
    const body = parsed as StatusBody;
    return body.kind === "Status" ? body : undefined;
  } catch {
    return undefined;
  }
}

function kindOfStatus(status: number, reason: string | undefined): K8sErrorKind {
  if (status === 404) return "notFound";
  if (status === 409) return reason === "AlreadyExists" ? "alreadyExists" : "conflict";
  if (status === 410) return "gone";
  if (status === 401 || status === 403) return "forbidden";
  // 408 and 429 are the server asking us to come back later, not a broken request.
  if (status === 408 || status === 429 || status >= 500) return "transient";
  return "invalid";
}

function parseRetryAfter(header: string | null | undefined): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : undefined;
}

/**
 * Classifies a non-2xx response. `bodyText` is the raw body: the server's Status message is
 * kept verbatim because for 422 it names the field and rule that failed.
 */
export function classifyResponse(
  status: number,
  bodyText: string,
  retryAfterHeader?: string | null,
): K8sError {
  const body = parseStatusBody(bodyText);
  const message = body?.message || bodyText.trim().slice(0, 1000) || `HTTP ${status}`;
  const retryAfterSeconds = body?.details?.retryAfterSeconds ?? parseRetryAfter(retryAfterHeader);
  return {
    kind: kindOfStatus(status, body?.reason),
    message,
    status,
    ...(body?.reason ? { reason: body.reason } : {}),
    ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
  };
}

/** Classifies a Status that arrived inside a watch stream as an ERROR event. */
export function classifyStatus(body: StatusBody): K8sError {
  return classifyResponse(body.code ?? 500, JSON.stringify(body));
}

/**
 * Classifies what `fetch` threw: no response arrived (the deadline fired, the connection broke,
 * DNS failed), so it is transient. A caller that aborted on purpose knows it from its own signal.
 */
export function classifyThrown(thrown: unknown): K8sError {
  if (thrown instanceof DOMException && thrown.name === "TimeoutError") {
    return { kind: "transient", message: "deadline exceeded" };
  }
  const message = thrown instanceof Error ? `${thrown.name}: ${thrown.message}` : String(thrown);
  return { kind: "transient", message };
}
