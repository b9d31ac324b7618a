// One backup's bytes: etcd's snapshot stream piped straight into the object store, never buffered.
import { streamSnapshot } from "../../etcd/snapshot.ts";
import { uploadObject } from "../../objectstore/mod.ts";
import { relay } from "../../objectstore/streams.ts";
import { etcdFailure, stalledFailure, storeFailure } from "./failure.ts";
import type { BackupFailure } from "./failure.ts";
import type { PreparedBackup } from "./prepare.ts";
import type { BackupResult } from "./status.ts";

export type TransferOutcome =
  | { readonly kind: "succeeded"; readonly result: BackupResult }
  | { readonly kind: "failed"; readonly failure: BackupFailure }
  /** Stopped by its owner (the backup was deleted or the operator is stopping). */
  | { readonly kind: "aborted" };

export interface TransferOptions {
  /** Give up when no byte moved for this long: a hung member or store. */
  readonly idleTimeoutMs?: number;
  /** How long etcd may take to answer and send its first bytes. */
  readonly connectTimeoutMs?: number;
  readonly partSizeBytes?: number;
}

const defaultIdleTimeoutMs = 5 * 60_000;
const defaultConnectTimeoutMs = 10_000;

/** Streams the snapshot into the store; never rejects. `signal` aborts it (outcome "aborted"). */
export async function transferSnapshot(
  backup: PreparedBackup,
  signal: AbortSignal,
  options: TransferOptions = {},
): Promise<TransferOutcome> {
  const idleTimeoutMs = options.idleTimeoutMs ?? defaultIdleTimeoutMs;
  const stall = new AbortController();
  const both = AbortSignal.any([signal, stall.signal]);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const rearm = () => {
    clearTimeout(timer);
    timer = setTimeout(
      () => stall.abort(new DOMException("the transfer stalled", "TimeoutError")),
      idleTimeoutMs,
    );
  };
  try {
    rearm();
    const snapshot = await streamSnapshot(backup.endpoint, both, {
      callTimeoutMs: options.connectTimeoutMs ?? defaultConnectTimeoutMs,
      ...(backup.tls ? { tls: backup.tls } : {}),
    });
    if (signal.aborted) {
      if (snapshot.ok) await snapshot.value.stream.cancel().catch(() => {});
      return { kind: "aborted" };
    }
    if (stall.signal.aborted) {
      return { kind: "failed", failure: stalledFailure(idleTimeoutMs / 1000) };
    }
    if (!snapshot.ok) {
      return {
        kind: "failed",
        failure: etcdFailure(snapshot.error, backup.clusterURL, backup.endpoint),
      };
    }
    // Every chunk read re-arms the watchdog; relay reads only when the upload asks, so no buffer.
    const body = relay(snapshot.value.stream, { chunk: rearm });
    const uploaded = await uploadObject(backup.location, body, {
      credentials: backup.credentials,
      signal: both,
      partSizeBytes: options.partSizeBytes,
      metadata: backup.metadata,
    });
    if (signal.aborted) return { kind: "aborted" };
    if (stall.signal.aborted) {
      return { kind: "failed", failure: stalledFailure(idleTimeoutMs / 1000) };
    }
    if (!uploaded.ok) return { kind: "failed", failure: storeFailure(uploaded.error) };
    return {
      kind: "succeeded",
      result: {
        sizeBytes: uploaded.value.sizeBytes,
        sha256: uploaded.value.sha256,
        revision: snapshot.value.revision,
      },
    };
  } catch (error) {
    // Not expected (both layers return values), but a background task must never reject.
    const message = error instanceof Error ? error.message : String(error);
    return { kind: "failed", failure: { reason: "UploadFailed", message } };
  } finally {
    clearTimeout(timer);
  }
}
