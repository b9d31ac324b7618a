// Pod port-forwards through the API server, each exposed as a loopback TCP listener etcd3 can dial.
//
// One listener per pod incarnation and port, opened on first use and kept until its pod is gone.
// Every TCP connection accepted on it becomes one WebSocket to the pod's `portforward`
// subresource, using the channel protocol the kubelet speaks (`v4.channel.k8s.io`): each binary
// message starts with a channel byte (0 data, 1 error), and the first message on each channel is
// the port number (2 bytes, little endian). An etcd client holds one HTTP/2 connection, so a
// member costs one listener and one WebSocket for as long as its client lives. Flow control is
// HTTP/2's own, end to end through the bridge; on top, the WebSocket is paused while writes to
// the local socket are pending, so nothing here buffers more than a message or two.
//
// The WebSocket is the `ws` package over node:https (HTTP/1.1), not Deno's: with a custom TLS
// client Deno's WebSocket offers HTTP/2, and the API server refuses the upgrade (kubeconfig.ts).
// @ts-types="@types/ws"
import WebSocket from "ws";

/** How to reach the API server: its base URL, TLS material and auth headers (kubeconfig.ts). */
export interface ForwardTransport {
  readonly server: string;
  readonly tls?: { readonly ca?: string; readonly cert?: string; readonly key?: string };
  authHeaders(): Promise<Headers>;
}

export interface ForwardTarget {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly port: number;
}

export interface ForwardCounts {
  /** Loopback listeners open (one per forwarded pod port). */
  readonly listeners: number;
  /** Bridged connections open (one WebSocket each). */
  readonly connections: number;
}

export interface PortForwarderOptions {
  /** How long the API server may take to upgrade a connection. */
  readonly connectTimeoutMs?: number;
  readonly log?: (
    level: "debug" | "warn",
    message: string,
    fields: Record<string, unknown>,
  ) => void;
  /** Told whenever a listener or connection opens or closes: for the metrics. */
  readonly onCounts?: (counts: ForwardCounts) => void;
}

const protocol = "v4.channel.k8s.io";
const dataChannel = 0;
const errorChannel = 1;
const defaultConnectTimeoutMs = 10_000;

const keyOf = (target: ForwardTarget) => `${target.uid}:${target.port}`;

export class PortForwarder implements Disposable {
  readonly #forwards = new Map<string, Forward>();
  readonly #transport: ForwardTransport;
  readonly #options: PortForwarderOptions;
  #connections = 0;
  #closed = false;

  constructor(transport: ForwardTransport, options: PortForwarderOptions = {}) {
    this.#transport = transport;
    this.#options = options;
  }

  /** The loopback port that reaches `target`; opens its listener on first use. */
  localPort(target: ForwardTarget): number {
    if (this.#closed) throw new Error("the port forwarder is closed");
    const key = keyOf(target);
    let forward = this.#forwards.get(key);
    if (!forward) {
      forward = new Forward(target, this.#transport, this.#options, (delta) => {
        this.#connections += delta;
        this.#report();
      });
      this.#forwards.set(key, forward);
      this.#report();
      this.#options.log?.("debug", "port-forward listening", {
        pod: `${target.namespace}/${target.name}`,
        port: target.port,
        local: forward.port,
      });
    }
    return forward.port;
  }

  /** What is forwarded now. */
  targets(): ForwardTarget[] {
    return [...this.#forwards.values()].map((forward) => forward.target);
  }

  /** Closes the listeners and connections of every target whose pod has this uid. */
  closePod(uid: string): void {
    for (const [key, forward] of this.#forwards) {
      if (forward.target.uid !== uid) continue;
      forward.close();
      this.#forwards.delete(key);
      this.#options.log?.("debug", "port-forward closed", {
        pod: `${forward.target.namespace}/${forward.target.name}`,
        port: forward.target.port,
        local: forward.port,
      });
    }
    this.#report();
  }

  get counts(): ForwardCounts {
    return { listeners: this.#forwards.size, connections: this.#connections };
  }

  close(): void {
    this.#closed = true;
    for (const forward of this.#forwards.values()) forward.close();
    this.#forwards.clear();
    this.#report();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #report(): void {
    this.#options.onCounts?.(this.counts);
  }
}

/** One target's listener and the connections accepted on it. */
class Forward {
  readonly listener: Deno.TcpListener;
  readonly port: number;
  readonly #bridges = new Set<Bridge>();
  #closed = false;

  constructor(
    readonly target: ForwardTarget,
    private readonly transport: ForwardTransport,
    private readonly options: PortForwarderOptions,
    private readonly onConnections: (delta: number) => void,
  ) {
    this.listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.port = this.listener.addr.port;
    void this.#accept();
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.listener) {
        if (this.#closed) {
          conn.close();
          break;
        }
        const bridge = new Bridge(conn, this.target, this.transport, this.options, () => {
          this.#bridges.delete(bridge);
          this.onConnections(-1);
        });
        this.#bridges.add(bridge);
        this.onConnections(1);
        bridge.start();
      }
    } catch (error) {
      // Closing the listener ends the loop with BadResource; anything else is worth a line.
      if (!this.#closed) {
        this.options.log?.("warn", "port-forward listener failed", {
          pod: `${this.target.namespace}/${this.target.name}`,
          error: String(error),
        });
      }
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.listener.close();
    } catch { /* already closed */ }
    for (const bridge of [...this.#bridges]) bridge.close();
  }
}

/** One local TCP connection joined to one WebSocket. Whichever side ends first ends both. */
class Bridge {
  #socket: WebSocket | undefined;
  #closed = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Writes to the local socket, in order. */
  #writing: Promise<void> = Promise.resolve();
  /** A read on the local socket is pending (see close). */
  #reading = false;
  #pendingWrites = 0;
  readonly #preambleSeen = [false, false];

  constructor(
    private readonly conn: Deno.TcpConn,
    private readonly target: ForwardTarget,
    private readonly transport: ForwardTransport,
    private readonly options: PortForwarderOptions,
    private readonly onClosed: () => void,
  ) {}

  start(): void {
    void this.#open().catch((error) => this.#fail("opening the port-forward failed", error));
  }

  async #open(): Promise<void> {
    const { namespace, name, port } = this.target;
    const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/` +
      `${encodeURIComponent(name)}/portforward?ports=${port}`;
    const url = `${this.transport.server.replace(/^http/, "ws")}${path}`;
    const headers = Object.fromEntries(await this.transport.authHeaders());
    if (this.#closed) return;
    const socket = new WebSocket(url, [protocol], { ...this.transport.tls, headers });
    this.#socket = socket;
    this.#timer = setTimeout(
      () => this.#fail("the API server did not open the port-forward", "timeout"),
      this.options.connectTimeoutMs ?? defaultConnectTimeoutMs,
    );
    socket.on("open", () => {
      clearTimeout(this.#timer);
      void this.#pumpToPod(socket);
    });
    socket.on("message", (data, isBinary) => {
      if (isBinary && data instanceof Uint8Array) this.#fromPod(data, socket);
    });
    socket.on("error", (error) => this.#fail("the port-forward failed", error.message));
    socket.on("close", () => this.close());
  }

  /** Local bytes go to the pod on the data channel until the local side closes. */
  async #pumpToPod(socket: WebSocket): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    this.#reading = true;
    try {
      while (true) {
        const read = await this.conn.read(buffer);
        if (read === null || this.#closed) break;
        if (socket.readyState !== WebSocket.OPEN) break;
        const message = new Uint8Array(read + 1);
        message[0] = dataChannel;
        message.set(buffer.subarray(0, read), 1);
        socket.send(message);
      }
    } catch { /* the local socket failed */ }
    this.#reading = false;
    this.close();
    this.#closeConn();
  }

  #fromPod(bytes: Uint8Array, socket: WebSocket): void {
    if (this.#closed || bytes.byteLength === 0) return;
    const channel = bytes[0];
    let payload = bytes.subarray(1);
    if (channel === dataChannel || channel === errorChannel) {
      if (!this.#preambleSeen[channel]) {
        this.#preambleSeen[channel] = true;
        payload = payload.subarray(2);
      }
    }
    if (payload.length === 0) return;
    if (channel === errorChannel) {
      this.#fail("the pod refused the port-forward", new TextDecoder().decode(payload));
      return;
    }
    if (channel !== dataChannel) return;
    const chunk = payload.slice();
    // Read no more from the API server until the local socket took this: backpressure.
    if (++this.#pendingWrites === 1) socket.pause();
    this.#writing = this.#writing.then(() => this.#writeAll(chunk)).then(
      () => {
        if (--this.#pendingWrites === 0 && !this.#closed) socket.resume();
      },
      () => this.close(),
    );
  }

  async #writeAll(chunk: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < chunk.length && !this.#closed) {
      offset += await this.conn.write(chunk.subarray(offset));
    }
  }

  #fail(message: string, error: unknown): void {
    if (this.#closed) return;
    this.options.log?.("warn", message, {
      pod: `${this.target.namespace}/${this.target.name}`,
      port: this.target.port,
      error: String(error),
    });
    this.close();
  }

  /**
   * Under Deno 2.8.3, closing a TCP connection while a read on it is pending neither ends the read
   * nor closes the socket (the pending op holds it). So with a read pending, only our sending side
   * is shut: the client sees end of stream, closes its side, the read returns, and the pump closes
   * the socket. Without one, the socket closes now.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    if (this.#reading) this.conn.closeWrite().catch(() => this.#closeConn());
    else this.#closeConn();
    const socket = this.#socket;
    if (socket && socket.readyState !== WebSocket.CLOSED) {
      // terminate, not close: no closing handshake to wait for, the TLS socket goes now.
      socket.terminate();
    }
    this.onClosed();
  }

  #closeConn(): void {
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }
}
