// Typed API-server requests over Deno's fetch, to the API server k8s/kubeconfig.ts found.
import {
  classifyResponse,
  classifyThrown,
  failure,
  type K8sError,
  type K8sResult,
  success,
} from "./errors.ts";
import {
  type ApiServerAccess,
  createTransport,
  type KubeconfigSource,
  loadApiServerAccess,
  type Transport,
} from "./kubeconfig.ts";
import type { KubeObject, ObjectList } from "./objects.ts";
import {
  collectionPath,
  objectPath,
  type ObjectTarget,
  type Resource,
  type Subresource,
} from "./resources.ts";
import { type RawWatchEvent, readWatchEvents } from "./watch_protocol.ts";

export const fieldManager = "etcd-operator";
export const defaultTimeoutMs = 10_000;

/** Every call has a deadline; `signal` lets an owner (a stopping watch) cancel it sooner. */
export interface CallOptions {
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

export interface SubresourceOptions extends CallOptions {
  readonly subresource?: Subresource;
}

export interface ListOptions extends CallOptions {
  /** Omitted for a namespaced resource: across all namespaces. */
  readonly namespace?: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
}

export interface ListPageOptions extends ListOptions {
  readonly limit?: number;
  readonly continue?: string;
  readonly resourceVersion?: string;
}

export interface ListAllOptions extends ListOptions {
  /** Objects per page (`limit`); the server may return fewer. */
  readonly pageSize?: number;
}

export interface ListResult<T extends KubeObject> {
  readonly items: readonly T[];
  /** The list's resourceVersion: where a watch that follows this list starts. */
  readonly resourceVersion: string;
}

export interface ApplyOptions extends SubresourceOptions {
  /** Take ownership of fields another manager set; the operator is the authority (default). */
  readonly force?: boolean;
}

export type PropagationPolicy = "Foreground" | "Background" | "Orphan";

export interface DeleteOptions extends CallOptions {
  readonly propagationPolicy?: PropagationPolicy;
  /** Delete only this incarnation of the object, not a newer one with the same name. */
  readonly uid?: string;
  readonly resourceVersion?: string;
  readonly gracePeriodSeconds?: number;
}

export interface WatchOptions extends ListOptions {
  readonly resourceVersion: string;
  /** The server ends the watch after this long; the deadline allows a little more. */
  readonly timeoutSeconds: number;
  readonly allowWatchBookmarks?: boolean;
}

export type JsonPatchOperation =
  | { readonly op: "add" | "replace" | "test"; readonly path: string; readonly value: unknown }
  | { readonly op: "remove"; readonly path: string }
  | { readonly op: "move" | "copy"; readonly from: string; readonly path: string };

type Query = Readonly<Record<string, string | number | boolean | undefined>>;

/** The API verbs, as the API server's audit log and metrics name them. */
export type KubeVerb =
  | "get"
  | "list"
  | "watch"
  | "create"
  | "update"
  | "patch"
  | "delete"
  | "apply";

/** One request the client sent, for metrics: what it was, how it ended, how long it took. */
export interface KubeRequestRecord {
  readonly verb: KubeVerb;
  /** The resource's plural: "pods", "etcdclusters". */
  readonly resource: string;
  /** The HTTP status; undefined when no response arrived or its body could not be read. */
  readonly status: number | undefined;
  readonly seconds: number;
}

/** Told of every request; a watch is told once, when it opens. Must not throw (it is guarded). */
export type KubeRequestObserver = (request: KubeRequestRecord) => void;

export interface KubeClientOptions {
  readonly observer?: KubeRequestObserver;
}

export interface RequestSpec extends CallOptions {
  /** With `resource`, what metrics call this request; given so the path need not be parsed. */
  readonly verb: KubeVerb;
  /** The resource's plural. */
  readonly resource: string;
  readonly method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  readonly path: string;
  readonly query?: Query;
  readonly body?: unknown;
  readonly contentType?: string;
}

function queryString(query: Query | undefined): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== "") params.set(name, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

interface Deadline {
  readonly signal: AbortSignal;
  clear(): void;
}

/**
 * Like `AbortSignal.timeout`, but the timer is cleared as soon as the call is over, so a stopped
 * operator leaves no timers behind (a watch's deadline would otherwise linger for minutes).
 */
function deadline(options: CallOptions): Deadline {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new DOMException("deadline exceeded", "TimeoutError")),
    options.timeoutMs ?? defaultTimeoutMs,
  );
  // Never the reason the process stays up, should a caller abandon a stream unread.
  Deno.unrefTimer(timer);
  const signal = options.signal
    ? AbortSignal.any([controller.signal, options.signal])
    : controller.signal;
  return { signal, clear: () => clearTimeout(timer) };
}

/** Passes a watch's events through, clearing its deadline however the stream ends. */
async function* clearingDeadline<T extends KubeObject>(
  events: AsyncGenerator<RawWatchEvent<T>, void, undefined>,
  limit: Deadline,
): AsyncGenerator<RawWatchEvent<T>, void, undefined> {
  try {
    yield* events;
  } finally {
    limit.clear();
  }
}

function targetOf(resource: Resource, object: KubeObject): ObjectTarget {
  return {
    namespace: resource.namespaced ? object.metadata.namespace : undefined,
    name: object.metadata.name ?? "",
  };
}

function checkTarget(resource: Resource, target: ObjectTarget): K8sError | undefined {
  if (!target.name) return { kind: "invalid", message: `${resource.plural}: no object name` };
  if (resource.namespaced && !target.namespace) {
    return { kind: "invalid", message: `${resource.plural}/${target.name}: no namespace` };
  }
  return undefined;
}

/** A client for one API server; owns a Deno.HttpClient, so close it (or `using` it). */
export class KubeClient implements Disposable {
  /** The current context's namespace: the default for the lease and the watched namespace. */
  readonly namespace: string | undefined;

  readonly #observer: KubeRequestObserver | undefined;

  private constructor(
    private readonly transport: Transport,
    namespace: string | undefined,
    options: KubeClientOptions,
  ) {
    this.namespace = namespace;
    this.#observer = options.observer;
  }

  static async connect(
    access: ApiServerAccess,
    options: KubeClientOptions = {},
  ): Promise<KubeClient> {
    return new KubeClient(await createTransport(access), access.namespace, options);
  }

  /** Loads `--kubeconfig`, `KUBECONFIG`, in-cluster or `~/.kube/config`, in that order. */
  static async load(
    source: KubeconfigSource = {},
    options: KubeClientOptions = {},
  ): Promise<KubeClient> {
    return await KubeClient.connect(await loadApiServerAccess(source), options);
  }

  get server(): string {
    return this.transport.server;
  }

  close(): void {
    this.transport.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** Sends one request; the response must be JSON (or empty) and is read under the deadline. */
  async request<T>(spec: RequestSpec): Promise<K8sResult<T>> {
    const limit = deadline(spec);
    const startedAt = performance.now();
    // Stays undefined if the body cannot be read: for the caller that is a failed request.
    let status: number | undefined;
    try {
      const response = await this.send(spec, limit.signal);
      if (!response.ok) {
        status = response.error.status;
        return response;
      }
      const text = await response.value.text();
      const value = (text ? JSON.parse(text) : undefined) as T;
      status = response.value.status;
      return success(value);
    } catch (thrown) {
      return failure(classifyThrown(thrown));
    } finally {
      limit.clear();
      this.#report(spec, status, startedAt);
    }
  }

  #report(spec: RequestSpec, status: number | undefined, startedAt: number): void {
    if (!this.#observer) return;
    const seconds = (performance.now() - startedAt) / 1000;
    try {
      this.#observer({ verb: spec.verb, resource: spec.resource, status, seconds });
    } catch {
      // Metrics are best effort: a faulty sink must not turn a good response into an error.
    }
  }

  /** Sends one request and hands back the open response (2xx only) for the caller to stream. */
  private async send(spec: RequestSpec, signal: AbortSignal): Promise<K8sResult<Response>> {
    let response: Response;
    try {
      // Inside the try: an exec credential plugin can fail like any network call.
      const headers = await this.transport.authHeaders();
      headers.set("Accept", "application/json");
      if (spec.body !== undefined) {
        headers.set("Content-Type", spec.contentType ?? "application/json");
      }
      response = await fetch(`${this.server}${spec.path}${queryString(spec.query)}`, {
        method: spec.method,
        headers,
        body: spec.body === undefined ? undefined : JSON.stringify(spec.body),
        client: this.transport.httpClient,
        signal,
      });
    } catch (thrown) {
      return failure(classifyThrown(thrown));
    }
    if (response.ok) return success(response);
    const text = await response.text().catch(() => "");
    return failure(classifyResponse(response.status, text, response.headers.get("Retry-After")));
  }

  get<T extends KubeObject = KubeObject>(
    resource: Resource,
    target: ObjectTarget,
    options: SubresourceOptions = {},
  ): Promise<K8sResult<T>> {
    const invalid = checkTarget(resource, target);
    if (invalid) return Promise.resolve(failure(invalid));
    return this.request<T>({
      ...options,
      verb: "get",
      resource: resource.plural,
      method: "GET",
      path: objectPath(resource, target, options.subresource),
    });
  }

  listPage<T extends KubeObject = KubeObject>(
    resource: Resource,
    options: ListPageOptions = {},
  ): Promise<K8sResult<ObjectList<T>>> {
    return this.request<ObjectList<T>>({
      ...options,
      verb: "list",
      resource: resource.plural,
      method: "GET",
      path: collectionPath(resource, options.namespace),
      query: {
        labelSelector: options.labelSelector,
        fieldSelector: options.fieldSelector,
        limit: options.limit,
        continue: options.continue,
        resourceVersion: options.resourceVersion,
      },
    });
  }

  /**
   * Lists every page. A continue token that expires mid-way comes back as `gone`: the caller
   * starts over, since pages from two snapshots would not be one consistent list.
   */
  async list<T extends KubeObject = KubeObject>(
    resource: Resource,
    options: ListAllOptions = {},
  ): Promise<K8sResult<ListResult<T>>> {
    const items: T[] = [];
    let continueToken: string | undefined;
    do {
      const page = await this.listPage<T>(resource, {
        ...options,
        limit: options.pageSize ?? 500,
        continue: continueToken,
      });
      if (!page.ok) return page;
      items.push(...page.value.items);
      continueToken = page.value.metadata.continue || undefined;
      if (!continueToken) {
        return success({ items, resourceVersion: page.value.metadata.resourceVersion ?? "" });
      }
    } while (true);
  }

  create<T extends KubeObject>(
    resource: Resource,
    body: T,
    options: CallOptions = {},
  ): Promise<K8sResult<T>> {
    const namespace = resource.namespaced ? body.metadata.namespace : undefined;
    if (resource.namespaced && !namespace) {
      return Promise.resolve(
        failure({ kind: "invalid", message: `${resource.plural}: no namespace` }),
      );
    }
    return this.request<T>({
      ...options,
      verb: "create",
      resource: resource.plural,
      method: "POST",
      path: collectionPath(resource, namespace),
      query: { fieldManager },
      body,
    });
  }

  /** PUT: the whole object; `metadata.resourceVersion` in the body makes it conditional. */
  replace<T extends KubeObject>(
    resource: Resource,
    body: T,
    options: SubresourceOptions = {},
  ): Promise<K8sResult<T>> {
    return this.write<T>(resource, targetOf(resource, body), options, {
      verb: "update",
      method: "PUT",
      body,
    });
  }

  /** RFC 7386 merge patch: the patch for custom resources (they refuse strategic merge). */
  mergePatch<T extends KubeObject = KubeObject>(
    resource: Resource,
    target: ObjectTarget,
    patch: unknown,
    options: SubresourceOptions = {},
  ): Promise<K8sResult<T>> {
    return this.write<T>(resource, target, options, {
      verb: "patch",
      method: "PATCH",
      body: patch,
      contentType: "application/merge-patch+json",
    });
  }

  /** RFC 6902 JSON patch; a `test` operation makes it conditional on a field's value. */
  jsonPatch<T extends KubeObject = KubeObject>(
    resource: Resource,
    target: ObjectTarget,
    operations: readonly JsonPatchOperation[],
    options: SubresourceOptions = {},
  ): Promise<K8sResult<T>> {
    return this.write<T>(resource, target, options, {
      verb: "patch",
      method: "PATCH",
      body: operations,
      contentType: "application/json-patch+json",
    });
  }

  /**
   * Server-side apply as field manager `etcd-operator`. The body is JSON, which is YAML, so the
   * apply-patch+yaml content type takes it as is; it must carry apiVersion, kind and name.
   */
  apply<T extends KubeObject>(
    resource: Resource,
    body: T,
    options: ApplyOptions = {},
  ): Promise<K8sResult<T>> {
    return this.write<T>(resource, targetOf(resource, body), options, {
      verb: "apply",
      method: "PATCH",
      body,
      contentType: "application/apply-patch+yaml",
      query: { fieldManager, force: options.force ?? true },
    });
  }

  private write<T>(
    resource: Resource,
    target: ObjectTarget,
    options: SubresourceOptions,
    request: Pick<RequestSpec, "verb" | "method" | "body" | "contentType" | "query">,
  ): Promise<K8sResult<T>> {
    const invalid = checkTarget(resource, target);
    if (invalid) return Promise.resolve(failure(invalid));
    return this.request<T>({
      ...options,
      ...request,
      resource: resource.plural,
      query: { fieldManager, ...request.query },
      path: objectPath(resource, target, options.subresource),
    });
  }

  /** DELETE; `uid`/`resourceVersion` become preconditions (a mismatch is a `conflict`). */
  async delete(
    resource: Resource,
    target: ObjectTarget,
    options: DeleteOptions = {},
  ): Promise<K8sResult<void>> {
    const invalid = checkTarget(resource, target);
    if (invalid) return failure(invalid);
    const preconditions = options.uid || options.resourceVersion
      ? { uid: options.uid, resourceVersion: options.resourceVersion }
      : undefined;
    const result = await this.request<unknown>({
      ...options,
      verb: "delete",
      resource: resource.plural,
      method: "DELETE",
      path: objectPath(resource, target),
      body: {
        apiVersion: "v1",
        kind: "DeleteOptions",
        propagationPolicy: options.propagationPolicy,
        gracePeriodSeconds: options.gracePeriodSeconds,
        preconditions,
      },
    });
    return result.ok ? success(undefined) : result;
  }

  /**
   * Opens a watch. The stream ends when the server's `timeoutSeconds` runs out, the deadline
   * (that plus a margin) fires, or `signal` aborts; breaking out of the loop cancels the body.
   */
  async watch<T extends KubeObject = KubeObject>(
    resource: Resource,
    options: WatchOptions,
  ): Promise<K8sResult<AsyncGenerator<RawWatchEvent<T>, void, undefined>>> {
    const limit = deadline({
      timeoutMs: options.timeoutMs ?? (options.timeoutSeconds + 30) * 1000,
      signal: options.signal,
    });
    const spec: RequestSpec = {
      verb: "watch",
      resource: resource.plural,
      method: "GET",
      path: collectionPath(resource, options.namespace),
      query: {
        watch: true,
        resourceVersion: options.resourceVersion,
        timeoutSeconds: options.timeoutSeconds,
        allowWatchBookmarks: options.allowWatchBookmarks ?? true,
        labelSelector: options.labelSelector,
        fieldSelector: options.fieldSelector,
      },
    };
    const startedAt = performance.now();
    const response = await this.send(spec, limit.signal);
    // Counted once, when it opens: its length is the server's timeout, not a latency.
    this.#report(spec, response.ok ? response.value.status : response.error.status, startedAt);
    const body = response.ok ? response.value.body : null;
    if (!body) {
      limit.clear();
      return response.ok
        ? failure({ kind: "transient", message: "watch response without a body" })
        : response;
    }
    return success(clearingDeadline(readWatchEvents<T>(body, limit.signal), limit));
  }
}
