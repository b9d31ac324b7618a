// The shapes of the objects the actors read: our custom resources and the built-ins they own.
import type { KubeObject, ObjectMeta } from "../k8s/objects.ts";
import type { SnapshotSource } from "./snapshot_source.ts";

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
  /** Absent: plain HTTP on both ports (the default). See docs/tls.md. */
  readonly tls?: EtcdClusterTLS;
  /** What the operator may do when a majority of members is gone (default Manual). */
  readonly quorumLossRecovery?: QuorumLossRecoveryPolicy;
}

/**
 * Manual: the operator explains what it would do and waits for `approveQuorumRecoveryAnnotation`;
 * Automatic: it recovers by itself once the loss outlasts the grace period.
 */
export type QuorumLossRecoveryPolicy = "Manual" | "Automatic";

/**
 * On an EtcdCluster, set by its owner: an RFC 3339 time. It approves one recovery from a lost
 * quorum, the one that began before that time (an approval never covers a later loss).
 */
export const approveQuorumRecoveryAnnotation = "etcd.improbable.io/approve-quorum-recovery";

/** On an EtcdCluster, written by the operator while it recovers a lost quorum (JSON). */
export const quorumRecoveryAnnotation = "etcd.improbable.io/quorum-recovery";

/** Restore pods and the PVCs a restore created carry the restore's name (selects its pods). */
export const restoreLabel = "etcd.improbable.io/restore";

/** `spec.tls`: TLS on the client port and between members, each mutual and each optional. */
export interface EtcdClusterTLS {
  /** TLS on 2379; clients must present a certificate the cluster's CA signed. */
  readonly client?: {
    /** Secrets the user keeps; absent, the operator issues and rotates the certificates. */
    readonly userProvided?: {
      /** `tls.crt`, `tls.key`, `ca.crt`: what every member serves on 2379. */
      readonly serverSecretName: string;
      /** `tls.crt`, `tls.key`, `ca.crt`: the client certificate the operator connects with. */
      readonly operatorSecretName: string;
    };
  };
  /** TLS on 2380 between members, which present and verify certificates both ways. */
  readonly peer?: {
    readonly userProvided?: {
      /** `tls.crt`, `tls.key`, `ca.crt`: what every member presents to and trusts from peers. */
      readonly secretName: string;
    };
  };
  /** For the certificates the operator issues; Go durations (`2160h`). */
  readonly certificates?: {
    readonly validity?: string;
    readonly renewBefore?: string;
    readonly caValidity?: string;
    readonly caRenewBefore?: string;
    /** Raise it to rotate the CA now (through the same overlap as on expiry). */
    readonly caRotation?: number;
  };
}

/** `status.tls`: when each certificate expires and where a CA rotation stands. No key material. */
export interface EtcdClusterTLSStatus {
  readonly caRotationPhase?: CARotationPhase;
  readonly certificates?: readonly {
    /** The Secret holding it. */
    readonly secretName: string;
    /** `ca`, `member`, `operatorClient`, `applicationClient`, or `userProvided`. */
    readonly role: string;
    readonly notAfter: string;
    /** When the operator renews it (operator-issued only). */
    readonly renewAt?: string;
  }[];
}

/** Where a CA rotation stands: the new CA trusted, leaves re-issued from it, the old one dropped. */
export type CARotationPhase = "TrustingNewCA" | "ReissuingFromNewCA" | "DroppingOldCA";

export interface EtcdClusterObject extends KubeObject {
  readonly metadata: StoredMeta;
  readonly spec: EtcdClusterSpec;
  readonly status?: { readonly conditions?: readonly ClusterCondition[] } & Record<string, unknown>;
}

export interface EtcdPeerObject extends KubeObject {
  readonly metadata: StoredMeta;
  readonly spec: EtcdPeerSpec;
  readonly status?: { readonly serverVersion?: string; readonly node?: string };
}

/** A container's state as the kubelet reports it (one of the three is set). */
export interface ContainerState {
  readonly running?: { readonly startedAt?: string };
  readonly waiting?: { readonly reason?: string; readonly message?: string };
  readonly terminated?: {
    readonly exitCode: number;
    readonly reason?: string;
    /** The termination message: for etcd, the tail of its log when it failed. */
    readonly message?: string;
    readonly finishedAt?: string;
  };
}

export interface PodObject extends KubeObject {
  readonly metadata: StoredMeta;
  readonly spec?: { readonly nodeName?: string; readonly hostNetwork?: boolean };
  readonly status?: {
    readonly podIP?: string;
    readonly phase?: string;
    readonly conditions?: readonly {
      readonly type: string;
      readonly status: string;
      readonly reason?: string;
      readonly message?: string;
      readonly lastTransitionTime?: string;
    }[];
    readonly containerStatuses?: readonly {
      readonly name: string;
      readonly restartCount?: number;
      readonly state?: ContainerState;
      readonly lastState?: ContainerState;
    }[];
  };
}

/** What the operator reads of a Node: whether its kubelet is alive and serving its pods. */
export interface NodeObject extends KubeObject {
  readonly status?: {
    readonly conditions?: readonly {
      readonly type: string;
      readonly status: string;
      readonly reason?: string;
      readonly lastTransitionTime?: string;
    }[];
  };
}

export interface PodDisruptionBudgetObject extends KubeObject {
  readonly metadata: StoredMeta;
  readonly spec?: { readonly minAvailable?: number | string };
}

/** On an EtcdCluster: the id etcd gave the cluster when it formed. Set once, never removed. */
export const formedAnnotation = "etcd.improbable.io/formed-cluster-id";

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

/** A metav1.Condition of one of our own types; `lastTransitionTime` moves only on a status flip. */
export interface StatusCondition<T extends string = string> {
  readonly type: T;
  readonly status: "True" | "False" | "Unknown";
  readonly reason: string;
  readonly message: string;
  readonly lastTransitionTime: string;
  readonly observedGeneration?: number;
}

/** An EtcdCluster's conditions always say which generation they describe. */
export interface ClusterCondition
  extends StatusCondition<"Available" | "Progressing" | "Degraded"> {
  readonly observedGeneration: number;
}

export interface ResourceRequirements {
  readonly limits?: Readonly<Record<string, string>>;
  readonly requests?: Readonly<Record<string, string>>;
}

export interface PodTemplate {
  readonly metadata?: { readonly annotations?: Readonly<Record<string, string>> };
  readonly resources?: ResourceRequirements;
  readonly affinity?: Readonly<Record<string, unknown>>;
}

export interface VolumeClaimTemplate {
  readonly storageClassName: string;
  readonly accessModes?: readonly string[];
  /** The CRD accepts an int-or-string quantity, as PersistentVolumeClaimSpec does. */
  readonly resources: { readonly requests: { readonly storage: string | number } };
  readonly selector?: Readonly<Record<string, unknown>>;
  readonly volumeMode?: string;
}

export interface EtcdPeerSpec {
  readonly clusterName: string;
  readonly version: string;
  readonly bootstrap: {
    readonly static: { readonly initialCluster: readonly { name: string; host: string }[] };
    readonly initialClusterState: "New" | "Existing";
    /**
     * Start etcd with --force-new-cluster: on its kept data, as the only member of its cluster.
     * Set only by a quorum recovery, and cleared by it before any other member joins.
     */
    readonly forceNewCluster?: boolean;
  };
  readonly storage: { readonly volumeClaimTemplate: VolumeClaimTemplate };
  readonly podTemplate?: PodTemplate;
  /** The Secrets each port's TLS comes from; absent (or a port absent) is plain HTTP there. */
  readonly tls?: PeerTLS;
}

/** Each Secret holds `tls.crt`, `tls.key` and `ca.crt` (docs/tls.md). */
export interface PeerTLS {
  readonly client?: { readonly secretName: string };
  readonly peer?: { readonly secretName: string };
}

export type BackupPhase = "BackingUp" | "Completed" | "Failed";

/** An EtcdBackup spec; an EtcdBackupSchedule's `backupTemplate` has the same shape. */
export interface EtcdBackupSpec {
  readonly source: { readonly clusterURL: string };
  readonly destination: { readonly objectURLTemplate: string };
  readonly credentialsSecretRef?: { readonly name: string };
}

export interface EtcdBackupStatus {
  readonly phase?: BackupPhase;
  readonly startTime?: string;
  readonly completionTime?: string;
  readonly objectURL?: string;
  readonly sizeBytes?: number;
  readonly revision?: number;
  readonly sha256?: string;
  readonly conditions?: readonly StatusCondition[];
}

export interface EtcdBackupObject extends KubeObject {
  readonly metadata: StoredMeta;
  readonly spec: EtcdBackupSpec;
  readonly status?: EtcdBackupStatus;
}

export interface EtcdBackupScheduleSpec {
  readonly schedule: string;
  readonly backupTemplate: EtcdBackupSpec;
  readonly successfulBackupsHistoryLimit?: number;
  readonly failedBackupsHistoryLimit?: number;
  readonly suspend?: boolean;
  /** Whether pruning a Completed backup also deletes its object; `Keep` when unset. */
  readonly prunedBackupObjects?: "Keep" | "Delete";
}

export interface EtcdBackupScheduleObject extends KubeObject {
  readonly metadata: StoredMeta;
  readonly spec: EtcdBackupScheduleSpec;
  readonly status?: {
    readonly lastScheduleTime?: string;
    readonly lastSuccessfulTime?: string;
    readonly conditions?: readonly StatusCondition[];
  };
}

/** A Secret as the API returns it: `data` values are base64. */
export interface SecretObject extends KubeObject {
  readonly data?: Readonly<Record<string, string>>;
}

export type RestorePhase = "Pending" | "Restoring" | "Completed" | "Failed";

export interface EtcdRestoreSpec {
  readonly source: { readonly objectURL: string };
  readonly clusterTemplate: { readonly clusterName: string; readonly spec: EtcdClusterSpec };
  /** The Secret the restore pods' download takes its object-store credentials from. */
  readonly credentialsSecretRef?: { readonly name: string };
}

export interface EtcdRestoreStatus {
  readonly phase?: RestorePhase;
  /** The backup every restore pod checks the snapshot against, fixed when the restore starts. */
  readonly snapshot?: SnapshotSource;
  readonly conditions?: readonly StatusCondition[];
}

export interface EtcdRestoreObject extends KubeObject {
  readonly metadata: StoredMeta;
  readonly spec: EtcdRestoreSpec;
  readonly status?: EtcdRestoreStatus;
}
