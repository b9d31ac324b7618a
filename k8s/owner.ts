// Owner references and label matching, for any kind. (Which labels etcd members carry is
// actors/member.ts's business.)
import type { KubeObject, OwnerReference } from "./objects.ts";

/** An object the API server has stored: it has the name and uid an owner reference needs. */
export interface OwnerObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name?: string; readonly uid?: string };
}

/**
 * The reference that makes `owner` the controller: garbage collection deletes the dependant
 * with its owner, and blockOwnerDeletion keeps a foreground delete of the owner waiting for it.
 */
export function controllerReference(owner: OwnerObject): OwnerReference {
  const { name, uid } = owner.metadata;
  if (!name || !uid) {
    throw new Error(`${owner.kind} without name or uid cannot own anything (not yet created?)`);
  }
  return {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name,
    uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** The reference of the object's controller, if it has one. */
export function controllerOf(object: KubeObject): OwnerReference | undefined {
  return object.metadata.ownerReferences?.find((reference) => reference.controller === true);
}

/** Whether `owner` (matched by uid, so a recreated namesake does not count) controls `object`. */
export function isControlledBy(object: KubeObject, owner: KubeObject): boolean {
  const controller = controllerOf(object);
  return controller !== undefined && controller.uid === owner.metadata.uid;
}
