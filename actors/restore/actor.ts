// The EtcdRestore actor: observe the target cluster's objects, plan one step, act, write status.
//
// Whether the cluster or its PVCs exist is read from the API server on every pass, not from a
// cache: refusing to overwrite data is the one decision a restore must never get wrong. The
// restore pods come from a watch (their events are what moves a restore along).
import type { ActorContext, ActorSpec, Behavior } from "../runtime/mod.ts";
import type { KubeClient } from "../../k8s/client.ts";
import type { K8sError } from "../../k8s/errors.ts";
import { controllerOf } from "../../k8s/owner.ts";
import { labelKeys } from "../member.ts";
import type { KubeObject } from "../../k8s/objects.ts";
import { resources } from "../../k8s/resources.ts";
import type { StoreReader } from "../../k8s/store.ts";
import type { Logger } from "../../observability/log.ts";
import {
  type EtcdBackupObject,
  type EtcdRestoreObject,
  type EtcdRestoreStatus,
  type EventSink,
  quorumRecoveryAnnotation,
  type RestorePhase,
  type StoredMeta,
} from "../types.ts";
import { restoreOfRecord } from "../recovery_record.ts";
import {
  type ExistingCluster,
  type ExistingObject,
  memberNames,
  planRestore,
  type RestoreObservation,
  type RestorePodState,
  type RestoreStep,
} from "./plan.ts";
import { type RestoreTarget, restoreUidAnnotation } from "./resources.ts";
import { type SnapshotSource, snapshotSource } from "../snapshot_source.ts";
import { writeStatusIfChanged } from "../status_writer.ts";
import { completedStatus, failedStatus, restoringStatus, type StatusInput } from "./status.ts";

interface ContainerStatus {
  readonly name: string;
  readonly state?: {
    readonly terminated?: {
      readonly exitCode?: number;
      readonly reason?: string;
      readonly message?: string;
    };
  };
}

export interface RestorePodObject extends KubeObject {
  readonly metadata: StoredMeta;
  readonly status?: {
    readonly phase?: string;
    readonly reason?: string;
    readonly message?: string;
    readonly initContainerStatuses?: readonly ContainerStatus[];
    readonly containerStatuses?: readonly ContainerStatus[];
  };
}

export type RestoreMessage = { readonly kind: "reconcile" };

export interface RestoreStores {
  readonly restores: StoreReader<EtcdRestoreObject>;
  readonly restorePods: StoreReader<RestorePodObject>;
  readonly backups: StoreReader<EtcdBackupObject>;
}

export interface RestoreActorDeps {
  readonly kube: Pick<KubeClient, "get" | "list" | "create" | "mergePatch">;
  readonly stores: RestoreStores;
  readonly events: EventSink;
  readonly log: Logger;
  readonly etcdRepository: string;
  /** The image restore pods download the snapshot with (it has `mod.ts object get`). */
  readonly operatorImage: string;
}

const retryMs = 5_000;
/** How much of a failed container's log tail goes into the condition message. */
const logTailChars = 1_500;

export function restoreActor(key: string, deps: RestoreActorDeps): ActorSpec<RestoreMessage> {
  return {
    kind: "EtcdRestore",
    name: key,
    mailbox: { kind: "coalesce", keyOf: () => "reconcile" },
    init: (context) => new RestoreBehavior(key, deps, context),
  };
}

class RestoreBehavior implements Behavior<RestoreMessage> {
  /** The phase this incarnation wrote, ahead of the watch cache catching up. */
  #written: RestorePhase | undefined;
  /** The snapshot source this incarnation wrote into status, ahead of the cache likewise. */
  #pinned: SnapshotSource | undefined;
  readonly #log: Logger;

  constructor(
    readonly key: string,
    readonly deps: RestoreActorDeps,
    readonly context: ActorContext<RestoreMessage>,
  ) {
    this.#log = deps.log.with({ restore: key });
  }

  async handle(): Promise<void> {
    const restore = this.deps.stores.restores.get(this.key);
    if (!restore || restore.metadata.deletionTimestamp) return;
    const phase = this.#written ?? restore.status?.phase;
    if (phase === "Completed" || phase === "Failed") return;
    const observed = await this.#observe(restore, phase);
    if (!observed.ok) return this.#retryLater("observing the target cluster", observed.error);
    const step = planRestore(observed.value);
    const outcome = await this.#act(restore, step);
    if (outcome === "progressed") this.context.self({ kind: "reconcile" });
    if (outcome === "failed") this.context.scheduleSelf({ kind: "reconcile" }, retryMs);
  }

  async #observe(
    restore: EtcdRestoreObject,
    phase: RestorePhase | undefined,
  ): Promise<{ ok: true; value: RestoreObservation } | { ok: false; error: K8sError }> {
    const target = this.#target(restore);
    const { namespace } = restore.metadata;
    const cluster = await this.deps.kube.get(resources.etcdClusters, {
      namespace,
      name: target.clusterName,
    });
    if (!cluster.ok && cluster.error.kind !== "notFound") return cluster;
    const claims = await this.deps.kube.list(resources.persistentVolumeClaims, { namespace });
    if (!claims.ok) return claims;
    const names = new Set(memberNames(target));
    const volumeClaims = claims.value.items.filter((claim) =>
      names.has(claim.metadata.name ?? "") ||
      claim.metadata.labels?.[labelKeys.clusterName] === target.clusterName
    ).map(existing);
    const pods = this.deps.stores.restorePods.list().filter((pod) =>
      pod.metadata.namespace === namespace && controllerOf(pod)?.uid === restore.metadata.uid
    ).map(podState);
    return {
      ok: true,
      value: {
        phase,
        target,
        cluster: cluster.ok ? existingCluster(cluster.value) : undefined,
        volumeClaims,
        pods,
      },
    };
  }

  #target(restore: EtcdRestoreObject): RestoreTarget {
    const { spec, metadata } = restore;
    return {
      restore: { name: metadata.name, namespace: metadata.namespace, uid: metadata.uid },
      clusterName: spec.clusterTemplate.clusterName,
      clusterSpec: spec.clusterTemplate.spec,
      objectURL: spec.source.objectURL,
      // Chosen once, at the start, then read back: every member must get the same bytes.
      snapshot: this.#pinned ?? restore.status?.snapshot ??
        snapshotSource(spec.source.objectURL, metadata.namespace, this.deps.stores.backups.list()),
      // spec.credentialsSecretRef (keys named as the SDKs' variables) is handed to the download.
      credentialsSecret: spec.credentialsSecretRef?.name,
      etcdRepository: this.deps.etcdRepository,
      operatorImage: this.deps.operatorImage,
      ...(intoCluster(restore) ? { intoCluster: intoCluster(restore) } : {}),
    };
  }

  async #act(
    restore: EtcdRestoreObject,
    step: RestoreStep,
  ): Promise<"progressed" | "idle" | "failed"> {
    const input = statusInput(restore);
    switch (step.kind) {
      case "done":
        return "idle";
      case "wait":
        this.#log.debug("waiting", { reason: step.reason });
        return "idle";
      case "start": {
        const { snapshot } = this.#target(restore);
        if (!await this.#writeStatus(restore, restoringStatus(input, step.message, snapshot))) {
          return "failed";
        }
        this.#pinned = snapshot;
        this.#log.info("restore started", { message: step.message });
        this.deps.events.record(restore, "Normal", "RestoreStarted", step.message);
        return "progressed";
      }
      case "createVolumeClaims":
        return await this.#createAll(resources.persistentVolumeClaims, step.claims);
      case "createPods":
        return await this.#createAll(resources.pods, step.pods);
      case "createCluster":
        return await this.#createAll(resources.etcdClusters, [step.cluster]);
      case "complete":
        if (!await this.#writeStatus(restore, completedStatus(input, step.message))) {
          return "failed";
        }
        this.#log.info("restore completed", { message: step.message });
        this.deps.events.record(restore, "Normal", "RestoreCompleted", step.message);
        return "idle";
      case "fail":
        if (!await this.#writeStatus(restore, failedStatus(input, step.reason, step.message))) {
          return "failed";
        }
        this.#log.warn("restore failed", { reason: step.reason, message: step.message });
        this.deps.events.record(restore, "Warning", "RestoreFailed", step.message);
        return "idle";
    }
  }

  /**
   * "Already exists" is not progress: the next pass sees the object (ours, or someone else's,
   * which it refuses), and a watch event, not a loop, brings that pass.
   */
  async #createAll(
    resource: (typeof resources)[keyof typeof resources],
    objects: readonly KubeObject[],
  ): Promise<"progressed" | "idle" | "failed"> {
    let created = 0;
    for (const object of objects) {
      const result = await this.deps.kube.create(resource, object);
      if (result.ok) {
        created++;
        this.#log.info(`${resource.kind} created`, { name: object.metadata.name });
      } else if (result.error.kind !== "alreadyExists") {
        this.#log.warn(`creating ${resource.kind} ${object.metadata.name} failed`, {
          error: result.error.message,
        });
        return "failed";
      }
    }
    return created > 0 ? "progressed" : "idle";
  }

  async #writeStatus(restore: EtcdRestoreObject, status: EtcdRestoreStatus): Promise<boolean> {
    const write = await writeStatusIfChanged(this.deps.kube, {
      resource: resources.etcdRestores,
      object: restore,
      next: status,
    }, this.#log);
    if (write.kind === "failed") return false;
    this.#written = status.phase;
    return true;
  }

  #retryLater(what: string, error: K8sError): void {
    this.#log.warn(`${what} failed; retrying`, { error: error.message });
    this.context.scheduleSelf({ kind: "reconcile" }, retryMs);
  }
}

function existing(object: KubeObject): ExistingObject {
  return {
    name: object.metadata.name ?? "",
    restoreUid: object.metadata.annotations?.[restoreUidAnnotation],
  };
}

function existingCluster(object: KubeObject): ExistingCluster {
  return {
    ...existing(object),
    uid: object.metadata.uid ?? "",
    recoveryRestore: restoreOfRecord(object.metadata.annotations?.[quorumRecoveryAnnotation]),
  };
}

/** The uid of the EtcdCluster of the target's name that controls the restore, if one does. */
function intoCluster(restore: EtcdRestoreObject): string | undefined {
  const owner = controllerOf(restore);
  return owner?.kind === "EtcdCluster" && owner.name === restore.spec.clusterTemplate.clusterName
    ? owner.uid
    : undefined;
}

/** A pod's phase and, once it failed, which container failed and its last log lines. */
export function podState(pod: RestorePodObject): RestorePodState {
  const phase = pod.status?.phase;
  return {
    name: pod.metadata.name,
    phase,
    failure: phase === "Failed" ? podFailure(pod) : undefined,
  };
}

function podFailure(pod: RestorePodObject): string {
  const statuses = [
    ...(pod.status?.initContainerStatuses ?? []),
    ...(pod.status?.containerStatuses ?? []),
  ];
  for (const container of statuses) {
    const terminated = container.state?.terminated;
    if (!terminated || terminated.exitCode === 0) continue;
    const tail = (terminated.message ?? "").trim().slice(-logTailChars);
    return `container ${container.name} exited with code ${terminated.exitCode ?? "?"}` +
      `${terminated.reason ? ` (${terminated.reason})` : ""}${tail ? `: ${tail}` : ""}`;
  }
  return [pod.status?.reason, pod.status?.message].filter(Boolean).join(": ") ||
    "the pod failed without a container error";
}

function statusInput(restore: EtcdRestoreObject): StatusInput {
  return {
    previous: restore.status?.conditions ?? [],
    generation: restore.metadata.generation ?? 0,
    now: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
  };
}
