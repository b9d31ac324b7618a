// The operator's HTTP endpoints: /healthz (the process runs), /readyz (watches are live), /metrics.
import type { Registry } from "./metrics.ts";

export interface Readiness {
  /** Undefined when ready; otherwise why not, for the probe's body and the logs. */
  (): string | undefined;
}

export function serveObservability(
  address: string,
  metrics: Registry,
  readiness: Readiness,
  signal: AbortSignal,
): Deno.HttpServer {
  const [hostname, port] = splitAddress(address);
  return Deno.serve({ hostname, port, signal, onListen: () => {} }, (request) => {
    const path = new URL(request.url).pathname;
    if (path === "/healthz") return new Response("ok\n");
    if (path === "/readyz") {
      const notReady = readiness();
      return notReady === undefined
        ? new Response("ok\n")
        : new Response(`not ready: ${notReady}\n`, { status: 503 });
    }
    if (path === "/metrics") {
      return new Response(metrics.render(), {
        headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
      });
    }
    return new Response("not found\n", { status: 404 });
  });
}

/** ":8080" listens on every address, "127.0.0.1:8080" on one. */
export function splitAddress(address: string): [string, number] {
  const colon = address.lastIndexOf(":");
  const host = address.slice(0, colon) || "0.0.0.0";
  const port = Number(address.slice(colon + 1));
  if (colon < 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--metrics-addr ${JSON.stringify(address)} is not host:port or :port`);
  }
  return [host, port];
}
