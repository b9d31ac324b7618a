// Writes an object's status subresource only when its meaning changed, compared as values.
//
// The API server hands fields back in its own key order, so "has it changed?" is a structural
// comparison, never one of serialisations: a write that changes nothing wakes every watcher of
// the kind, the writing actor included, for another pass and another write.
import { isDeepStrictEqual } from "node:util";
import type { KubeClient } from "../k8s/client.ts";
import type { K8sError } from "../k8s/errors.ts";
import type { KubeObject } from "../k8s/objects.ts";
import type { Resource } from "../k8s/resources.ts";
import type { Logger } from "../observability/log.ts";

export type StatusObject = Readonly<Record<string, unknown>>;

export interface StatusWriteRequest {
  readonly resource: Resource;
  readonly object: {
    readonly metadata: { readonly namespace?: string; readonly name: string };
    readonly status?: object;
  };
  /** The status as last known when not the object's: what the actor wrote ahead of the cache. */
  readonly previous?: object;
  /** A status type, such as EtcdBackupStatus (an interface has no index signature). */
  readonly next: object;
  /**
   * The fields the actor owns: one of them that `next` lacks is removed. Without it, the fields
   * `next` names are compared and written (one it names as undefined is removed), no others.
   */
  readonly fields?: readonly string[];
}

export type StatusWrite =
  | { readonly kind: "unchanged"; readonly status: StatusObject }
  | {
    readonly kind: "written";
    /** What the server now holds: `previous` with the patch applied. */
    readonly status: StatusObject;
    readonly resourceVersion: string | undefined;
  }
  | { readonly kind: "failed"; readonly status: StatusObject; readonly error: K8sError };

/** Patches the status when it means something else than `previous`; a failure is logged. */
export async function writeStatusIfChanged(
  kube: Pick<KubeClient, "mergePatch">,
  request: StatusWriteRequest,
  log: Pick<Logger, "warn">,
): Promise<StatusWrite> {
  const { object } = request;
  const previous = (request.previous ?? object.status ?? {}) as StatusObject;
  const next = request.next as StatusObject;
  const patch = statusPatch(previous, next, request.fields);
  if (!patch) return { kind: "unchanged", status: previous };
  const result = await kube.mergePatch(
    request.resource,
    { namespace: object.metadata.namespace, name: object.metadata.name },
    { status: patch },
    { subresource: "status" },
  );
  if (!result.ok) {
    log.warn("status update failed", { error: result.error.message });
    return { kind: "failed", status: previous, error: result.error };
  }
  const status: Record<string, unknown> = { ...previous };
  for (const field of Object.keys(patch)) {
    if (patch[field] === null) delete status[field];
    else status[field] = next[field];
  }
  const resourceVersion = (result.value as KubeObject | undefined)?.metadata?.resourceVersion;
  return { kind: "written", status, resourceVersion };
}

/**
 * The merge patch from `previous` to `next` over `fields` (default: those `next` sets), or
 * undefined when they mean the same.
 */
export function statusPatch(
  previous: object,
  next: object,
  fields: readonly string[] = Object.keys(next),
): Record<string, unknown> | undefined {
  const patch: Record<string, unknown> = {};
  for (const field of fields) {
    const before = (previous as StatusObject)[field];
    const after = (next as StatusObject)[field];
    // A field no longer set (no leader while etcd is unreachable) is removed with null.
    if (after === undefined && before !== undefined && before !== null) patch[field] = null;
    else if (after !== undefined && !isDeepStrictEqual(before, after)) {
      patch[field] = withRemovals(before, after);
    }
  }
  return Object.keys(patch).length === 0 ? undefined : patch;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * A merge patch keeps keys it does not mention: a key of an object field that is gone now (the
 * `tls.caRotationPhase` of a finished rotation) must be sent as null.
 */
function withRemovals(before: unknown, after: unknown): unknown {
  if (!isPlainObject(before) || !isPlainObject(after)) return after;
  const removed = Object.keys(before).filter((key) => !(key in after) && before[key] !== null);
  return { ...after, ...Object.fromEntries(removed.map((key) => [key, null])) };
}
