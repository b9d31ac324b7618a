// Finds the API server (flag, KUBECONFIG, in-cluster, ~/.kube/config) and turns what was found
// into a Deno fetch transport.
import { inClusterAccess, runsInCluster } from "./in_cluster.ts";

export interface KubeconfigSource {
  /** `--kubeconfig`: wins over everything else. */
  readonly path?: string;
  /** A context other than the file's current one. */
  readonly context?: string;
}

export interface TlsMaterial {
  readonly caCert?: string;
  readonly cert?: string;
  readonly key?: string;
}

/** Where the API server is and how to authenticate to it, however that was found. */
export interface ApiServerAccess {
  /** Base URL, no trailing slash. */
  readonly server: string;
  /** The current context's namespace (in-cluster: the service account's), if any. */
  readonly namespace: string | undefined;
  readonly proxyUrl: string | undefined;
  /** The CA and client certificate, as PEM. */
  tls(): Promise<TlsMaterial>;
  /** Computed afresh: a token file or an exec plugin's credential may have been rotated. */
  authHeaders(): Promise<Headers>;
}

function fileExists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** `--kubeconfig`, else `KUBECONFIG`, else in-cluster, else `~/.kube/config`; never localhost. */
export async function loadApiServerAccess(
  source: KubeconfigSource = {},
): Promise<ApiServerAccess> {
  const home = Deno.env.get("HOME");
  let path: string | undefined;
  if (source.path) {
    path = source.path;
  } else if (Deno.env.get("KUBECONFIG")) {
    path = undefined;
  } else if (runsInCluster()) {
    if (source.context) throw new Error("a context can only be chosen from a kubeconfig file");
    return inClusterAccess();
  } else if (home && fileExists(`${home}/.kube/config`)) {
    path = `${home}/.kube/config`;
  } else {
    throw new Error("no kubeconfig: pass --kubeconfig, set KUBECONFIG, or run inside a cluster");
  }
  const { kubeconfigFileAccess } = await import("./kubeconfig_file.ts");
  return kubeconfigFileAccess(path, source.context);
}

/** How requests reach the API server: base URL, TLS client, and per-request auth headers. */
export interface Transport extends Disposable {
  readonly server: string;
  readonly httpClient: Deno.HttpClient;
  authHeaders(): Promise<Headers>;
  close(): void;
}

/** Auth headers are cached briefly: computing them reads files and may run an exec plugin. */
const authHeaderTtlMs = 10_000;

/**
 * Deno's fetch ignores Node agents, so the TLS material goes into a `Deno.HttpClient`; settings
 * that client cannot express were refused when the access was loaded.
 */
export async function createTransport(access: ApiServerAccess): Promise<Transport> {
  const { caCert, cert, key } = await access.tls();
  const httpClient = Deno.createHttpClient({
    ...(caCert ? { caCerts: [caCert] } : {}),
    ...(access.proxyUrl ? { proxy: { url: access.proxyUrl } } : {}),
    ...(cert && key ? { cert, key } : {}),
  });
  let cached: { headers: Headers; at: number } | undefined;
  const authHeaders = async (): Promise<Headers> => {
    const now = performance.now();
    if (cached && now - cached.at < authHeaderTtlMs) return new Headers(cached.headers);
    cached = { headers: await access.authHeaders(), at: now };
    return new Headers(cached.headers);
  };
  const close = () => httpClient.close();
  return { server: access.server, httpClient, authHeaders, close, [Symbol.dispose]: close };
}

/**
 * What a WebSocket upgrade to the API server needs (k8s/portforward.ts): the same CA, client
 * certificate and auth headers as `createTransport`, in the form node:https takes. Deno's own
 * WebSocket cannot be used there: with a custom TLS client it offers HTTP/2, and the API server
 * then refuses the upgrade. A proxy in the kubeconfig is refused rather than bypassed.
 */
export async function upgradeTransport(access: ApiServerAccess): Promise<{
  readonly server: string;
  readonly tls: { readonly ca?: string; readonly cert?: string; readonly key?: string };
  authHeaders(): Promise<Headers>;
}> {
  if (access.proxyUrl) throw new Error("port-forwarding through a proxy-url is not supported");
  const { caCert, cert, key } = await access.tls();
  return { server: access.server, tls: { ca: caCert, cert, key }, authHeaders: access.authHeaders };
}
