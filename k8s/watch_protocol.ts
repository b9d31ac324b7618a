// The watch wire format: newline-delimited JSON events, split and parsed without I/O.
import type { StatusBody } from "./errors.ts";
import type { KubeObject } from "./objects.ts";

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";

/** One event as the server sends it; ERROR carries a metav1.Status instead of an object. */
export type RawWatchEvent<T extends KubeObject = KubeObject> =
  | { readonly type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK"; readonly object: T }
  | { readonly type: "ERROR"; readonly object: StatusBody };

/** What is left of the stream after the last complete line; feed it back with the next chunk. */
export interface SplitLines {
  readonly lines: readonly string[];
  readonly rest: string;
}

export function splitLines(pending: string, chunk: string): SplitLines {
  const parts = (pending + chunk).split("\n");
  const rest = parts.pop() ?? "";
  return { lines: parts.filter((line) => line.trim() !== ""), rest };
}

const eventTypes: ReadonlySet<string> = new Set([
  "ADDED",
  "MODIFIED",
  "DELETED",
  "BOOKMARK",
  "ERROR",
]);

/**
 * Parses one line. A line that is not a watch event becomes an ERROR event, so a garbled stream
 * ends in a relist instead of a store that silently drifts.
 */
export function parseWatchLine<T extends KubeObject>(line: string): RawWatchEvent<T> {
  try {
    const parsed = JSON.parse(line) as { type?: unknown; object?: unknown };
    if (
      typeof parsed.type === "string" && eventTypes.has(parsed.type) &&
      typeof parsed.object === "object" && parsed.object !== null
    ) {
      return parsed as RawWatchEvent<T>;
    }
  } catch { /* fall through to the synthetic error */ }
  return {
    type: "ERROR",
    object: {
      kind: "Status",
      code: 500,
      message: `unparseable watch event: ${line.slice(0, 200)}`,
    },
  };
}

/** Reads a watch response body as events; cancelling the returned iterator cancels the body. */
export async function* readWatchEvents<T extends KubeObject>(
  body: ReadableStream<Uint8Array>,
  signal?: AbortSignal,
): AsyncGenerator<RawWatchEvent<T>, void, undefined> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  // Cancelling the reader ends a pending read at once; an aborted fetch alone was seen to leave a
  // silent watch's read pending for minutes, so neither stall detection nor stop() could end it.
  const cancel = () => void reader.cancel().catch(() => {});
  signal?.addEventListener("abort", cancel, { once: true });
  let pending = "";
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      const { lines, rest } = splitLines(pending, value);
      pending = rest;
      for (const line of lines) yield parseWatchLine<T>(line);
    }
    if (pending.trim() !== "") yield parseWatchLine<T>(pending);
  } finally {
    signal?.removeEventListener("abort", cancel);
    await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
