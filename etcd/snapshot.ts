// Streams one member's snapshot (Maintenance.Snapshot) as a ReadableStream, never the whole db.
import type { IResponseStream, ISnapshotResponse } from "etcd3";
import { type ClientOptions, MemberClient } from "./client.ts";
import { attempt, classifyError, type EtcdResult, failure, success } from "./errors.ts";
import { memberIdFromDecimal } from "./ids.ts";

export interface SnapshotStream {
  /**
   * The bytes `etcdctl snapshot save` would write: the bolt database followed by its sha256, which
   * `snapshot restore` checks. Cancel it to stop early; either way the client is closed.
   */
  readonly stream: ReadableStream<Uint8Array>;
  /**
   * Every write up to this revision is in the snapshot. etcd3's proto gets no header on snapshot
   * chunks (3.4 to 3.7 alike), so this is the member's revision read just before the snapshot
   * began: exact unless a write landed in between, and never more than the snapshot holds.
   */
  readonly revision: number;
  /** The member that produced it (hex). */
  readonly memberId: string;
}

/** etcd sends 32 KiB chunks; holding up to 1 MiB lets the reader lag a little without pausing. */
const queueBytes = 1024 * 1024;

/**
 * The gRPC call behind etcd3's `IResponseStream`: a Node readable we can pause, resume and cancel
 * (etcd3's type leaves those out).
 */
interface GrpcReadable extends IResponseStream<ISnapshotResponse> {
  pause(): void;
  resume(): void;
  cancel(): void;
}

/**
 * Starts a snapshot from the member at `memberEndpoint` and resolves once its first bytes arrived,
 * so an unreachable member fails here rather than in the middle of an upload. `signal` aborts the
 * whole transfer.
 */
export async function streamSnapshot(
  memberEndpoint: string,
  signal: AbortSignal,
  options: ClientOptions = {},
): Promise<EtcdResult<SnapshotStream>> {
  const client = new MemberClient(memberEndpoint, options);
  const status = await attempt(() => client.etcd.maintenance.status(client.callOptions()));
  if (!status.ok) {
    client.close();
    return status;
  }
  const source = await attempt(() => client.etcd.maintenance.snapshot());
  if (!source.ok) {
    client.close();
    return source;
  }
  if (!isGrpcReadable(source.value)) {
    client.close();
    return failure("other", "etcd3 returned a snapshot stream that cannot be paused");
  }
  const transfer = new Transfer(source.value, client, signal);
  const first = await transfer.firstHeader(client.callTimeoutMs);
  if (!first.ok) return first;
  const revision = first.value?.revision ?? "0";
  return success({
    stream: transfer.stream,
    revision: Number(revision !== "0" ? revision : status.value.header.revision),
    memberId: memberIdFromDecimal(status.value.header.member_id),
  });
}

function isGrpcReadable(stream: IResponseStream<ISnapshotResponse>): stream is GrpcReadable {
  const candidate = stream as Partial<GrpcReadable>;
  return [candidate.pause, candidate.resume, candidate.cancel].every((method) =>
    typeof method === "function"
  );
}

type Header = ISnapshotResponse["header"] | null;

/** Moves chunks from the gRPC stream into a web stream, with backpressure, and cleans up once. */
class Transfer {
  readonly stream: ReadableStream<Uint8Array>;
  readonly #first = Promise.withResolvers<EtcdResult<Header>>();
  #finished = false;
  #errorStream: (error: Error) => void = () => {};
  readonly #onAbort = () => this.#fail(this.signal.reason);

  constructor(
    private readonly source: GrpcReadable,
    private readonly client: MemberClient,
    private readonly signal: AbortSignal,
  ) {
    this.stream = new ReadableStream<Uint8Array>({
      start: (controller) => this.#start(controller),
      pull: () => this.source.resume(),
      cancel: () => this.#finish(),
    }, new ByteLengthQueuingStrategy({ highWaterMark: queueBytes }));
  }

  /** The first chunk's header, or why there is none; fails as unreachable after `timeoutMs`. */
  async firstHeader(timeoutMs: number): Promise<EtcdResult<Header>> {
    const timer = setTimeout(
      () => this.#fail(new DOMException("no snapshot data", "TimeoutError")),
      timeoutMs,
    );
    try {
      return await this.#first.promise;
    } finally {
      clearTimeout(timer);
    }
  }

  #start(controller: ReadableStreamDefaultController<Uint8Array>): void {
    this.#errorStream = (error) => controller.error(error);
    // After a cancel or abort, grpc-js may still deliver buffered chunks and "end": drop them.
    this.source.on("data", (chunk) => {
      if (this.#finished) return;
      this.#first.resolve(success(chunk.header));
      const blob = chunk.blob;
      controller.enqueue(new Uint8Array(blob.buffer, blob.byteOffset, blob.byteLength));
      if ((controller.desiredSize ?? 0) <= 0) this.source.pause();
    });
    this.source.on("end", () => {
      if (this.#finished) return;
      this.#first.resolve(failure("other", "the snapshot stream ended before any data"));
      controller.close();
      this.#finish();
    });
    this.source.on("error", (error) => this.#fail(error));
    this.signal.addEventListener("abort", this.#onAbort);
    if (this.signal.aborted) this.#onAbort();
  }

  #fail(error: unknown): void {
    if (this.#finished) return;
    const classified = classifyError(error);
    this.#first.resolve({ ok: false, error: classified });
    this.#errorStream(error instanceof Error ? error : new Error(classified.message));
    this.#finish();
  }

  /** Stops the gRPC call (a no-op once it ended) and closes the client, exactly once. */
  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.signal.removeEventListener("abort", this.#onAbort);
    this.source.cancel();
    this.client.close();
  }
}
