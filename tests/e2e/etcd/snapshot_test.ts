// Snapshots streamed from real etcd members are valid snapshot files, whatever the etcd version.
import assert from "node:assert/strict";
import { join } from "node:path";
import { withClient } from "../../../etcd/client.ts";
import { observeCluster } from "../../../etcd/health.ts";
import { streamSnapshot } from "../../../etcd/snapshot.ts";
import { bin } from "../../env/config.ts";
import { binaryVersion, etcd34, etcdctl34, LocalCluster, run } from "./local_etcd.ts";

const keyCount = 300;
const valueBytes = 10 * 1024;

/** About 3 MB of keys, written a few at a time to stay gentle on the two cores. */
async function fillKeys(endpoints: readonly string[]): Promise<void> {
  const value = "v".repeat(valueBytes);
  await withClient(endpoints, async (client) => {
    for (let batch = 0; batch < keyCount; batch += 20) {
      await Promise.all(
        Array.from(
          { length: 20 },
          (_, i) =>
            client.etcd.put(`key-${batch + i}`).value(value).options(client.callOptions()).exec(),
        ),
      );
    }
  });
}

interface SnapshotFileStatus {
  readonly revision: number;
  readonly totalKey: number;
  readonly totalSize: number;
}

/** `snapshot status` of the etcd release that made the file: etcdctl for 3.4, etcdutl after. */
async function snapshotFileStatus(file: string, tool: "etcdctl34" | "etcdutl") {
  const output = tool === "etcdctl34"
    ? await run(etcdctl34, ["snapshot", "status", file, "-w", "json"], { ETCDCTL_API: "3" })
    : await run(bin.etcd("etcdutl"), ["snapshot", "status", file, "-w", "json"]);
  assert.ok(output.success, output.stderr);
  return JSON.parse(output.stdout) as SnapshotFileStatus;
}

async function snapshotToFile(endpoint: string, file: string): Promise<number> {
  const snapshot = await streamSnapshot(endpoint, AbortSignal.timeout(30_000));
  if (!snapshot.ok) assert.fail(`${snapshot.error.kind}: ${snapshot.error.message}`);
  const out = await Deno.open(file, { write: true, createNew: true });
  await snapshot.value.stream.pipeTo(out.writable);
  return snapshot.value.revision;
}

async function checkSnapshotOf(binary: string, tool: "etcdctl34" | "etcdutl"): Promise<void> {
  await using cluster = await LocalCluster.start(binary, 1);
  await fillKeys(cluster.clientURLs);
  const file = join(cluster.dir, "snapshot.db");
  const revision = await snapshotToFile(cluster.clientURLs[0], file);
  const status = await snapshotFileStatus(file, tool);
  assert.equal(status.revision, revision);
  assert.ok(status.totalKey >= keyCount, `only ${status.totalKey} keys in the snapshot`);
  assert.ok((await Deno.stat(file)).size > keyCount * valueBytes);
}

Deno.test("a streamed etcd 3.4 snapshot is valid for etcdctl and carries its revision", async () => {
  await checkSnapshotOf(etcd34, "etcdctl34");
});

Deno.test("a streamed snapshot of the newer etcd is valid for etcdutl and carries its revision", async () => {
  await checkSnapshotOf(bin.etcd("etcd"), "etcdutl");
});

Deno.test("observeCluster reports the server version of the newer etcd", async () => {
  const binary = bin.etcd("etcd");
  await using cluster = await LocalCluster.start(binary, 1);
  const seen = await observeCluster(cluster.clientURLs);
  const version = await binaryVersion(binary);
  assert.equal(seen.members[0].version, version);
  assert.equal(seen.members[0].healthy, true);
  assert.equal(seen.clusterVersion, version.replace(/\.\d+$/, ".0"));
  assert.equal(seen.leaderId, seen.members[0].id);
});

Deno.test("aborting a snapshot midway errors the stream and releases the client", async () => {
  await using cluster = await LocalCluster.start(etcd34, 1);
  await fillKeys(cluster.clientURLs);
  const abort = new AbortController();
  const snapshot = await streamSnapshot(cluster.clientURLs[0], abort.signal);
  if (!snapshot.ok) assert.fail(snapshot.error.message);
  const reader = snapshot.value.stream.getReader();
  const first = await reader.read();
  assert.ok((first.value?.byteLength ?? 0) > 0);
  abort.abort(new Error("stop: the upload failed"));
  await assert.rejects(async () => {
    while (!(await reader.read()).done) { /* drain what was queued before the abort */ }
  }, /stop: the upload failed/);
});

// grpc-js keeps a reconnect backoff timer (about 1 s, unref'd) on a subchannel that could not
// connect, even after the channel is closed, and offers no way to clear it; Deno counts it under
// both sanitizers. Only tests that talk to a dead endpoint on purpose skip them.
Deno.test({
  name: "a snapshot from a member that is not there fails as unreachable",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const snapshot = await streamSnapshot("http://127.0.0.1:1", AbortSignal.timeout(5_000), {
      callTimeoutMs: 1_000,
    });
    assert.equal(snapshot.ok ? "ok" : snapshot.error.kind, "unreachable");
  },
});
