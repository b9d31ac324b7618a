// Backup status and failure messages as data: the fields the CRD names, and what to fix.
import assert from "node:assert/strict";
import {
  etcdFailure,
  secretFailure,
  storeFailure,
  templateFailure,
} from "../../../../actors/backup/failure.ts";
import {
  backingUpStatus,
  completedStatus,
  failedStatus,
} from "../../../../actors/backup/status.ts";

const objectURL = "s3://b/ns/x.db?endpoint=http://minio:9000&region=us-east-1";
const common = { previous: [], generation: 1, now: "2024-01-02T03:04:05Z" };

Deno.test("backup status: BackingUp records the start time, the object URL and an Unknown condition", () => {
  const status = backingUpStatus({
    ...common,
    startTime: undefined,
    objectURL,
    clusterURL: "http://c-0.c.ns.svc:2379",
    attempt: 1,
  });
  assert.equal(status.phase, "BackingUp");
  assert.equal(status.startTime, common.now);
  assert.equal(status.objectURL, objectURL);
  assert.deepEqual(status.conditions?.map((c) => [c.type, c.status, c.reason]), [
    ["Completed", "Unknown", "BackingUp"],
  ]);
});

Deno.test("backup status: a restarted upload keeps the original start time and says which attempt", () => {
  const status = backingUpStatus({
    ...common,
    startTime: "2024-01-01T00:00:00Z",
    objectURL,
    clusterURL: "http://c-0.c.ns.svc:2379",
    attempt: 2,
  });
  assert.equal(status.startTime, "2024-01-01T00:00:00Z");
  assert.match(status.conditions?.[0].message ?? "", /attempt 2/);
});

Deno.test("backup status: Completed carries size, revision, sha256 and completion time", () => {
  const result = { sizeBytes: 20512, sha256: "ab".repeat(32), revision: 42 };
  const status = completedStatus({ ...common, objectURL, result });
  assert.deepEqual(
    { ...status, conditions: undefined },
    {
      phase: "Completed",
      completionTime: common.now,
      objectURL,
      sizeBytes: 20512,
      revision: 42,
      sha256: "ab".repeat(32),
      conditions: undefined,
    },
  );
  assert.equal(status.conditions?.[0].status, "True");
});

Deno.test("backup status: the condition's transition time moves only when its status flips", () => {
  const previous = [{
    type: "Completed",
    status: "Unknown" as const,
    reason: "BackingUp",
    message: "",
    lastTransitionTime: "2024-01-01T00:00:00Z",
  }];
  const again = backingUpStatus({
    ...common,
    previous,
    startTime: undefined,
    objectURL,
    clusterURL: "http://x:2379",
    attempt: 2,
  });
  assert.equal(again.conditions?.[0].lastTransitionTime, "2024-01-01T00:00:00Z");
  const failed = failedStatus({
    ...common,
    previous,
    objectURL,
    failure: { reason: "AccessDenied", message: "m" },
  });
  assert.equal(failed.conditions?.[0].lastTransitionTime, common.now);
});

Deno.test("backup status: Failed has the reason and message, and no object URL if none rendered", () => {
  const status = failedStatus({
    ...common,
    objectURL: undefined,
    failure: templateFailure({
      kind: "unknownField",
      message: "objectURLTemplate: unknown field .X",
    }),
  });
  assert.equal(status.phase, "Failed");
  assert.equal("objectURL" in status, false);
  assert.equal(status.conditions?.[0].reason, "InvalidTemplate");
  assert.match(status.conditions?.[0].message ?? "", /fix spec\.destination\.objectURLTemplate/);
});

const storeCases: readonly (readonly [string, string, string, RegExp])[] = [
  ["an unknown bucket says to create it", "bucketNotFound", "BucketNotFound", /create the bucket/],
  ["bad credentials say to check them", "accessDenied", "AccessDenied", /check the credentials/],
  [
    "an unreachable store names the endpoint to check",
    "unreachable",
    "StoreUnreachable",
    /endpoint/,
  ],
  ["a broken snapshot stream points at etcd", "sourceFailed", "SnapshotFailed", /etcd member/],
];

for (const [name, kind, reason, hint] of storeCases) {
  Deno.test(`backup failure: ${name}`, () => {
    const failure = storeFailure({
      kind: kind as "bucketNotFound",
      message: `${objectURL}: summary: detail`,
    });
    assert.equal(failure.reason, reason);
    assert.match(failure.message, hint);
    assert.match(failure.message, /create a new EtcdBackup/);
  });
}

Deno.test("backup failure: unreachable etcd names the URL, the dialled pod IP and the fix", () => {
  const failure = etcdFailure(
    { kind: "unreachable", message: "14 UNAVAILABLE: No connection established" },
    "http://c-0.c.ns.svc:2379",
    "http://10.0.0.5:2379",
  );
  assert.equal(failure.reason, "EtcdUnreachable");
  assert.match(failure.message, /cannot reach etcd at http:\/\/c-0\.c\.ns\.svc:2379/);
  assert.match(failure.message, /dialled as http:\/\/10\.0\.0\.5:2379/);
  assert.match(failure.message, /spec\.source\.clusterURL/);
});

Deno.test("backup failure: a missing credentials Secret says which keys to put in it", () => {
  const failure = secretFailure({ kind: "notFound", message: "not found" }, "ns", "creds");
  assert.equal(failure.reason, "SecretNotFound");
  assert.match(failure.message, /Secret ns\/creds/);
  assert.match(failure.message, /AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
});
