// What the EtcdRestore kind watches: its own objects, its restore pods, and the backups it trusts.
import { resources } from "../../k8s/resources.ts";
import { backupObjects, restoreObjects } from "../sources.ts";
import { restoreLabel } from "../types.ts";
import { byController, type KindDeclaration, objects, watch } from "../watches.ts";
import {
  restoreActor,
  type RestoreActorDeps,
  type RestoreMessage,
  type RestorePodObject,
} from "./actor.ts";

/** Restore pods carry no cluster labels (they are not members): selected by their own label. */
export const restorePods = objects<RestorePodObject>(resources.pods, restoreLabel);

export interface RestoreKindDeps extends Omit<RestoreActorDeps, "stores" | "operatorImage"> {
  /** The image restore pods download snapshots with; defaults to $ETCD_OPERATOR_IMAGE. */
  readonly operatorImage?: string;
}

/** Used when neither the option nor $ETCD_OPERATOR_IMAGE names the operator's image. */
const defaultOperatorImage = "etcd-operator.local/operator:dev";

export function restoreKind(deps: RestoreKindDeps): KindDeclaration<RestoreMessage> {
  const log = deps.log.with({ actor: "EtcdRestore" });
  const operatorImage = deps.operatorImage ?? Deno.env.get("ETCD_OPERATOR_IMAGE") ??
    defaultOperatorImage;
  return {
    name: "restores",
    primary: restoreObjects,
    wake: { kind: "reconcile" },
    watches: [
      // A restore pod's progress is what moves its restore along.
      watch(restorePods, byController(resources.etcdRestores.kind)),
      // Read for the sha256 a Completed backup recorded of the snapshot being restored.
      watch(backupObjects),
    ],
    actor: (key, lookup) =>
      restoreActor(key, {
        ...deps,
        log,
        operatorImage,
        stores: {
          restores: lookup(restoreObjects),
          restorePods: lookup(restorePods),
          backups: lookup(backupObjects),
        },
      }),
  };
}
