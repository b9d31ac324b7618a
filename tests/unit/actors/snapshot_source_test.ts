// Which backup a restore checks its snapshot against, as a table of backups in and choice out.
import assert from "node:assert/strict";
import { snapshotSource } from "../../../actors/snapshot_source.ts";
import { restoringStatus } from "../../../actors/restore/status.ts";
import type { BackupPhase, EtcdBackupObject } from "../../../actors/types.ts";

const latest =
  "s3://backups/latest.db?endpoint=http://minio.objectstores.svc:9000&region=us-east-1";
/** The same object as the restore pods reach it: another endpoint, same bucket and key. */
const latestFromPods = "s3://backups/latest.db?endpoint=http://10.121.0.9:9000&region=us-east-1";

function backup(
  name: string,
  options: {
    phase?: BackupPhase;
    objectURL?: string;
    completionTime?: string;
    startTime?: string;
    createdAt?: string;
    namespace?: string;
    sha256?: string | null;
  } = {},
): EtcdBackupObject {
  return {
    metadata: {
      name,
      namespace: options.namespace ?? "prod",
      uid: `uid-${name}`,
      creationTimestamp: options.createdAt ?? "2026-01-01T00:00:00Z",
    },
    spec: {
      source: { clusterURL: "http://c-0.c:2379" },
      destination: { objectURLTemplate: latest },
    },
    status: {
      phase: options.phase ?? "Completed",
      objectURL: options.objectURL ?? latest,
      ...(options.sha256 === null ? {} : { sha256: options.sha256 ?? `sha-${name}` }),
      ...(options.startTime ? { startTime: options.startTime } : {}),
      ...(options.completionTime ? { completionTime: options.completionTime } : {}),
    },
  };
}

const cases: readonly (readonly [string, readonly EtcdBackupObject[], string | undefined])[] = [
  ["no backup wrote the object: nothing to check against", [], undefined],
  ["the one Completed backup of the object", [backup("a")], "a"],
  ["a key written by several backups is checked against the last to complete, not the first", [
    backup("old", { completionTime: "2026-01-01T01:00:00Z" }),
    backup("new", { completionTime: "2026-01-01T03:00:00Z" }),
    backup("mid", { completionTime: "2026-01-01T02:00:00Z" }),
  ], "new"],
  ["a backup still uploading or one that failed never vouches for the bytes", [
    backup("done", { completionTime: "2026-01-01T01:00:00Z" }),
    backup("running", { phase: "BackingUp" }),
    backup("failed", { phase: "Failed", completionTime: "2026-01-01T05:00:00Z" }),
  ], "done"],
  ["a Completed backup without a recorded sha256 cannot vouch", [
    backup("digest", { completionTime: "2026-01-01T01:00:00Z" }),
    backup("nodigest", { completionTime: "2026-01-01T02:00:00Z", sha256: null }),
  ], "digest"],
  ["backups of other objects, stores or namespaces do not count", [
    backup("mine", { completionTime: "2026-01-01T01:00:00Z" }),
    backup("other-key", {
      objectURL: "s3://backups/other.db?region=us-east-1",
      completionTime: "2026-01-01T02:00:00Z",
    }),
    backup("other-bucket", {
      objectURL: "s3://elsewhere/latest.db?region=us-east-1",
      completionTime: "2026-01-01T02:00:00Z",
    }),
    backup("gcs", { objectURL: "gs://backups/latest.db", completionTime: "2026-01-01T02:00:00Z" }),
    backup("other-namespace", { namespace: "dev", completionTime: "2026-01-01T02:00:00Z" }),
  ], "mine"],
  ["the endpoint does not matter: the operator and the pods may reach the store differently", [
    backup("via-operator", { objectURL: latestFromPods, completionTime: "2026-01-01T01:00:00Z" }),
  ], "via-operator"],
  ["completions in the same second go to the later start", [
    backup("started-first", {
      completionTime: "2026-01-01T01:00:00Z",
      startTime: "2026-01-01T00:59:00Z",
    }),
    backup("started-last", {
      completionTime: "2026-01-01T01:00:00Z",
      startTime: "2026-01-01T00:59:30Z",
    }),
  ], "started-last"],
  ["a backup with a completion time beats one without", [
    backup("untimed"),
    backup("timed", { completionTime: "2026-01-01T01:00:00Z" }),
  ], "timed"],
];

for (const [name, backups, expected] of cases) {
  Deno.test(`snapshot source: ${name}`, () => {
    for (const order of [backups, [...backups].reverse()]) {
      const chosen = snapshotSource(latestFromPods, "prod", order);
      assert.equal(chosen?.backupName, expected);
      if (expected !== undefined) {
        assert.deepEqual(chosen, {
          backupName: expected,
          backupUID: `uid-${expected}`,
          sha256: `sha-${expected}`,
        });
      }
    }
  });
}

Deno.test("an unparseable restore URL has no snapshot source", () => {
  assert.equal(snapshotSource("s3://", "prod", [backup("a")]), undefined);
});

Deno.test("the Restoring status keeps the chosen source, so later pods check the same bytes", () => {
  const input = { previous: [], generation: 1, now: "2026-01-01T00:00:00Z" };
  const snapshot = { backupName: "a", backupUID: "uid-a", sha256: "sha-a" };
  assert.deepEqual(restoringStatus(input, "restoring", snapshot).snapshot, snapshot);
  assert.equal("snapshot" in restoringStatus(input, "restoring", undefined), false);
});
