// The load bench's own API access as the admin: JSON requests and a watch, every call bounded.
import { createTransport, loadApiServerAccess, type Transport } from "../../k8s/kubeconfig.ts";

export interface ObjectMeta {
  readonly name: string;
  readonly namespace?: string;
  readonly generation?: number;
  readonly resourceVersion?: string;
  readonly labels?: Readonly<Record<string, string>>;
}

export interface Condition {
  readonly type: string;
  readonly status: string;
  readonly reason?: string;
  readonly message?: string;
}

export interface EtcdCluster {
  readonly metadata: ObjectMeta;
  readonly spec: { readonly replicas: number; readonly version: string };
  readonly status?: {
    readonly observedGeneration?: number;
    readonly conditions?: readonly Condition[];
  };
}

export interface ObjectList<T> {
  readonly metadata: { readonly resourceVersion: string };
  readonly items: readonly T[];
}

export interface WatchEvent<T> {
  readonly type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  readonly object: T;
}

const requestTimeoutMs = 30_000;

/** An API request that answered with a status other than 2xx (404 is handled by the callers). */
export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** Admin access to the local cluster; owns a Deno.HttpClient, so close it. */
export class Api implements Disposable {
  private constructor(private readonly transport: Transport) {}

  static async open(kubeconfigPath: string): Promise<Api> {
    return new Api(await createTransport(await loadApiServerAccess({ path: kubeconfigPath })));
  }

  /** The response body as JSON; undefined for 404, so "is it gone" needs no try/catch. */
  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    contentType = "application/json",
  ): Promise<T | undefined> {
    const response = await this.send(method, path, body, contentType, requestTimeoutMs);
    const text = await response.text();
    if (response.status === 404) return undefined;
    if (!response.ok) {
      throw new ApiError(response.status, `${method} ${path}: ${response.status} ${text.trim()}`);
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }

  async get<T>(path: string): Promise<T | undefined> {
    return await this.request<T>("GET", path);
  }

  /** Like get, for objects that must exist. */
  async read<T>(path: string): Promise<T> {
    const value = await this.get<T>(path);
    if (value === undefined) throw new ApiError(404, `GET ${path}: not found`);
    return value;
  }

  async create<T>(path: string, body: unknown): Promise<T> {
    return (await this.request<T>("POST", path, body))!;
  }

  async mergePatch<T>(path: string, patch: unknown): Promise<T> {
    const patched = await this.request<T>("PATCH", path, patch, "application/merge-patch+json");
    if (patched === undefined) throw new ApiError(404, `PATCH ${path}: not found`);
    return patched;
  }

  /** Deletes in the background; an object already gone is fine. */
  async delete(path: string): Promise<void> {
    await this.request("DELETE", path, { propagationPolicy: "Background" });
  }

  /**
   * Watch events from `resourceVersion` until `signal` aborts or the server ends the watch (the
   * caller decides whether to relist).
   */
  async *watch<T>(
    collectionPath: string,
    resourceVersion: string,
    signal: AbortSignal,
  ): AsyncGenerator<WatchEvent<T>> {
    const query = `watch=1&allowWatchBookmarks=true&timeoutSeconds=300` +
      `&resourceVersion=${encodeURIComponent(resourceVersion)}`;
    const response = await this.send("GET", `${collectionPath}?${query}`, undefined, "", 0, signal);
    if (!response.ok || !response.body) {
      const text = await response.text();
      throw new ApiError(response.status, `watch ${collectionPath}: ${response.status} ${text}`);
    }
    let buffered = "";
    for await (const chunk of response.body.pipeThrough(new TextDecoderStream())) {
      buffered += chunk;
      let newline;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (line) yield JSON.parse(line) as WatchEvent<T>;
      }
    }
  }

  close(): void {
    this.transport.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** timeoutMs 0: only `signal` ends it (a watch). */
  private async send(
    method: string,
    path: string,
    body: unknown,
    contentType: string,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<Response> {
    const headers = await this.transport.authHeaders();
    headers.set("Accept", "application/json");
    if (body !== undefined) headers.set("Content-Type", contentType);
    const signals = [
      ...(signal ? [signal] : []),
      ...(timeoutMs ? [AbortSignal.timeout(timeoutMs)] : []),
    ];
    return await fetch(`${this.transport.server}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      client: this.transport.httpClient,
      signal: signals.length ? AbortSignal.any(signals) : undefined,
    });
  }
}

/** Paths of the objects the bench touches. */
export const paths = {
  namespaces: "/api/v1/namespaces",
  namespace: (name: string) => `/api/v1/namespaces/${name}`,
  nodes: "/api/v1/nodes",
  pods: (namespace?: string) => namespace ? `/api/v1/namespaces/${namespace}/pods` : "/api/v1/pods",
  pvc: (namespace: string, name: string) =>
    `/api/v1/namespaces/${namespace}/persistentvolumeclaims/${name}`,
  clusters: (namespace: string) =>
    `/apis/etcd.improbable.io/v1alpha1/namespaces/${namespace}/etcdclusters`,
  cluster: (namespace: string, name: string) =>
    `/apis/etcd.improbable.io/v1alpha1/namespaces/${namespace}/etcdclusters/${name}`,
};

export function condition(cluster: EtcdCluster, type: string): Condition | undefined {
  return cluster.status?.conditions?.find((candidate) => candidate.type === type);
}
