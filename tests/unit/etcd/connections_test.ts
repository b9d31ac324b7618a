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
  const other = await clientOf(connections, b);
  connections.retain(new Map([[a, "pod-3"], [b, "pod-2"]]));
  assert.equal(before.closed, true);
  assert.equal(other.closed, false);
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

Deno.test("cluster-wide calls use the members' own clients, the last one that answered first", async () => {
  using connections = new EtcdConnections();
  const asked: string[] = [];
  const answer = (down: string) => (client: EtcdClient) => {
    asked.push(client.endpoints[0]);
    return Promise.resolve(
      client.endpoints[0] === down ? failure("unreachable", "refused") : success("ok"),
    );
  };
  assert.deepEqual(await connections.cluster([a, b], answer(a)), success("ok"));
  assert.deepEqual(asked, [a, b], "a was down: b answered");
  asked.length = 0;
  await connections.cluster([a, b], answer("none"));
  assert.deepEqual(asked, [b], "b answered last time: asked first");
  assert.equal(connections.size, 2, "no client beyond one per member");
  asked.length = 0;
  assert.deepEqual(await connections.cluster([a, b], answer(b)), success("ok"));
  assert.deepEqual(asked, [b, a]);
});

Deno.test("when no member answers, the last unreachable answer is returned", async () => {
  using connections = new EtcdConnections();
  const result = await connections.cluster(
    [a, b],
    (client) => Promise.resolve(failure("unreachable", `refused by ${client.endpoints[0]}`)),
  );
  assert.deepEqual(result, failure("unreachable", `refused by ${b}`));
  await assert.rejects(connections.cluster([], () => Promise.resolve(1)), /no etcd endpoints/);
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
  const first = await clientOf(connections, a);
  const second = await clientOf(connections, b);
  connections.close();
  assert.equal(first.closed, true);
  assert.equal(second.closed, true);
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

Deno.test("TLS: clients dial with the material given, keep it while it is the same, and are replaced when it changes", async () => {
  const { applyCAStep, issueLeaf } = await import("../../../actors/tls/issue.ts");
  const ca = await applyCAStep({
    kind: "issueCA",
    subject: { commonName: "test CA" },
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 3_600_000),
    rotation: 0,
  }, undefined);
  const material = async () => {
    const leaf = await issueLeaf({
      secretName: "op",
      role: "operatorClient",
      subject: { commonName: "etcd-operator" },
      profile: { kind: "client" },
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 3_600_000),
    }, ca.data);
    return { ca: leaf["ca.crt"], cert: leaf["tls.crt"], key: leaf["tls.key"] };
  };
  const secure = "https://127.0.0.1:1";
  using connections = new EtcdConnections();
  connections.retain(new Map([[secure, "pod-1"]]));
  const first = await material();
  const serverNameOf = () => "c-0.c.ns.svc";
  connections.useTLS(first, serverNameOf);
  const before = await clientOf(connections, secure);
  assert.equal(before.tls?.cert, first.cert);
  assert.equal(before.tls?.serverName, "c-0.c.ns.svc", "verified by name, not by the IP");
  connections.useTLS({ ...first }, serverNameOf);
  assert.equal(await clientOf(connections, secure), before, "the same material keeps the client");
  const renewed = await material();
  connections.useTLS(renewed, serverNameOf);
  assert.equal(before.closed, true, "new material closes the clients dialled with the old");
  assert.equal((await clientOf(connections, secure)).tls?.cert, renewed.cert);
});
