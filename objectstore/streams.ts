// Relaying a byte stream with hooks: size and sha256 on the way through, error mapping, cleanup.
import { createHash } from "node:crypto";
import { abortedError, errorMessage, ObjectStoreError } from "./errors.ts";

export interface Digest {
  readonly sizeBytes: number;
  /** Lowercase hex, as `sha256sum` prints it. */
  readonly sha256: string;
}

export interface RelayHooks {
  /** Sees every chunk before the reader does. */
  readonly chunk?: (bytes: Uint8Array) => void;
  /** The source ended normally. */
  readonly end?: () => void;
  /** What the reader sees instead of the source's error (for example one with a kind). */
  readonly failed?: (error: unknown) => Error;
  /** Runs exactly once, when the stream ended, failed, was cancelled or aborted. */
  readonly settled?: () => void;
  /** Cancels the source and errors the stream at once, even while a read is waiting. */
  readonly signal?: AbortSignal;
}

/**
 * A stream that reads `source` only when its own reader asks (high-water mark 0), so
 * backpressure reaches the source unchanged and nothing is buffered here.
 */
export function relay(
  source: ReadableStream<Uint8Array>,
  hooks: RelayHooks,
): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  let settled = false;
  const settle = () => {
    if (settled) return false;
    settled = true;
    hooks.signal?.removeEventListener("abort", onAbort);
    hooks.settled?.();
    return true;
  };
  const onAbort = () => {
    if (!hooks.signal || !settle()) return;
    reader.cancel(hooks.signal.reason).catch(() => {});
    controller?.error(abortedError(hooks.signal));
  };
  return new ReadableStream<Uint8Array>({
    start(streamController) {
      controller = streamController;
      hooks.signal?.addEventListener("abort", onAbort);
      if (hooks.signal?.aborted) onAbort();
    },
    async pull(streamController) {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch (error) {
        if (settle()) streamController.error(hooks.failed?.(error) ?? error);
        return;
      }
      if (settled) return; // aborted while the read was waiting
      if (next.done) {
        hooks.end?.();
        settle();
        streamController.close();
        return;
      }
      hooks.chunk?.(next.value);
      streamController.enqueue(next.value);
    },
    async cancel(reason) {
      settle();
      await reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

export interface MeasuredStream {
  readonly stream: ReadableStream<Uint8Array>;
  /** The size and sha256 of everything read; only known once `stream` was read to its end. */
  digest(): Digest | undefined;
}

/**
 * Counts and hashes `source` as it is read. `node:crypto` because WebCrypto can only hash a whole
 * buffer, and the point is never to hold one.
 */
export function measure(
  source: ReadableStream<Uint8Array>,
  hooks: Pick<RelayHooks, "failed" | "settled" | "signal"> = {},
): MeasuredStream {
  const hash = createHash("sha256");
  let sizeBytes = 0;
  let result: Digest | undefined;
  const stream = relay(source, {
    ...hooks,
    chunk: (bytes) => {
      hash.update(bytes);
      sizeBytes += bytes.byteLength;
    },
    end: () => {
      result = { sizeBytes, sha256: hash.digest("hex") };
    },
  });
  return { stream, digest: () => result };
}

/** For uploads: a failing body is the source's fault, not the store's, and says so. */
export function sourceFailed(error: unknown): Error {
  if (error instanceof ObjectStoreError) return error;
  // The upload's classifier adds "the data being uploaded failed" in front.
  return new ObjectStoreError("sourceFailed", errorMessage(error), { cause: error });
}

/** A download in progress: read `stream` to the end (or cancel it) to release the connection. */
export interface ObjectDownload {
  readonly stream: ReadableStream<Uint8Array>;
  /** What the store says the object holds, when it says. */
  readonly sizeBytes: number | undefined;
  /** The user metadata stored with the object (see `UploadOptions.metadata`), as of these bytes. */
  readonly metadata: ObjectMetadata;
}

/**
 * User metadata stored with an object: S3 `x-amz-meta-*` headers, GCS custom metadata. Keys are
 * lower case (S3 folds them), values short ASCII (S3 sends them as HTTP header values).
 */
export type ObjectMetadata = Readonly<Record<string, string>>;
