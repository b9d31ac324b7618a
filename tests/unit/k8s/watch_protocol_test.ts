import assert from "node:assert/strict";
import { parseWatchLine, readWatchEvents, splitLines } from "../../../k8s/watch_protocol.ts";

Deno.test("a line split across chunks is held back until it is complete", () => {
  const first = splitLines("", '{"type":"ADDED"}\n{"type":"MOD');
  assert.deepEqual(first, { lines: ['{"type":"ADDED"}'], rest: '{"type":"MOD' });
  const second = splitLines(first.rest, 'IFIED"}\n\n');
  assert.deepEqual(second, { lines: ['{"type":"MODIFIED"}'], rest: "" });
});

Deno.test("a watch line parses into its type and object", () => {
  const event = parseWatchLine(
    '{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"12"}}}',
  );
  assert.deepEqual(event, { type: "BOOKMARK", object: { metadata: { resourceVersion: "12" } } });
});

Deno.test("garbage on the stream becomes an ERROR event, so the watch relists", () => {
  for (const line of ["not json", '{"type":"WHAT","object":{}}', '{"type":"ADDED"}', "[]"]) {
    const event = parseWatchLine(line);
    assert.equal(event.type, "ERROR", line);
  }
});

Deno.test("a body is read as events whatever the chunk boundaries", async () => {
  const text = '{"type":"ADDED","object":{"metadata":{"name":"a"}}}\n' +
    '{"type":"DELETED","object":{"metadata":{"name":"a"}}}\n' +
    '{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"9"}}}';
  const bytes = new TextEncoder().encode(text);
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let offset = 0; offset < bytes.length; offset += 7) {
        controller.enqueue(bytes.slice(offset, offset + 7));
      }
      controller.close();
    },
  });
  const types: string[] = [];
  for await (const event of readWatchEvents(body)) types.push(event.type);
  assert.deepEqual(types, ["ADDED", "DELETED", "BOOKMARK"]);
});

Deno.test("leaving the loop early cancels the body", async () => {
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      controller.enqueue(new TextEncoder().encode('{"type":"ADDED","object":{"metadata":{}}}\n'));
    },
    cancel() {
      cancelled = true;
    },
  });
  for await (const _event of readWatchEvents(body)) break;
  assert.equal(cancelled, true);
});
