// Owner references and the label sets the operator puts on everything it creates.
import type { KubeObject, OwnerReference } from "./objects.ts";

export const labelKeys = {
  name: "app.kubernetes.io/name",
  managedBy: "app.kubernetes.io/managed-by",
  clusterName: "etcd.improbable.io/cluster-name",
  peerName: "etcd.improbable.io/peer-name",
} as const;

export type Labels = Readonly<Record<string, string>>;

/** Every object of an etcd cluster carries these, so one selector finds them all. */
export function clusterLabels(clusterName: string): Labels {
  return {
    [labelKeys.name]: "etcd",
    [labelKeys.managedBy]: "etcd-operator",
    [labelKeys.clusterName]: clusterName,
  };
}

/** The objects of one member (ReplicaSet, Pod, PVC) add the peer's name. */
export function peerLabels(clusterName: string, peerName: string): Labels {
  return { ...clusterLabels(clusterName), [labelKeys.peerName]: peerName };
}

/** `k=v,k2=v2`, keys sorted so the same set always gives the same selector string. */
export function labelSelector(labels: Labels): string {
  return Object.keys(labels).sort().map((key) => `${key}=${labels[key]}`).join(",");
}

export function matchesLabels(object: KubeObject, labels: Labels): boolean {
  const own = object.metadata.labels ?? {};
  return Object.entries(labels).every(([key, value]) => own[key] === value);
}

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
