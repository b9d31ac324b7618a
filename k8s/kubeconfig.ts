// Finds and loads the kubeconfig with client-node, and turns it into a Deno fetch transport.
import { KubeConfig } from "@kubernetes/client-node";
import type { RequestOptions } from "node:https";

export interface KubeconfigSource {
  /** `--kubeconfig`: wins over everything else. */
  readonly path?: string;
  /** A context other than the file's current one. */
  readonly context?: string;
}

const serviceAccountTokenPath = "/var/run/secrets/kubernetes.io/serviceaccount/token";

function fileExists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/**
 * client-node decides whether files exist through a Node call that needs the uid; without
 * `--allow-sys=uid` it silently concludes there is no kubeconfig and talks to localhost:8080.
 */
function requireUidPermission(): void {
  if (Deno.permissions.querySync({ name: "sys", kind: "uid" }).state !== "granted") {
    throw new Error("loading a kubeconfig needs --allow-sys=uid (client-node reads the uid)");
  }
}

/** `--kubeconfig`, else `KUBECONFIG`, else in-cluster, else `~/.kube/config`; never localhost. */
export function loadKubeConfig(source: KubeconfigSource = {}): KubeConfig {
  requireUidPermission();
  const kubeConfig = new KubeConfig();
  const home = Deno.env.get("HOME");
  if (source.path) {
    kubeConfig.loadFromFile(source.path);
  } else if (Deno.env.get("KUBECONFIG")) {
    kubeConfig.loadFromDefault();
  } else if (Deno.env.get("KUBERNETES_SERVICE_HOST") && fileExists(serviceAccountTokenPath)) {
    kubeConfig.loadFromCluster();
  } else if (home && fileExists(`${home}/.kube/config`)) {
    kubeConfig.loadFromFile(`${home}/.kube/config`);
  } else {
    throw new Error("no kubeconfig: pass --kubeconfig, set KUBECONFIG, or run inside a cluster");
  }
  if (source.context) kubeConfig.setCurrentContext(source.context);
  if (!kubeConfig.getCurrentCluster()) {
    throw new Error(`kubeconfig context ${kubeConfig.getCurrentContext()} names no cluster`);
  }
  return kubeConfig;
}

/** The namespace of the current context (in-cluster: the service account's), if any. */
export function contextNamespace(kubeConfig: KubeConfig): string | undefined {
  const context = kubeConfig.getContextObject(kubeConfig.getCurrentContext());
  return context?.namespace?.trim() || undefined;
}

/** How requests reach the API server: base URL, TLS client, and per-request auth headers. */
export interface Transport extends Disposable {
  readonly server: string;
  readonly httpClient: Deno.HttpClient;
  authHeaders(): Promise<Headers>;
  close(): void;
}

function pem(material: unknown): string | undefined {
  if (material === undefined || material === null) return undefined;
  if (typeof material === "string") return material;
  if (material instanceof Uint8Array) return new TextDecoder().decode(material);
  throw new Error("kubeconfig TLS material in an unsupported form (expected PEM)");
}

/**
 * Deno's fetch ignores Node agents, so the TLS material client-node would put in an
 * `https.Agent` goes into a `Deno.HttpClient` instead. Settings the Deno client cannot express
 * are refused loudly rather than silently weakened or dropped.
 */
async function createHttpClient(kubeConfig: KubeConfig): Promise<Deno.HttpClient> {
  const cluster = kubeConfig.getCurrentCluster();
  const { caCert, cert, key } = await tlsMaterial(kubeConfig);
  const proxy = cluster?.proxyUrl ? { url: cluster.proxyUrl } : undefined;
  return Deno.createHttpClient({
    ...(caCert ? { caCerts: [caCert] } : {}),
    ...(proxy ? { proxy } : {}),
    ...(cert && key ? { cert, key } : {}),
  });
}

/** The kubeconfig's CA and client certificate as PEM; settings we cannot honour are refused. */
async function tlsMaterial(
  kubeConfig: KubeConfig,
): Promise<{ caCert?: string; cert?: string; key?: string }> {
  const cluster = kubeConfig.getCurrentCluster();
  const tlsOptions: RequestOptions = {};
  await kubeConfig.applyToHTTPSOptions(tlsOptions);
  if (cluster?.server.startsWith("https:") && cluster.skipTLSVerify) {
    throw new Error("insecure-skip-tls-verify is not supported: give the cluster's CA instead");
  }
  if (cluster?.tlsServerName) throw new Error("tls-server-name is not supported under Deno");
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

/** Auth headers are cached briefly: computing them reads files and may run an exec plugin. */
const authHeaderTtlMs = 10_000;

export async function createTransport(kubeConfig: KubeConfig): Promise<Transport> {
  const server = kubeConfig.getCurrentCluster()?.server.replace(/\/+$/, "") ?? "";
  const httpClient = await createHttpClient(kubeConfig);
  let cached: { headers: Headers; at: number } | undefined;
  const authHeaders = async (): Promise<Headers> => {
    const now = performance.now();
    if (cached && now - cached.at < authHeaderTtlMs) return new Headers(cached.headers);
    cached = { headers: await authHeadersOf(kubeConfig), at: now };
    return new Headers(cached.headers);
  };
  const close = () => httpClient.close();
  return { server, httpClient, authHeaders, close, [Symbol.dispose]: close };
}

/**
 * What a WebSocket upgrade to the API server needs (k8s/portforward.ts): the same CA, client
 * certificate and auth headers as `createTransport`, in the form node:https takes. Deno's own
 * WebSocket cannot be used there: with a custom TLS client it offers HTTP/2, and the API server
 * then refuses the upgrade. A proxy in the kubeconfig is refused rather than bypassed.
 */
export async function upgradeTransport(kubeConfig: KubeConfig): Promise<{
  readonly server: string;
  readonly tls: { readonly ca?: string; readonly cert?: string; readonly key?: string };
  authHeaders(): Promise<Headers>;
}> {
  const cluster = kubeConfig.getCurrentCluster();
  if (cluster?.proxyUrl) throw new Error("port-forwarding through a proxy-url is not supported");
  const { caCert, cert, key } = await tlsMaterial(kubeConfig);
  return {
    server: cluster?.server.replace(/\/+$/, "") ?? "",
    tls: { ca: caCert, cert, key },
    authHeaders: () => authHeadersOf(kubeConfig),
  };
}
