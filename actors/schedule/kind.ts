// What the EtcdBackupSchedule kind watches: its own objects, and the backups it controls.
import { resources } from "../../k8s/resources.ts";
import { backupObjects } from "../sources.ts";
import type { EtcdBackupScheduleObject } from "../types.ts";
import { byController, type KindDeclaration, objects, watch } from "../watches.ts";
import { scheduleActor, type ScheduleActorDeps, type ScheduleMessage } from "./actor.ts";

export const scheduleObjects = objects<EtcdBackupScheduleObject>(resources.etcdBackupSchedules);

export type ScheduleKindDeps = Omit<ScheduleActorDeps, "stores">;

export function scheduleKind(deps: ScheduleKindDeps): KindDeclaration<ScheduleMessage> {
  const log = deps.log.with({ actor: "EtcdBackupSchedule" });
  return {
    name: "backupSchedules",
    primary: scheduleObjects,
    wake: { kind: "reconcile" },
    watches: [
      // A backup it controls that finishes updates its status and its pruning.
      watch(backupObjects, byController(resources.etcdBackupSchedules.kind)),
    ],
    actor: (key, lookup) =>
      scheduleActor(key, {
        ...deps,
        log,
        stores: { schedules: lookup(scheduleObjects), backups: lookup(backupObjects) },
      }),
  };
}
