// The shapes of the objects the actors read: our custom resources and the built-ins they own.
import type { KubeObject, ObjectMeta } from "../k8s/objects.ts";
import type { Condition } from "./cluster/status.ts";
import type { EtcdPeerSpec, PodTemplate, VolumeClaimTemplate } from "./peer/resources.ts";

/** Metadata of an object read back from the API server: these fields are always set there. */
export interface StoredMeta extends ObjectMeta {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
}

export interface EtcdClusterSpec {
  readonly replicas: number;
  readonly version: string;
  readonly storage: { readonly volumeClaimTemplate: VolumeClaimTemplate };
  readonly podTemplate?: PodTemplate;
}

export interface EtcdClusterObject extends KubeObject {
  readonly metadata: StoredMeta;
  readonly spec: EtcdClusterSpec;
  readonly status?: { readonly conditions?: readonly Condition[] } & Record<string, unknown>;
}

export interface EtcdPeerObject extends KubeObject {
  readonly metadata: StoredMeta;
  readonly spec: EtcdPeerSpec;
  readonly status?: { readonly serverVersion?: string };
}

export interface PodObject extends KubeObject {
  readonly metadata: StoredMeta;
  readonly status?: { readonly podIP?: string; readonly phase?: string };
}

export interface PodDisruptionBudgetObject extends KubeObject {
  readonly metadata: StoredMeta;
  readonly spec?: { readonly minAvailable?: number | string };
}

export const clusterLabel = "etcd.improbable.io/cluster-name";
export const peerLabel = "etcd.improbable.io/peer-name";

/** Where actors report what they did; recording never fails the caller. */
export interface EventSink {
  record(
    involved: KubeObject & { readonly metadata: StoredMeta },
    type: "Normal" | "Warning",
    reason: string,
    message: string,
  ): void;
}

export interface ReplicaSetObject extends KubeObject {
  readonly metadata: StoredMeta;
}

export interface PersistentVolumeClaimObject extends KubeObject {
  readonly metadata: StoredMeta;
}
