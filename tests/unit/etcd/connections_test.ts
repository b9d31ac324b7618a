// The clients a cluster actor keeps: reused across passes, replaced only when their member changes or they keep failing.
import assert from "node:assert/strict";
import type { EtcdClient } from "../../../etcd/client.ts";
import { EtcdConnections, failedUnreachable } from "../../../etcd/connections.ts";
import { failure, success } from "../../../etcd/errors.ts";

// Nothing listens on these ports and no call is made: only which client object is handed out.
const a = "http://127.0.0.1:1";
const b = "http://127.0.0.2:1";
const clientOf = (connections: EtcdConnections, endpoint: string) =>
  connections.member(endpoint, (client) => Promise.resolve(client as EtcdClient));
const clusterClientOf = (connections: EtcdConnections, endpoints: readonly string[]) =>
  connections.cluster(endpoints, (client) => Promise.resolve(client));

Deno.test("every pass gets the same member client while its member stays the same", async () => {
  using connections = new EtcdConnections();
  connections.retain(new Map([[a, "pod-1"]]));
  const first = await clientOf(connections, a);
  connections.retain(new Map([[a, "pod-1"]]));
  assert.equal(await clientOf(connections, a), first);
  assert.equal(first.closed, false);
  assert.equal(connections.size, 1);
});

Deno.test("a member whose pod was replaced gets a fresh client, and the old one is closed", async () => {
  using connections = new EtcdConnections();
  connections.retain(new Map([[a, "pod-1"], [b, "pod-2"]]));
  const before = await clientOf(connections, a);
  const cluster = await clusterClientOf(connections, [a, b]);
  connections.retain(new Map([[a, "pod-3"], [b, "pod-2"]]));
  assert.equal(before.closed, true);
  assert.equal(cluster.closed, true, "the cluster-wide client reached the replaced pod too");
  const after = await clientOf(connections, a);
  assert.notEqual(after, before);
  assert.equal(after.closed, false);
});

Deno.test("a member that left the cluster has its client closed", async () => {
  using connections = new EtcdConnections();
  connections.retain(new Map([[a, "pod-1"], [b, "pod-2"]]));
  const gone = await clientOf(connections, b);
  const staying = await clientOf(connections, a);
  connections.retain(new Map([[a, "pod-1"]]));
  assert.equal(gone.closed, true);
  assert.equal(staying.closed, false);
  assert.equal(connections.size, 1);
});

Deno.test("the cluster-wide client is kept while the endpoint set is the same, in any order", async () => {
  using connections = new EtcdConnections();
  const first = await clusterClientOf(connections, [a, b]);
  assert.equal(await clusterClientOf(connections, [b, a]), first);
  const scaled = await clusterClientOf(connections, [a]);
  assert.notEqual(scaled, first);
  assert.equal(first.closed, true);
});

Deno.test("a client is replaced after three unreachable answers in a row, at most once per interval", async () => {
  let now = 0;
  using connections = new EtcdConnections({
    now: () => now,
    policy: { replaceAfterFailures: 3, minReplaceIntervalMs: 30_000 },
  });
  const unreachable = failure("unreachable", "14 UNAVAILABLE: Failed to start HTTP/2 stream");
  const failing = (connections: EtcdConnections) =>
    connections.member(a, (client) => Promise.resolve({ client, result: unreachable }));
  const first = (await failing(connections)).client;
  await failing(connections);
  assert.equal(first.closed, false, "two failures are not enough");
  // A failure nested one level down (as in a probe's { status, read, version }) counts too.
  await connections.member(a, () => Promise.resolve({ status: unreachable }));
  assert.equal(first.closed, true);
  const second = await clientOf(connections, a);
  for (let i = 0; i < 3; i++) await connections.member(a, () => Promise.resolve(unreachable));
  assert.equal(second.closed, false, "replaced less than 30 s ago: kept");
  now = 30_000;
  await connections.member(a, () => Promise.resolve(unreachable));
  assert.equal(second.closed, true);
});

Deno.test("a success resets the failure count", async () => {
  using connections = new EtcdConnections({
    policy: { replaceAfterFailures: 2, minReplaceIntervalMs: 0 },
  });
  const client = await clientOf(connections, a);
  await connections.member(a, () => Promise.resolve(failure("unreachable", "refused")));
  await connections.member(a, () => Promise.resolve(success("ok")));
  await connections.member(a, () => Promise.resolve(failure("unreachable", "refused")));
  assert.equal(client.closed, false);
});

Deno.test("a use that throws closes its client at once", async () => {
  using connections = new EtcdConnections();
  const client = await clientOf(connections, a);
  await assert.rejects(connections.member(a, () => Promise.reject(new Error("boom"))), /boom/);
  assert.equal(client.closed, true);
});

Deno.test("closing the connections closes every client, and no new one opens after", async () => {
  const connections = new EtcdConnections();
  const member = await clientOf(connections, a);
  const cluster = await clusterClientOf(connections, [a, b]);
  connections.close();
  assert.equal(member.closed, true);
  assert.equal(cluster.closed, true);
  assert.equal(connections.size, 0);
  await assert.rejects(clientOf(connections, a), /closed/);
});

Deno.test("only unreachable failures count as a broken client", () => {
  assert.equal(failedUnreachable(failure("unreachable", "x")), true);
  assert.equal(failedUnreachable([success(1), failure("unreachable", "x")]), true);
  assert.equal(failedUnreachable({ status: failure("unreachable", "x") }), true);
  assert.equal(failedUnreachable(failure("unhealthy", "etcdserver: unhealthy cluster")), false);
  assert.equal(failedUnreachable(success(1)), false);
  assert.equal(failedUnreachable(undefined), false);
});

Deno.test("released connections close their clients but open new ones on the next use", async () => {
  using connections = new EtcdConnections();
  const before = await clientOf(connections, a);
  connections.release();
  assert.equal(before.closed, true);
  const after = await clientOf(connections, a);
  assert.equal(after.closed, false);
  assert.notEqual(after, before);
});
