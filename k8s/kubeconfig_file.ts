// A kubeconfig file read by client-node, for an operator run outside the cluster (`deno task dev`,
// `--kubeconfig`). Imported only on that path: client-node brings its generated API with it, about
// 55 MiB of resident memory that an operator running in a pod never needs.
import { KubeConfig } from "@kubernetes/client-node";
import type { RequestOptions } from "node:https";
import type { ApiServerAccess, TlsMaterial } from "./kubeconfig.ts";

/**
 * client-node decides whether files exist through a Node call that needs the uid; without
 * `--allow-sys=uid` it silently concludes there is no kubeconfig and talks to localhost:8080.
 */
function requireUidPermission(): void {
  if (Deno.permissions.querySync({ name: "sys", kind: "uid" }).state !== "granted") {
    throw new Error("loading a kubeconfig needs --allow-sys=uid (client-node reads the uid)");
  }
}

/** `path`, or client-node's default (`KUBECONFIG`) when none is given. */
export function kubeconfigFileAccess(path: string | undefined, context?: string): ApiServerAccess {
  requireUidPermission();
  const kubeConfig = new KubeConfig();
  if (path) kubeConfig.loadFromFile(path);
  else kubeConfig.loadFromDefault();
  if (context) kubeConfig.setCurrentContext(context);
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) {
    throw new Error(`kubeconfig context ${kubeConfig.getCurrentContext()} names no cluster`);
  }
  if (cluster.server.startsWith("https:") && cluster.skipTLSVerify) {
    throw new Error("insecure-skip-tls-verify is not supported: give the cluster's CA instead");
  }
  if (cluster.tlsServerName) throw new Error("tls-server-name is not supported under Deno");
  const namespace = kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace;
  return {
    server: cluster.server.replace(/\/+$/, ""),
    namespace: namespace?.trim() || undefined,
    proxyUrl: cluster.proxyUrl || undefined,
    tls: () => tlsMaterial(kubeConfig),
    authHeaders: () => authHeadersOf(kubeConfig),
  };
}

function pem(material: unknown): string | undefined {
  if (material === undefined || material === null) return undefined;
  if (typeof material === "string") return material;
  if (material instanceof Uint8Array) return new TextDecoder().decode(material);
  throw new Error("kubeconfig TLS material in an unsupported form (expected PEM)");
}

/** The kubeconfig's CA and client certificate as PEM; settings we cannot honour are refused. */
async function tlsMaterial(kubeConfig: KubeConfig): Promise<TlsMaterial> {
  const tlsOptions: RequestOptions = {};
  await kubeConfig.applyToHTTPSOptions(tlsOptions);
  if (tlsOptions.pfx) throw new Error("PKCS#12 client certificates are not supported: use PEM");
  return { caCert: pem(tlsOptions.ca), cert: pem(tlsOptions.cert), key: pem(tlsOptions.key) };
}

/**
 * The headers client-node's auth providers (token file, exec, OIDC) and basic auth produce.
 * Not `applyToFetchOptions`: that returns node-fetch's Headers class, not the web one.
 */
async function authHeadersOf(kubeConfig: KubeConfig): Promise<Headers> {
  const options: RequestOptions = {};
  await kubeConfig.applyToHTTPSOptions(options);
  const headers = new Headers();
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    if (Array.isArray(value)) value.forEach((item) => headers.append(name, item));
    else if (value !== undefined) headers.set(name, String(value));
  }
  if (options.auth) headers.set("Authorization", `Basic ${btoa(options.auth)}`);
  return headers;
}
