import assert from "node:assert/strict";
import {
  classifyResponse,
  classifyStatus,
  classifyThrown,
  isTransient,
  K8sRequestError,
  unwrap,
} from "../../../k8s/errors.ts";

function status(code: number, reason: string, message: string, extra: object = {}): string {
  return JSON.stringify({
    kind: "Status",
    apiVersion: "v1",
    status: "Failure",
    code,
    reason,
    message,
    ...extra,
  });
}

Deno.test("status codes map to the kinds the operator acts on", () => {
  const table: [number, string, string][] = [
    [404, "NotFound", "notFound"],
    [409, "Conflict", "conflict"],
    [409, "AlreadyExists", "alreadyExists"],
    [410, "Expired", "gone"],
    [401, "Unauthorized", "forbidden"],
    [403, "Forbidden", "forbidden"],
    [422, "Invalid", "invalid"],
    [400, "BadRequest", "invalid"],
    [415, "UnsupportedMediaType", "invalid"],
    [408, "Timeout", "transient"],
    [429, "TooManyRequests", "transient"],
    [500, "InternalError", "transient"],
    [503, "ServiceUnavailable", "transient"],
    [504, "Timeout", "transient"],
  ];
  for (const [code, reason, kind] of table) {
    assert.equal(classifyResponse(code, status(code, reason, "m")).kind, kind, `${code} ${reason}`);
  }
});

Deno.test("an invalid object keeps the server's message, which names the failing field", () => {
  const message = 'EtcdCluster.etcd.improbable.io "c" is invalid: spec.replicas: Invalid value: 0';
  const error = classifyResponse(422, status(422, "Invalid", message));
  assert.deepEqual(error, { kind: "invalid", message, status: 422, reason: "Invalid" });
});

Deno.test("a conflict on update is told apart from a create that found the name taken", () => {
  assert.equal(
    classifyResponse(409, status(409, "Conflict", "the object has been modified")).kind,
    "conflict",
  );
  assert.equal(
    classifyResponse(409, status(409, "AlreadyExists", "already exists")).kind,
    "alreadyExists",
  );
});

Deno.test("retry-after comes from the Status details or else the header", () => {
  const fromBody = classifyResponse(
    429,
    status(429, "TooManyRequests", "slow down", { details: { retryAfterSeconds: 3 } }),
  );
  assert.equal(fromBody.retryAfterSeconds, 3);
  assert.equal(classifyResponse(503, "", "7").retryAfterSeconds, 7);
  assert.equal(
    classifyResponse(503, "", "Wed, 21 Oct 2015 07:28:00 GMT").retryAfterSeconds,
    undefined,
  );
});

Deno.test("a body that is not a Status is kept, shortened, as the message", () => {
  const error = classifyResponse(502, "<html>bad gateway</html>\n");
  assert.deepEqual(error, { kind: "transient", message: "<html>bad gateway</html>", status: 502 });
  assert.equal(classifyResponse(500, "").message, "HTTP 500");
  assert.equal(classifyResponse(500, "x".repeat(5000)).message.length, 1000);
});

Deno.test("a watch ERROR event with 410 is gone, so the watch relists", () => {
  const error = classifyStatus({
    kind: "Status",
    code: 410,
    reason: "Expired",
    message: "too old resource version: 1 (770)",
  });
  assert.equal(error.kind, "gone");
  assert.equal(error.message, "too old resource version: 1 (770)");
  assert.equal(classifyStatus({ kind: "Status", message: "no code" }).kind, "transient");
});

Deno.test("no response at all (timeout, broken connection) is transient", () => {
  const timeout = classifyThrown(new DOMException("Signal timed out.", "TimeoutError"));
  assert.deepEqual(timeout, { kind: "transient", message: "deadline exceeded" });
  const network = classifyThrown(new TypeError("error sending request: connection refused"));
  assert.equal(network.kind, "transient");
  assert.match(network.message, /connection refused/);
  assert.ok(isTransient(network));
});

Deno.test("unwrap returns a success's value and throws a failure as a typed error", () => {
  assert.equal(unwrap({ ok: true, value: 5 }), 5);
  assert.throws(
    () =>
      unwrap({
        ok: false,
        error: { kind: "notFound", message: 'pods "x" not found', status: 404 },
      }),
    (thrown: unknown) => thrown instanceof K8sRequestError && thrown.error.kind === "notFound",
  );
});
