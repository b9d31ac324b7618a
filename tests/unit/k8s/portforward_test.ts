// The port-forwarder against a stand-in API server on loopback that speaks the kubelet's channel
// protocol and forwards to a local echo server: bytes both ways, one WebSocket per connection,
// auth sent, errors surfaced, and every listener and socket closed when its pod goes.
import assert from "node:assert/strict";
import { type ForwardCounts, PortForwarder } from "../../../k8s/portforward.ts";

interface FakeServer extends AsyncDisposable {
  readonly server: string;
  readonly requests: { path: string; authorization: string | null; protocol: string | null }[];
  /** WebSockets open on the server side now. */
  open(): number;
}

/**
 * Echoes every byte back on each accepted connection until its peer hangs up. (Closing a Deno
 * connection with a read pending does not close it: every side here ends by end of stream.)
 */
function echoServer(): { port: number; close(): Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const echo = async (conn: Deno.Conn) => {
    const buffer = new Uint8Array(64 * 1024);
    try {
      for (let read = await conn.read(buffer); read !== null; read = await conn.read(buffer)) {
        let offset = 0;
        while (offset < read) offset += await conn.write(buffer.subarray(offset, read));
      }
    } catch { /* reset */ }
    conn.close();
  };
  const served = (async () => {
    const pending: Promise<void>[] = [];
    try {
      for await (const conn of listener) pending.push(echo(conn));
    } catch { /* closed */ }
    await Promise.all(pending);
  })();
  return {
    port: listener.addr.port,
    close: async () => {
      listener.close();
      await served;
    },
  };
}

/**
 * Answers `/api/v1/namespaces/{ns}/pods/{pod}/portforward?ports=N` like the kubelet behind the
 * API server: the port on both channels first, then data on channel 0 bridged to 127.0.0.1:N.
 * `refuse` sends an error on channel 1 instead, as for a pod that does not listen there.
 */
function fakeApiServer(options: { refuse?: boolean } = {}): FakeServer {
  const requests: FakeServer["requests"] = [];
  let open = 0;
  const controller = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: controller.signal, onListen: () => {} },
    (request) => {
      const url = new URL(request.url);
      const protocol = request.headers.get("sec-websocket-protocol");
      requests.push({
        path: url.pathname,
        authorization: request.headers.get("authorization"),
        protocol,
      });
      const port = Number(url.searchParams.get("ports"));
      const { socket, response } = Deno.upgradeWebSocket(request, {
        protocol: "v4.channel.k8s.io",
      });
      socket.binaryType = "arraybuffer";
      let target: Deno.TcpConn | undefined;
      const connected = Promise.withResolvers<Deno.TcpConn | undefined>();
      // Bytes may arrive before the target connection is up: each write waits for it, in order.
      let writing = Promise.resolve();
      socket.onopen = async () => {
        open++;
        const portBytes = [port & 0xff, port >> 8];
        socket.send(new Uint8Array([0, ...portBytes]));
        socket.send(new Uint8Array([1, ...portBytes]));
        if (options.refuse) {
          socket.send(new Uint8Array([1, ...new TextEncoder().encode("connection refused")]));
          socket.close();
          connected.resolve(undefined);
          return;
        }
        target = await Deno.connect({ hostname: "127.0.0.1", port });
        connected.resolve(target);
        const buffer = new Uint8Array(64 * 1024);
        try {
          for (let read = await target.read(buffer); read; read = await target.read(buffer)) {
            if (socket.readyState !== WebSocket.OPEN) continue;
            socket.send(new Uint8Array([0, ...buffer.subarray(0, read)]));
          }
        } catch { /* reset */ }
        target.close();
        if (socket.readyState === WebSocket.OPEN) socket.close();
      };
      socket.onmessage = (event) => {
        const bytes = new Uint8Array(event.data as ArrayBuffer);
        if (bytes[0] !== 0) return;
        writing = writing.then(async () => {
          const conn = await connected.promise;
          let offset = 1;
          while (conn && offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
        }).catch(() => {});
      };
      socket.onclose = () => {
        open--;
        connected.resolve(undefined);
        // Half-close: the echo server hangs up in turn, which ends the read loop above.
        target?.closeWrite().catch(() => {});
      };
      return response;
    },
  );
  return {
    server: `http://127.0.0.1:${server.addr.port}`,
    requests,
    open: () => open,
    [Symbol.asyncDispose]: async () => {
      controller.abort();
      await server.finished;
    },
  };
}

const transport = (server: string) => ({
  server,
  authHeaders: () => Promise.resolve(new Headers({ Authorization: "Bearer test-token" })),
});

/** Writes `text` and reads as many bytes back, both at once (a large write need not fit a buffer). */
async function roundTrip(conn: Deno.TcpConn, text: string): Promise<string> {
  const bytes = new TextEncoder().encode(text);
  const written = (async () => {
    let offset = 0;
    while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
  })();
  const buffer = new Uint8Array(text.length);
  let read = 0;
  while (read < text.length) {
    const n = await conn.read(buffer.subarray(read));
    if (n === null) throw new Error("closed before the echo came back");
    read += n;
  }
  await written;
  return new TextDecoder().decode(buffer);
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.ok(condition(), what);
}

async function readsEnd(conn: Deno.TcpConn): Promise<boolean> {
  try {
    return await conn.read(new Uint8Array(16)) === null;
  } catch {
    return true;
  }
}

Deno.test("a forwarded port carries bytes both ways, one WebSocket per connection, with auth", async () => {
  const echo = echoServer();
  await using api = fakeApiServer();
  const counts: ForwardCounts[] = [];
  const forwarder = new PortForwarder(transport(api.server), {
    onCounts: (now) => counts.push(now),
  });
  const target = { namespace: "ns", name: "my-cluster-0", uid: "u0", port: echo.port };
  const local = forwarder.localPort(target);
  assert.equal(forwarder.localPort(target), local, "one listener per pod port, reused");
  const first = await Deno.connect({ hostname: "127.0.0.1", port: local });
  const second = await Deno.connect({ hostname: "127.0.0.1", port: local });
  assert.equal(await roundTrip(first, "hello etcd"), "hello etcd");
  assert.equal(await roundTrip(second, "x".repeat(200_000)), "x".repeat(200_000));
  assert.equal(api.requests.length, 2);
  assert.deepEqual(api.requests[0], {
    path: "/api/v1/namespaces/ns/pods/my-cluster-0/portforward",
    authorization: "Bearer test-token",
    protocol: "v4.channel.k8s.io",
  });
  assert.deepEqual(forwarder.counts, { listeners: 1, connections: 2 });

  first.close();
  await until(() => forwarder.counts.connections === 1, "a closed local socket ends its bridge");
  await until(() => api.open() === 1, "...and its WebSocket");

  forwarder.closePod("u0");
  assert.ok(await readsEnd(second), "the pod's open connections are closed with it");
  second.close();
  await until(() => api.open() === 0, "every WebSocket is closed");
  await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: local }), "listener closed");
  assert.deepEqual(forwarder.counts, { listeners: 0, connections: 0 });
  assert.deepEqual(counts.at(-1), { listeners: 0, connections: 0 });
  forwarder.close();
  await echo.close();
});

Deno.test("a pod that refuses the port closes the local connection instead of hanging it", async () => {
  await using api = fakeApiServer({ refuse: true });
  const warnings: string[] = [];
  using forwarder = new PortForwarder(transport(api.server), {
    log: (level, message, fields) => {
      if (level === "warn") warnings.push(`${message}: ${fields.error}`);
    },
  });
  const local = forwarder.localPort({ namespace: "ns", name: "p", uid: "u", port: 2379 });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: local });
  assert.ok(await readsEnd(conn));
  conn.close();
  await until(() => forwarder.counts.connections === 0, "the bridge ends");
  await until(() => api.open() === 0, "the WebSocket is closed");
  assert.match(warnings.join("\n"), /refused the port-forward: connection refused/);
});

Deno.test("an API server that never upgrades times out the connection", async () => {
  // A listener that accepts and never answers: the WebSocket handshake hangs.
  const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    try {
      for await (const conn of silent) held.push(conn);
    } catch { /* closed */ }
  })();
  using forwarder = new PortForwarder(transport(`http://127.0.0.1:${silent.addr.port}`), {
    connectTimeoutMs: 200,
  });
  const local = forwarder.localPort({ namespace: "ns", name: "p", uid: "u", port: 2379 });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: local });
  assert.ok(await readsEnd(conn));
  conn.close();
  await until(() => forwarder.counts.connections === 0, "the bridge ends");
  await until(() => held.length > 0, "the handshake reached the server");
  silent.close();
  for (const conn of held) conn.close();
  await accepting;
});

Deno.test("a closed forwarder opens nothing more", () => {
  const forwarder = new PortForwarder(transport("http://127.0.0.1:1"));
  forwarder.close();
  assert.throws(() => forwarder.localPort({ namespace: "ns", name: "p", uid: "u", port: 1 }));
});
