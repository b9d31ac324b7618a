// The EtcdBackupSchedule actor: on every message, plan from the schedule as it is now (so an edit
// takes effect at once), create or skip the due backup, prune, write status, and keep exactly one
// timer for the next tick. Deleting the schedule stops the actor, which clears that timer.
import { isDeepStrictEqual } from "node:util";
import type { ActorContext, ActorSpec, Behavior, Cancel } from "../runtime/mod.ts";
import type { KubeClient } from "../../k8s/client.ts";
import type { K8sError } from "../../k8s/errors.ts";
import { controllerOf, controllerReference } from "../../k8s/owner.ts";
import { labelKeys } from "../member.ts";
import { apiVersionOf, resources } from "../../k8s/resources.ts";
import type { StoreReader } from "../../k8s/store.ts";
import type { Logger } from "../../observability/log.ts";
import type { KubeObject } from "../../k8s/objects.ts";
import type {
  EtcdBackupObject,
  EtcdBackupScheduleObject,
  EtcdBackupSpec,
  EventSink,
} from "../types.ts";
import { deleteObject, isTransient, parseObjectURL } from "../../objectstore/mod.ts";
import { readCredentials } from "../backup/prepare.ts";
import type { TenancySettings } from "../tenancy.ts";
import {
  defaultLimits,
  planSchedule,
  type ScheduledBackupView,
  type ScheduleObservation,
  type ScheduleStep,
} from "./plan.ts";
import {
  formatTime,
  invalidScheduleReason,
  scheduledCondition,
  type ScheduleStatus,
  scheduleStatus,
} from "./status.ts";
import { writeStatusIfChanged } from "../status_writer.ts";

export type ScheduleMessage = { readonly kind: "reconcile" };

export interface ScheduleStores {
  readonly schedules: StoreReader<EtcdBackupScheduleObject>;
  readonly backups: StoreReader<EtcdBackupObject>;
}

export interface ScheduleActorDeps {
  readonly kube: Pick<KubeClient, "create" | "delete" | "mergePatch" | "get">;
  readonly stores: ScheduleStores;
  readonly events: EventSink;
  readonly log: Logger;
  /** Wall-clock time, injectable; cron ticks are wall-clock instants. */
  readonly now?: () => Date;
  /** Deletes a pruned backup's object (prunedBackupObjects: Delete); tests replace it. */
  readonly deleteObject?: typeof deleteObject;
  /** Where the operator's own credentials come from, where allowed; the process environment. */
  readonly environment?: (name: string) => string | undefined;
  /** What the administrator allowed beyond the namespace rules (actors/tenancy.ts); strict. */
  readonly tenancy?: TenancySettings;
}

/** How long deleting one object may take. */
const objectDeleteTimeoutMs = 60_000;

/** Backups the schedule creates carry this label (when the name fits in a label value). */
export const scheduleLabel = "etcd.improbable.io/backup-schedule";

/** Past a tick, wake a little late rather than early, since ticks fall on whole seconds. */
const tickSlackMs = 100;
/** Re-evaluate at least this often: a far tick (a yearly schedule) overflows setTimeout. */
const maxSleepMs = 60 * 60_000;
const retryMs = 5_000;

type StepOutcome =
  | { readonly kind: "created"; readonly tick: Date }
  | { readonly kind: "done" }
  | { readonly kind: "failed" };

const done: StepOutcome = { kind: "done" };

export function scheduleActor(key: string, deps: ScheduleActorDeps): ActorSpec<ScheduleMessage> {
  return {
    kind: "EtcdBackupSchedule",
    name: key,
    mailbox: { kind: "coalesce", keyOf: () => "reconcile" },
    init: (context) => new ScheduleBehavior(key, deps, context),
  };
}

class ScheduleBehavior implements Behavior<ScheduleMessage> {
  /** The one pending wake-up; replaced on every pass. */
  #timer: Cancel | undefined;
  /** The latest tick handled here, ahead of status.lastScheduleTime (skips are not written). */
  #handledTick: Date | undefined;
  /**
   * The latest tick a backup was created for here. The cache may still show an older status
   * when the next pass writes: lastScheduleTime must not move back to it.
   */
  #createdTick: Date | undefined;
  /** The status this incarnation last wrote, ahead of the watch cache catching up. */
  #written: ScheduleStatus | undefined;
  /** The generation whose invalid schedule was reported in a Warning Event. */
  #warnedGeneration: number | undefined;
  readonly #log: Logger;
  readonly #now: () => Date;

  constructor(
    readonly key: string,
    readonly deps: ScheduleActorDeps,
    readonly context: ActorContext<ScheduleMessage>,
  ) {
    this.#log = deps.log.with({ schedule: key });
    this.#now = deps.now ?? (() => new Date());
  }

  async handle(): Promise<void> {
    this.#timer?.();
    this.#timer = undefined;
    const schedule = this.deps.stores.schedules.get(this.key);
    if (!schedule || schedule.metadata.deletionTimestamp) return;
    const now = this.#now();
    const backups = this.#ownedBackups(schedule);
    const others = this.deps.stores.backups.list().filter((backup) =>
      backup.metadata.namespace === schedule.metadata.namespace &&
      controllerOf(backup)?.uid !== schedule.metadata.uid
    );
    const plan = planSchedule(this.#observe(schedule, backups, others, now));
    if (plan.state.kind === "invalid") this.#warnInvalid(schedule, plan.state.message);
    let failed = false;
    for (const step of plan.steps) {
      const outcome = await this.#act(schedule, step);
      if (outcome.kind === "failed") failed = true;
      if (outcome.kind === "created") this.#createdTick = outcome.tick;
    }
    await this.#writeStatus(schedule, backups, plan, this.#createdTick);
    const untilTick = plan.nextTick
      ? plan.nextTick.getTime() - now.getTime() + tickSlackMs
      : maxSleepMs;
    const delay = Math.max(0, Math.min(untilTick, maxSleepMs, failed ? retryMs : Infinity));
    this.#timer = this.context.scheduleSelf({ kind: "reconcile" }, delay);
  }

  /**
   * A schedule that can never tick says so once per spec generation: an Event besides the
   * condition, since nothing else would happen that anyone could notice. A status that already
   * reports it for this generation means an earlier incarnation did.
   */
  #warnInvalid(schedule: EtcdBackupScheduleObject, message: string): void {
    const generation = schedule.metadata.generation ?? 0;
    if (this.#warnedGeneration === generation) return;
    this.#warnedGeneration = generation;
    const reported = schedule.status?.conditions?.some((condition) =>
      condition.type === scheduledCondition && condition.reason === invalidScheduleReason &&
      condition.observedGeneration === generation
    );
    if (reported) return;
    this.#log.warn("invalid schedule", { message });
    this.deps.events.record(schedule, "Warning", invalidScheduleReason, message);
  }

  terminate(): void {
    this.#timer?.();
    this.#timer = undefined;
  }

  #ownedBackups(schedule: EtcdBackupScheduleObject): EtcdBackupObject[] {
    return this.deps.stores.backups.list().filter((backup) =>
      backup.metadata.namespace === schedule.metadata.namespace &&
      controllerOf(backup)?.uid === schedule.metadata.uid
    );
  }

  #observe(
    schedule: EtcdBackupScheduleObject,
    backups: readonly EtcdBackupObject[],
    others: readonly EtcdBackupObject[],
    now: Date,
  ): ScheduleObservation {
    const { spec, metadata, status } = schedule;
    const recorded = status?.lastScheduleTime ? new Date(status.lastScheduleTime) : undefined;
    const handled = this.#handledTick;
    return {
      scheduleName: metadata.name,
      schedule: spec.schedule,
      suspend: spec.suspend === true,
      successfulBackupsHistoryLimit: spec.successfulBackupsHistoryLimit ??
        defaultLimits.successful,
      failedBackupsHistoryLimit: spec.failedBackupsHistoryLimit ?? defaultLimits.failed,
      createdAt: new Date(metadata.creationTimestamp ?? now.toISOString()),
      lastTick: recorded && handled
        ? new Date(Math.max(recorded.getTime(), handled.getTime()))
        : recorded ?? handled,
      backups: backups.map(backupView),
      prunedBackupObjects: spec.prunedBackupObjects ?? "Keep",
      otherBackups: others.map(backupView),
      now,
    };
  }

  async #act(
    schedule: EtcdBackupScheduleObject,
    step: ScheduleStep,
  ): Promise<StepOutcome> {
    const { namespace } = schedule.metadata;
    switch (step.kind) {
      case "createBackup": {
        const created = await this.deps.kube.create(
          resources.etcdBackups,
          backupObject(schedule, step.name),
        );
        // The name is the tick's: "already exists" means this tick was handled before.
        if (!created.ok && created.error.kind !== "alreadyExists") {
          return this.#failed(`creating backup ${step.name}`, created.error);
        }
        this.#handledTick = step.tick;
        if (created.ok) {
          this.#log.info("backup created", { backup: step.name, tick: formatTime(step.tick) });
          this.deps.events.record(
            schedule,
            "Normal",
            "BackupCreated",
            `created EtcdBackup ${step.name} for the tick at ${formatTime(step.tick)}`,
          );
        }
        return { kind: "created", tick: step.tick };
      }
      case "skipTick":
        this.#handledTick = step.tick;
        this.deps.events.record(
          schedule,
          "Warning",
          "BackupSkipped",
          `skipped the backup due at ${formatTime(step.tick)}: ${step.runningBackup} is still ` +
            `running (a schedule runs one backup at a time)`,
        );
        return done;
      case "deleteBackup": {
        // The object first: deleting the backup first would forget the object after a crash.
        const object = await this.#pruneObject(schedule, step);
        if (object.kind === "failed") return object;
        const deleted = await this.deps.kube.delete(
          resources.etcdBackups,
          { namespace, name: step.name },
          { propagationPolicy: "Background" },
        );
        if (!deleted.ok && deleted.error.kind !== "notFound") {
          return this.#failed(`deleting backup ${step.name}`, deleted.error);
        }
        if (deleted.ok) {
          this.deps.events.record(
            schedule,
            "Normal",
            "BackupPruned",
            `deleted ${step.phase.toLowerCase()} EtcdBackup ${step.name}: beyond the ${
              step.phase === "Completed" ? "successful" : "failed"
            }BackupsHistoryLimit${object.note}`,
          );
        }
        return done;
      }
    }
  }

  /**
   * Deletes the object a pruned backup wrote when the plan says so, with the credentials that
   * wrote it. A store that is unreachable, or a Secret that cannot be read right now, keeps the
   * backup for the next pass; a permanent refusal (no permission) is reported and the backup is
   * pruned anyway, leaving the object, so the history limit still holds.
   */
  async #pruneObject(
    schedule: EtcdBackupScheduleObject,
    step: Extract<ScheduleStep, { kind: "deleteBackup" }>,
  ): Promise<{ readonly kind: "failed" } | { readonly kind: "done"; readonly note: string }> {
    const { object } = step;
    if (!object) return { kind: "done", note: "" };
    if (object.kind === "keep") {
      return { kind: "done", note: `; kept its object ${object.objectURL}: ${object.why}` };
    }
    const backup = this.deps.stores.backups.get(`${schedule.metadata.namespace}/${step.name}`);
    const location = parseObjectURL(object.objectURL, this.deps.environment);
    if (!backup || !location.ok) {
      return this.#objectLeft(
        schedule,
        object.objectURL,
        "its backup or URL can no longer be read",
      );
    }
    const credentials = await readCredentials(backup, location.value, {
      kube: this.deps.kube,
      environment: this.deps.environment,
      tenancy: this.deps.tenancy,
    });
    if (credentials.kind === "retry") {
      this.#log.warn("reading credentials to delete an object failed", {
        error: credentials.message,
      });
      return { kind: "failed" };
    }
    if (credentials.kind === "failed") {
      return this.#objectLeft(schedule, object.objectURL, credentials.failure.message);
    }
    const remove = this.deps.deleteObject ?? deleteObject;
    const deleted = await remove(location.value, {
      credentials: credentials.credentials,
      signal: AbortSignal.timeout(objectDeleteTimeoutMs),
    });
    if (!deleted.ok) {
      if (isTransient(deleted.error.kind)) {
        this.#log.warn("deleting a pruned backup's object failed", {
          error: deleted.error.message,
        });
        return { kind: "failed" };
      }
      return this.#objectLeft(schedule, object.objectURL, deleted.error.message);
    }
    this.#log.info("pruned backup object deleted", { backup: step.name, object: object.objectURL });
    return { kind: "done", note: ` and its object ${object.objectURL}` };
  }

  #objectLeft(
    schedule: EtcdBackupScheduleObject,
    objectURL: string,
    why: string,
  ): { readonly kind: "done"; readonly note: string } {
    this.deps.events.record(
      schedule,
      "Warning",
      "BackupObjectNotDeleted",
      `could not delete ${objectURL} of a pruned backup, which stays in the bucket: ${why}`,
    );
    return { kind: "done", note: `; its object ${objectURL} could not be deleted and stays` };
  }

  #failed(what: string, error: K8sError): StepOutcome {
    this.#log.warn(`${what} failed`, { error: error.message });
    return { kind: "failed" };
  }

  async #writeStatus(
    schedule: EtcdBackupScheduleObject,
    backups: readonly EtcdBackupObject[],
    plan: ReturnType<typeof planSchedule>,
    createdTick: Date | undefined,
  ): Promise<void> {
    const status = scheduleStatus({
      previous: schedule.status ?? {},
      createdTick,
      completionTimes: backups.flatMap((backup) =>
        backup.status?.phase === "Completed" && backup.status.completionTime
          ? [backup.status.completionTime]
          : []
      ),
      state: plan.state,
      nextTick: plan.nextTick,
      generation: schedule.metadata.generation ?? 0,
      now: formatTime(this.#now()),
    });
    // The cache may not show the last write yet: what this incarnation wrote counts as well.
    if (isDeepStrictEqual(status, this.#written)) return;
    const write = await writeStatusIfChanged(this.deps.kube, {
      resource: resources.etcdBackupSchedules,
      object: schedule,
      next: status,
    }, this.#log);
    if (write.kind === "written") this.#written = status;
  }
}

function backupView(backup: EtcdBackupObject): ScheduledBackupView {
  return {
    name: backup.metadata.name,
    phase: backup.status?.phase,
    creationTimestamp: backup.metadata.creationTimestamp ?? "",
    terminating: Boolean(backup.metadata.deletionTimestamp),
    objectURL: backup.status?.objectURL,
  };
}

/** The EtcdBackup for one tick: the template's spec, controlled by the schedule. */
export function backupObject(
  schedule: EtcdBackupScheduleObject,
  name: string,
): KubeObject & { readonly spec: EtcdBackupSpec } {
  const scheduleName = schedule.metadata.name;
  const owner = {
    apiVersion: apiVersionOf(resources.etcdBackupSchedules),
    kind: resources.etcdBackupSchedules.kind,
    metadata: schedule.metadata,
  };
  return {
    apiVersion: apiVersionOf(resources.etcdBackups),
    kind: resources.etcdBackups.kind,
    metadata: {
      name,
      namespace: schedule.metadata.namespace,
      labels: {
        [labelKeys.managedBy]: "etcd-operator",
        // A label value holds at most 63 characters; longer schedule names go without.
        ...(scheduleName.length <= 63 ? { [scheduleLabel]: scheduleName } : {}),
      },
      ownerReferences: [controllerReference(owner)],
    },
    spec: schedule.spec.backupTemplate,
  };
}
