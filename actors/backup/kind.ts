// What the EtcdBackup kind watches: its own objects, and the member pods it dials through.
import { backupObjects, memberPods } from "../sources.ts";
import { type KindDeclaration, watch } from "../watches.ts";
import { backupActor, type BackupActorDeps, type BackupMessage } from "./actor.ts";

export type BackupKindDeps = Omit<BackupActorDeps, "stores">;

export function backupKind(deps: BackupKindDeps): KindDeclaration<BackupMessage> {
  const log = deps.log.with({ actor: "EtcdBackup" });
  return {
    name: "backups",
    primary: backupObjects,
    wake: { kind: "reconcile" },
    // Read when a backup starts, to map a member's name to its pod's address.
    watches: [watch(memberPods)],
    actor: (key, lookup) =>
      backupActor(key, {
        ...deps,
        log,
        stores: { backups: lookup(backupObjects), pods: lookup(memberPods) },
      }),
  };
}
