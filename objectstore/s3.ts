// Streaming uploads and downloads against S3 and S3-compatible stores (MinIO, Ceph) via the AWS SDK.
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import type { S3Credentials } from "./credentials.ts";
import {
  abortedError,
  classifyCommonError,
  errorMessage,
  errorProperty,
  kindSummaries,
  type ObjectErrorKind,
  type ObjectFailure,
  type ObjectResult,
  ObjectStoreError,
  success,
} from "./errors.ts";
import {
  type Digest,
  measure,
  type ObjectDownload,
  type ObjectMetadata,
  relay,
  sourceFailed,
} from "./streams.ts";
import { formatObjectURL, type S3Location } from "./url.ts";

export interface S3Options {
  /** `undefined`: the SDK's default chain (AWS_* variables, profile files, instance roles). */
  readonly credentials?: S3Credentials;
  /** Stops the transfer; give it a deadline with `AbortSignal.timeout`. */
  readonly signal?: AbortSignal;
}

export interface S3UploadOptions extends S3Options {
  /** Bytes per multipart part, at least S3's 5 MiB minimum. Memory ≈ part size × (queue + 1). */
  readonly partSizeBytes?: number;
  /** Sent as `x-amz-meta-*` headers when the upload starts (multipart: with its creation). */
  readonly metadata?: ObjectMetadata;
}

const minimumPartBytes = 5 * 1024 * 1024;
const defaultPartBytes = 8 * 1024 * 1024;
/** Parts in flight at once: two keeps a link busy while the next part fills, and memory small. */
const partsInFlight = 2;

/**
 * Per-request deadlines, because the SDK sets none: connecting, silence on the socket, and a
 * whole request up to its response headers (one part upload; a download's body is not counted).
 */
const requestDeadlines = {
  connectionTimeout: 10_000,
  socketTimeout: 60_000,
  requestTimeout: 300_000,
  throwOnRequestTimeout: true,
};

/**
 * Uploads `body` to `location` as it arrives: one PUT when it fits in a part, a multipart upload
 * otherwise; a failed multipart upload is aborted on the store. The body is cancelled if the
 * upload fails. Resolves with the size and sha256 of what was stored.
 */
export async function upload(
  location: S3Location,
  body: ReadableStream<Uint8Array>,
  options: S3UploadOptions = {},
): Promise<ObjectResult<Digest>> {
  const client = openClient(location, options.credentials);
  // Aborting the body (not the Upload) makes lib-storage finish its in-flight parts and abort
  // the multipart upload itself; `Upload.abort()` would leave parts behind and requests running.
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  const measured = measure(body, { failed: sourceFailed, signal });
  const transfer = new Upload({
    client,
    params: {
      Bucket: location.bucket,
      Key: location.key,
      Body: measured.stream,
      ContentType: "application/octet-stream",
      ...(options.metadata ? { Metadata: { ...options.metadata } } : {}),
    },
    partSize: Math.max(minimumPartBytes, options.partSizeBytes ?? defaultPartBytes),
    queueSize: partsInFlight,
    leavePartsOnError: false,
  });
  try {
    await transfer.done();
  } catch (error) {
    stop.abort();
    return { ok: false, error: classifyS3Error(error, location, "upload", options.signal) };
  } finally {
    client.destroy();
  }
  const digest = measured.digest();
  if (digest === undefined) {
    return failed("other", location, "the upload finished before the body ended");
  }
  return success(digest);
}

/**
 * Starts a download and resolves once the store answered, so a missing object fails here and not
 * in the middle of the stream. Errors later in the stream are `ObjectStoreError`s with a kind.
 */
export async function download(
  location: S3Location,
  options: S3Options = {},
): Promise<ObjectResult<ObjectDownload>> {
  const client = openClient(location, options.credentials);
  let response;
  try {
    response = await client.send(
      new GetObjectCommand({ Bucket: location.bucket, Key: location.key }),
      { abortSignal: options.signal },
    );
  } catch (error) {
    client.destroy();
    return { ok: false, error: classifyS3Error(error, location, "download", options.signal) };
  }
  if (response.Body === undefined) {
    client.destroy();
    return failed("other", location, "the store sent no body");
  }
  const stream = relay(response.Body.transformToWebStream(), {
    failed: (error) => storeError(classifyS3Error(error, location, "download", options.signal)),
    settled: () => client.destroy(),
    signal: options.signal,
  });
  // The metadata comes with the bytes, in one response: it describes exactly these bytes.
  return success({ stream, sizeBytes: response.ContentLength, metadata: response.Metadata ?? {} });
}

/** The object's size, from a HEAD request. */
export async function stat(
  location: S3Location,
  options: S3Options = {},
): Promise<ObjectResult<{ readonly sizeBytes: number }>> {
  const client = openClient(location, options.credentials);
  try {
    const head = await client.send(
      new HeadObjectCommand({ Bucket: location.bucket, Key: location.key }),
      { abortSignal: options.signal },
    );
    return success({ sizeBytes: head.ContentLength ?? 0 });
  } catch (error) {
    return { ok: false, error: classifyS3Error(error, location, "download", options.signal) };
  } finally {
    client.destroy();
  }
}

/** Deletes the object. S3 answers a missing key with success too, so a repeat is harmless. */
export async function remove(
  location: S3Location,
  options: S3Options = {},
): Promise<ObjectResult<void>> {
  const client = openClient(location, options.credentials);
  try {
    await client.send(
      new DeleteObjectCommand({ Bucket: location.bucket, Key: location.key }),
      { abortSignal: options.signal },
    );
    return success(undefined);
  } catch (error) {
    const failure = classifyS3Error(error, location, "download", options.signal);
    return failure.kind === "objectNotFound" ? success(undefined) : { ok: false, error: failure };
  } finally {
    client.destroy();
  }
}

/** One client per transfer: it holds the connection pool, which `destroy()` closes. */
function openClient(location: S3Location, credentials: S3Credentials | undefined): S3Client {
  return new S3Client({
    region: location.region,
    endpoint: location.endpoint,
    forcePathStyle: location.forcePathStyle,
    credentials: credentials && {
      accessKeyId: credentials.accessKeyId,
      secretAccessKey: credentials.secretAccessKey,
      sessionToken: credentials.sessionToken,
    },
    // Since 3.729 the SDK adds CRC32 checksums that S3-compatible stores reject or ignore.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    requestHandler: requestDeadlines,
  });
}

type Direction = "upload" | "download";

/** S3 error names (and, failing those, HTTP statuses) mapped to what the operator can do. */
function s3Kind(error: unknown, direction: Direction): ObjectErrorKind {
  const name = String(errorProperty(error, "name") ?? "");
  const metadata = errorProperty(error, "$metadata");
  const status = Number(errorProperty(metadata, "httpStatusCode") ?? 0);
  if (name === "NoSuchBucket") return "bucketNotFound";
  if (name === "NoSuchKey" || (name === "NotFound" && direction === "download")) {
    return "objectNotFound";
  }
  if (/AccessDenied|InvalidAccessKeyId|SignatureDoesNotMatch|Token|AllAccessDisabled/.test(name)) {
    return "accessDenied";
  }
  if (name === "CredentialsProviderError") return "invalidCredentials";
  if (status === 401 || status === 403) return "accessDenied";
  if (status === 404) return direction === "upload" ? "bucketNotFound" : "objectNotFound";
  if (status >= 500 || /SlowDown|RequestTimeout|ServiceUnavailable|InternalError/.test(name)) {
    return "unreachable";
  }
  return "other";
}

function classifyS3Error(
  error: unknown,
  location: S3Location,
  direction: Direction,
  signal: AbortSignal | undefined,
): ObjectFailure {
  const kind = classifyCommonError(error, signal) ?? s3Kind(error, direction);
  return describe(kind, location, s3Detail(error, signal));
}

/** The SDK's message, with the S3 error code when it adds something. */
function s3Detail(error: unknown, signal: AbortSignal | undefined): string {
  if (signal?.aborted) return abortedError(signal).message;
  const status = errorProperty(errorProperty(error, "$metadata"), "httpStatusCode");
  if (status === undefined) return errorMessage(error); // no answer from the store: network, ours
  // A HEAD response has no body, so the SDK knows only the status and calls it "UnknownError".
  const message = errorMessage(error) === "UnknownError" ? `HTTP ${status}` : errorMessage(error);
  const code = errorProperty(error, "Code") ?? errorProperty(error, "name");
  const informative = typeof code === "string" && !["Unknown", "Error"].includes(code);
  return informative && !message.includes(code) ? `${message} (${code})` : message;
}

function describe(kind: ObjectErrorKind, location: S3Location, detail: string): ObjectFailure {
  return { kind, message: `${formatObjectURL(location)}: ${kindSummaries[kind]}: ${detail}` };
}

function storeError(failure: ObjectFailure): ObjectStoreError {
  return new ObjectStoreError(failure.kind, failure.message);
}

function failed<T>(kind: ObjectErrorKind, location: S3Location, why: string): ObjectResult<T> {
  return { ok: false, error: describe(kind, location, why) };
}
