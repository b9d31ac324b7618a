// Streaming uploads and downloads against Google Cloud Storage and its emulators.
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { type File, Storage, type StorageOptions } from "@google-cloud/storage";
import type { GcsCredentials } from "./credentials.ts";
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
import { formatObjectURL, type GcsLocation } from "./url.ts";

export interface GcsOptions {
  /** `undefined` or no JSON: application default credentials, or none for an emulator. */
  readonly credentials?: GcsCredentials;
  /** Stops the transfer; give it a deadline with `AbortSignal.timeout`. */
  readonly signal?: AbortSignal;
}

export interface GcsUploadOptions extends GcsOptions {
  /** Bytes per resumable-upload request (rounded up to 256 KiB); memory ≈ one chunk. */
  readonly partSizeBytes?: number;
  /** Custom metadata, sent with the request that opens the resumable upload session. */
  readonly metadata?: ObjectMetadata;
}

/** GCS wants resumable chunks in multiples of 256 KiB. */
const chunkGranule = 256 * 1024;
const defaultChunkBytes = 8 * 1024 * 1024;
/** Per HTTP request, because a stalled connection would otherwise wait forever. */
const requestTimeoutMs = 60_000;

/**
 * Uploads `body` through a resumable upload session in chunks, so a dropped request resends one
 * chunk rather than everything and memory stays at one chunk. The body is cancelled if the upload
 * fails. Resolves with the size and sha256 of what was stored.
 */
export async function upload(
  location: GcsLocation,
  body: ReadableStream<Uint8Array>,
  options: GcsUploadOptions = {},
): Promise<ObjectResult<Digest>> {
  const file = openFile(location, options.credentials);
  if (!file.ok) {
    await body.cancel().catch(() => {});
    return file;
  }
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  const measured = measure(body, { failed: sourceFailed, signal });
  const chunkSize = roundUp(options.partSizeBytes ?? defaultChunkBytes, chunkGranule);
  const destination = file.value.createWriteStream({
    resumable: true,
    chunkSize,
    contentType: "application/octet-stream",
    ...(options.metadata ? { metadata: { metadata: { ...options.metadata } } } : {}),
    timeout: requestTimeoutMs,
  });
  try {
    // `from`, not `fromWeb`: Deno's and Node's web-stream typings differ; the bytes are the same.
    await pipeline(Readable.from(measured.stream, { objectMode: false }), destination);
  } catch (error) {
    stop.abort();
    return { ok: false, error: classifyGcsError(error, location, "upload", options.signal) };
  }
  const digest = measured.digest();
  if (digest === undefined) {
    return {
      ok: false,
      error: describe("other", location, "the upload finished before the body ended"),
    };
  }
  return success(digest);
}

/**
 * Reads the object's metadata first, so a missing object fails here rather than mid-stream, and
 * pins the generation it saw so an overwrite during the download cannot mix two versions.
 */
export async function download(
  location: GcsLocation,
  options: GcsOptions = {},
): Promise<ObjectResult<ObjectDownload>> {
  const file = openFile(location, options.credentials);
  if (!file.ok) return file;
  const metadata = await readMetadata(file.value, location, options.signal);
  if (!metadata.ok) return metadata;
  const pinned = file.value.bucket.file(location.key, { generation: metadata.value.generation });
  const source = pinned.createReadStream();
  const stream = relay(Readable.toWeb(source) as ReadableStream<Uint8Array>, {
    failed: (error) => storeError(classifyGcsError(error, location, "download", options.signal)),
    settled: () => source.destroy(),
    signal: options.signal,
  });
  // Read from the generation the bytes come from, so it describes exactly these bytes.
  return success({ stream, sizeBytes: metadata.value.sizeBytes, metadata: metadata.value.custom });
}

/** Deletes the object (whatever its generation); one that is already gone counts as deleted. */
export async function remove(
  location: GcsLocation,
  options: GcsOptions = {},
): Promise<ObjectResult<void>> {
  const file = openFile(location, options.credentials);
  if (!file.ok) return file;
  try {
    await untilAborted(file.value.delete({ ignoreNotFound: true }), options.signal);
    return success(undefined);
  } catch (error) {
    const failure = classifyGcsError(error, location, "download", options.signal);
    return failure.kind === "objectNotFound" ? success(undefined) : { ok: false, error: failure };
  }
}

/** The object's size, from its metadata. */
export async function stat(
  location: GcsLocation,
  options: GcsOptions = {},
): Promise<ObjectResult<{ readonly sizeBytes: number }>> {
  const file = openFile(location, options.credentials);
  if (!file.ok) return file;
  const metadata = await readMetadata(file.value, location, options.signal);
  return metadata.ok ? success({ sizeBytes: metadata.value.sizeBytes }) : metadata;
}

interface StoredMetadata {
  readonly sizeBytes: number;
  readonly generation: string | undefined;
  /** The object's custom metadata; non-string values (GCS allows them) are left out. */
  readonly custom: ObjectMetadata;
}

async function readMetadata(
  file: File,
  location: GcsLocation,
  signal: AbortSignal | undefined,
): Promise<ObjectResult<StoredMetadata>> {
  try {
    // The library takes no signal; its own per-request timeout bounds the request we leave behind.
    const [metadata] = await untilAborted(file.getMetadata(), signal);
    const generation = metadata.generation;
    return success({
      sizeBytes: Number(metadata.size ?? 0),
      generation: generation === undefined ? undefined : String(generation),
      custom: Object.fromEntries(
        Object.entries(metadata.metadata ?? {}).filter((entry): entry is [string, string] =>
          typeof entry[1] === "string"
        ),
      ),
    });
  } catch (error) {
    return { ok: false, error: classifyGcsError(error, location, "download", signal) };
  }
}

/** A client for this one transfer, so endpoint and credentials never leak between locations. */
function openFile(
  location: GcsLocation,
  credentials: GcsCredentials | undefined,
): ObjectResult<File> {
  if (credentials?.anonymous) {
    // Only a custom endpoint is left unsigned by the library; anywhere else it would fall back
    // to application default credentials, which anonymous access must never use.
    if (location.endpoint === undefined) {
      return {
        ok: false,
        error: describe("invalidCredentials", location, "anonymous access needs an endpoint"),
      };
    }
    const storage = new Storage({
      apiEndpoint: location.endpoint,
      useAuthWithCustomEndpoint: false,
      timeout: requestTimeoutMs,
    });
    return success(storage.bucket(location.bucket).file(location.key));
  }
  const json = credentials?.serviceAccountJson;
  let parsed: NonNullable<StorageOptions["credentials"]> | undefined;
  try {
    parsed = json === undefined ? undefined : JSON.parse(json);
  } catch {
    return {
      ok: false,
      error: describe("invalidCredentials", location, "the JSON key is malformed"),
    };
  }
  const storage = new Storage(storageOptions(location, parsed));
  return success(storage.bucket(location.bucket).file(location.key));
}

function storageOptions(
  location: GcsLocation,
  credentials: StorageOptions["credentials"],
): StorageOptions {
  return {
    // Without an endpoint the library uses STORAGE_EMULATOR_HOST, else storage.googleapis.com.
    ...(location.endpoint === undefined ? {} : { apiEndpoint: location.endpoint }),
    // With a custom endpoint the library sends no auth (emulators need none) unless told to.
    ...(credentials === undefined ? {} : { credentials, useAuthWithCustomEndpoint: true }),
    timeout: requestTimeoutMs,
  };
}

type Direction = "upload" | "download";

/** The HTTP status behind a storage error: `code` on ApiError, `status` on gaxios errors. */
function statusOf(error: unknown): number {
  const code = errorProperty(error, "code");
  if (typeof code === "number") return code;
  if (typeof code === "string" && /^\d{3}$/.test(code)) return Number(code);
  const status = errorProperty(error, "status") ?? errorProperty(
    errorProperty(error, "response"),
    "status",
  );
  return typeof status === "number" ? status : 0;
}

function gcsKind(error: unknown, direction: Direction): ObjectErrorKind {
  const status = statusOf(error);
  if (status === 404) {
    // A resumable upload starts on the bucket, so its 404 is the bucket's.
    return direction === "upload" || /bucket does not exist/i.test(errorMessage(error))
      ? "bucketNotFound"
      : "objectNotFound";
  }
  if (status === 401 || status === 403) return "accessDenied";
  if (status === 408 || status === 429 || status >= 500) return "unreachable";
  if (/Could not load the default credentials/.test(errorMessage(error))) {
    return "invalidCredentials";
  }
  return "other";
}

function classifyGcsError(
  error: unknown,
  location: GcsLocation,
  direction: Direction,
  signal: AbortSignal | undefined,
): ObjectFailure {
  const kind = classifyCommonError(error, signal) ?? gcsKind(error, direction);
  const detail = signal?.aborted ? abortedError(signal).message : errorMessage(error);
  return describe(kind, location, detail);
}

function describe(kind: ObjectErrorKind, location: GcsLocation, detail: string): ObjectFailure {
  return { kind, message: `${formatObjectURL(location)}: ${kindSummaries[kind]}: ${detail}` };
}

function storeError(failure: ObjectFailure): ObjectStoreError {
  return new ObjectStoreError(failure.kind, failure.message);
}

/** Rejects as soon as `signal` fires, leaving `work` to finish (or time out) by itself. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return work;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

function roundUp(value: number, granule: number): number {
  return Math.max(granule, Math.ceil(value / granule) * granule);
}
