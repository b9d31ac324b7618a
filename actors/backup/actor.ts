// The EtcdBackup actor: plan the phase, start the streamed upload in the background, record its end.
//
// The upload runs beside the message loop (it may take minutes), owned by the incarnation: a stop
// or crash aborts it, and the next incarnation or process finds the backup BackingUp with no
// upload and starts over (see plan.ts for the bound on that).
import type { ActorContext, ActorSpec, Behavior } from "../runtime/mod.ts";
import type { KubeClient } from "../../k8s/client.ts";
import { resources } from "../../k8s/resources.ts";
import type { StoreReader } from "../../k8s/store.ts";
import { describeCredentials } from "../../objectstore/mod.ts";
import type { Logger } from "../../observability/log.ts";
import type { MemberAccess } from "../member_dialer.ts";
import type { TenancySettings } from "../tenancy.ts";
import type {
  BackupPhase,
  EtcdBackupObject,
  EtcdBackupStatus,
  EventSink,
  PodObject,
} from "../types.ts";
import { type BackupFailure, interruptedFailure } from "./failure.ts";
import { attemptsAnnotation, type BackupStep, parseAttempts, planBackup } from "./plan.ts";
import { prepareBackup } from "./prepare.ts";
import { backingUpStatus, completedStatus, failedStatus, succeededMessage } from "./status.ts";
import { type TransferOptions, type TransferOutcome, transferSnapshot } from "./transfer.ts";
import { writeStatusIfChanged } from "../status_writer.ts";

export type BackupMessage =
  | { readonly kind: "reconcile" }
  | {
    readonly kind: "uploadFinished";
    readonly objectURL: string;
    readonly outcome: TransferOutcome;
  };

export interface BackupStores {
  readonly backups: StoreReader<EtcdBackupObject>;
  readonly pods: StoreReader<PodObject>;
}

export interface BackupActorDeps {
  readonly kube: Pick<KubeClient, "get" | "mergePatch">;
  readonly stores: BackupStores;
  readonly events: EventSink;
  readonly memberAccess: MemberAccess;
  readonly log: Logger;
  /** What the administrator allowed beyond the namespace rules (actors/tenancy.ts); strict. */
  readonly tenancy?: TenancySettings;
  /** Where the operator's own credentials come from, where allowed; the process environment. */
  readonly environment?: (name: string) => string | undefined;
  readonly transfer?: TransferOptions;
  /** The byte mover; tests replace it. */
  readonly runTransfer?: typeof transferSnapshot;
}

/** After an API failure; the backup itself is not retried, only our bookkeeping. */
const retryMs = 5_000;
/** How long a stopping actor waits for its aborted upload to clean up (abort multipart, close). */
const abortWaitMs = 10_000;

interface RunningUpload {
  readonly controller: AbortController;
  readonly done: Promise<void>;
}

interface FinishedUpload {
  readonly objectURL: string;
  readonly outcome: Exclude<TransferOutcome, { kind: "aborted" }>;
}

export function backupActor(key: string, deps: BackupActorDeps): ActorSpec<BackupMessage> {
  return {
    kind: "EtcdBackup",
    name: key,
    mailbox: {
      kind: "coalesce",
      keyOf: (message) => message.kind === "reconcile" ? "reconcile" : undefined,
    },
    init: (context) => new BackupBehavior(key, deps, context),
  };
}

class BackupBehavior implements Behavior<BackupMessage> {
  #running: RunningUpload | undefined;
  #finished: FinishedUpload | undefined;
  /** The final phase this incarnation wrote, ahead of the watch cache catching up. */
  #written: BackupPhase | undefined;
  readonly #log: Logger;

  constructor(
    readonly key: string,
    readonly deps: BackupActorDeps,
    readonly context: ActorContext<BackupMessage>,
  ) {
    this.#log = deps.log.with({ backup: key });
  }

  async handle(message: BackupMessage): Promise<void> {
    if (message.kind === "uploadFinished") {
      this.#running = undefined;
      if (message.outcome.kind !== "aborted") {
        this.#finished = { objectURL: message.objectURL, outcome: message.outcome };
      }
    }
    const cached = this.deps.stores.backups.get(this.key);
    if (!cached || cached.metadata.deletionTimestamp) {
      this.#running?.controller.abort();
      this.#finished = undefined;
      return;
    }
    const step = planBackup(this.#observe(cached));
    if (step.kind === "done" || step.kind === "wait") return;
    if (step.kind === "record") return await this.#record(cached);
    // Starting streams bytes and bumps a counter: decide on the API server's word, not the cache's.
    const fresh = await this.deps.kube.get<EtcdBackupObject>(resources.etcdBackups, {
      namespace: cached.metadata.namespace,
      name: cached.metadata.name,
    });
    if (!fresh.ok) {
      if (fresh.error.kind !== "notFound") this.#retryLater("reading the backup", fresh.error);
      return;
    }
    await this.#act(planBackup(this.#observe(fresh.value)), fresh.value);
  }

  async terminate(): Promise<void> {
    const running = this.#running;
    if (!running) return;
    running.controller.abort();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      running.done,
      new Promise((resolve) => timer = setTimeout(resolve, abortWaitMs)),
    ]);
    clearTimeout(timer);
  }

  #observe(backup: EtcdBackupObject) {
    return {
      phase: this.#written ?? backup.status?.phase,
      uploadRunning: this.#running !== undefined,
      outcomePending: this.#finished !== undefined,
      attempts: parseAttempts(backup.metadata.annotations?.[attemptsAnnotation]),
    };
  }

  async #act(step: BackupStep, backup: EtcdBackupObject): Promise<void> {
    switch (step.kind) {
      case "start":
      case "restart":
        await this.#start(backup, step.attempt);
        break;
      case "giveUp":
        await this.#fail(backup, interruptedFailure(step.attempts), undefined);
        break;
      case "record":
        await this.#record(backup);
        break;
      case "done":
      case "wait":
        break;
    }
  }

  async #start(backup: EtcdBackupObject, attempt: number): Promise<void> {
    const prepared = await prepareBackup(backup, {
      kube: this.deps.kube,
      pods: this.deps.stores.pods.list(),
      memberAccess: this.deps.memberAccess,
      environment: this.deps.environment,
      tenancy: this.deps.tenancy,
    });
    if (prepared.kind === "retry") {
      return this.#retryLater("reading the credentials Secret", { message: prepared.message });
    }
    if (prepared.kind === "failed") {
      await this.#fail(backup, prepared.failure, prepared.objectURL);
      return;
    }
    const target = { namespace: backup.metadata.namespace, name: backup.metadata.name };
    // Counted before the upload starts, so a crash mid-upload still counts against the limit.
    const counted = await this.deps.kube.mergePatch(resources.etcdBackups, target, {
      metadata: { annotations: { [attemptsAnnotation]: String(attempt) } },
    });
    if (!counted.ok) return this.#retryLater("counting the attempt", counted.error);
    const { objectURL } = prepared.backup;
    const started = await this.#writeStatus(
      backup,
      backingUpStatus({
        ...this.#common(backup),
        startTime: backup.status?.startTime,
        objectURL,
        clusterURL: prepared.backup.clusterURL,
        attempt,
      }),
    );
    if (!started) return this.#retryLater("writing the BackingUp status", undefined);
    const dialled = prepared.backup.endpoint === prepared.backup.clusterURL
      ? ""
      : ` via ${prepared.backup.endpoint}`;
    this.#log.info("backup started", {
      attempt,
      objectURL,
      endpoint: prepared.backup.endpoint,
      credentials: describeCredentials(prepared.backup.credentials),
    });
    if (attempt === 1) {
      this.deps.events.record(
        backup,
        "Normal",
        "BackupStarted",
        `streaming a snapshot of ${prepared.backup.clusterURL}${dialled} to ${objectURL}`,
      );
    } else {
      this.deps.events.record(
        backup,
        "Warning",
        "BackupRestarted",
        `the previous upload was interrupted (operator restart); streaming again, attempt ` +
          `${attempt}, to ${objectURL}`,
      );
    }
    const controller = new AbortController();
    const run = this.deps.runTransfer ?? transferSnapshot;
    const done = run(prepared.backup, controller.signal, this.deps.transfer)
      .then((outcome) => void this.context.self({ kind: "uploadFinished", objectURL, outcome }))
      .catch(() => {});
    this.#running = { controller, done };
  }

  async #record(backup: EtcdBackupObject): Promise<void> {
    const finished = this.#finished;
    if (!finished) return;
    const { outcome, objectURL } = finished;
    if (outcome.kind === "failed") {
      if (await this.#fail(backup, outcome.failure, objectURL)) this.#finished = undefined;
      return;
    }
    const status = completedStatus({ ...this.#common(backup), objectURL, result: outcome.result });
    if (!await this.#writeStatus(backup, status)) {
      return this.#retryLater("writing the Completed status", undefined);
    }
    this.#finished = undefined;
    const message = succeededMessage(objectURL, outcome.result);
    this.#log.info("backup completed", { objectURL, ...outcome.result });
    this.deps.events.record(backup, "Normal", "BackupSucceeded", message);
  }

  /** Writes Failed and its Event; false when the status could not be written (retried later). */
  async #fail(
    backup: EtcdBackupObject,
    failure: BackupFailure,
    objectURL: string | undefined,
  ): Promise<boolean> {
    const status = failedStatus({ ...this.#common(backup), objectURL, failure });
    if (!await this.#writeStatus(backup, status)) {
      this.#retryLater("writing the Failed status", undefined);
      return false;
    }
    this.#log.warn("backup failed", { reason: failure.reason, message: failure.message });
    this.deps.events.record(backup, "Warning", "BackupFailed", failure.message);
    return true;
  }

  async #writeStatus(backup: EtcdBackupObject, status: EtcdBackupStatus): Promise<boolean> {
    const write = await writeStatusIfChanged(this.deps.kube, {
      resource: resources.etcdBackups,
      object: backup,
      next: status,
    }, this.#log);
    if (write.kind === "failed") return false;
    if (status.phase === "Completed" || status.phase === "Failed") this.#written = status.phase;
    return true;
  }

  #common(backup: EtcdBackupObject) {
    return {
      previous: backup.status?.conditions ?? [],
      generation: backup.metadata.generation ?? 0,
      now: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    };
  }

  #retryLater(what: string, error: { readonly message: string } | undefined): void {
    if (error) this.#log.warn(`${what} failed; retrying`, { error: error.message });
    this.context.scheduleSelf({ kind: "reconcile" }, retryMs);
  }
}
