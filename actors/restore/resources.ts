// What an EtcdRestore creates: member PVCs, one restore pod per member, then the EtcdCluster. Pure.
//
// A restore pod fills one PVC: an init container from the operator's image downloads the snapshot
// into an emptyDir (`object get`, checked against the EtcdBackup that wrote it when one is known:
// see source.ts), then the target version's own etcd
// image writes the member's data directory with `etcdutl snapshot restore` (3.5+) or
// `etcdctl snapshot restore` (3.4), using the name, peer URL, initial cluster and token the peer
// pods will use, so the cluster started afterwards finds a data directory it accepts.
import semver from "semver";
import { controllerReference } from "../../k8s/owner.ts";
import {
  clusterLabels,
  dataDir,
  etcdImage,
  labelKeys,
  peerLabels,
  peerName,
  peerURL,
} from "../member.ts";
import type { KubeObject } from "../../k8s/objects.ts";
import { apiVersionOf, resources } from "../../k8s/resources.ts";
import { type EtcdClusterSpec, restoreLabel } from "../types.ts";
import { writerUidKey } from "../snapshot_source.ts";
import type { SnapshotSource } from "../snapshot_source.ts";

/** What marks a PVC or EtcdCluster as made by one restore: its uid, so a namesake is not it. */
export const restoreUidAnnotation = "etcd.improbable.io/restore-uid";

/** Where the snapshot is downloaded to inside the restore pod (an emptyDir). */
export const snapshotDir = "/restore";
export const snapshotPath = `${snapshotDir}/snapshot.db`;
/** etcdctl 3.4 refuses an existing data dir: it restores here, on the PVC, then moves `member`. */
export const stagingDir = `${dataDir}/.restore`;

export interface RestoreIdentity {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
}

/** Everything the objects depend on, taken from the EtcdRestore and the operator's settings. */
export interface RestoreTarget {
  readonly restore: RestoreIdentity;
  readonly clusterName: string;
  readonly clusterSpec: EtcdClusterSpec;
  readonly objectURL: string;
  /** The Completed EtcdBackup that last wrote the object, when one did; the download checks it. */
  readonly snapshot: SnapshotSource | undefined;
  readonly credentialsSecret: string | undefined;
  readonly etcdRepository: string;
  readonly operatorImage: string;
  /**
   * The uid of the existing EtcdCluster of that name this restore fills the volumes of, when the
   * cluster itself created it (its controller) to recover from a lost quorum; else a new cluster.
   */
  readonly intoCluster?: string;
}

export interface Member {
  readonly name: string;
  readonly peerURL: string;
}

/** `<cluster>-0 … <cluster>-N-1` with the peer URLs the cluster's peers advertise. */
export function members(target: RestoreTarget): Member[] {
  const { clusterName, restore } = target;
  return Array.from({ length: target.clusterSpec.replicas }, (_, ordinal) => {
    const name = peerName(clusterName, ordinal);
    // The restored data records each member's peer URL: https when the cluster's peers use TLS.
    const scheme = target.clusterSpec.tls?.peer ? "https" : "http";
    return { name, peerURL: peerURL(clusterName, restore.namespace, name, scheme) };
  });
}

export function initialClusterFlag(all: readonly Member[]): string {
  return all.map((member) => `${member.name}=${member.peerURL}`).join(",");
}

/** A label value holds at most 63 characters; longer restore names are labelled by uid. */
export function restoreLabelValue(restore: RestoreIdentity): string {
  return restore.name.length <= 63 ? restore.name : restore.uid;
}

export function restorePodName(memberName: string): string {
  return `${memberName}-restore`;
}

/** etcdutl exists from 3.5; 3.4 restores with etcdctl (v3 API). */
export function usesEtcdutl(version: string): boolean {
  const parsed = semver.coerce(version);
  return parsed !== null && semver.gte(parsed, "3.5.0");
}

/** The snapshot-restore arguments both tools share, for one member. */
export function restoreArguments(
  target: RestoreTarget,
  member: Member,
  outputDir: string,
): string[] {
  return [
    "snapshot",
    "restore",
    snapshotPath,
    "--name",
    member.name,
    "--initial-cluster",
    initialClusterFlag(members(target)),
    "--initial-cluster-token",
    target.clusterName,
    "--initial-advertise-peer-urls",
    member.peerURL,
    "--data-dir",
    outputDir,
  ];
}

/**
 * 3.5+ images have no shell: etcdutl writes straight into the PVC's root, which it accepts while
 * empty (a fresh volume). 3.4 images have one: etcdctl (which refuses an existing dir) restores
 * into a staging dir on the same volume and `member` is renamed into place; leftovers of an
 * interrupted earlier attempt of this restore are removed first (the PVC is this restore's own).
 */
export function restoreCommand(target: RestoreTarget, member: Member): string[] {
  if (usesEtcdutl(target.clusterSpec.version)) {
    return ["/usr/local/bin/etcdutl", ...restoreArguments(target, member, dataDir)];
  }
  const script = [
    "set -eu",
    `rm -rf ${stagingDir} ${dataDir}/member`,
    `ETCDCTL_API=3 /usr/local/bin/etcdctl "$@"`,
    `mv ${stagingDir}/member ${dataDir}/member`,
    `rm -rf ${stagingDir}`,
  ].join("\n");
  return ["/bin/sh", "-c", script, "restore", ...restoreArguments(target, member, stagingDir)];
}

export function fetchCommand(target: RestoreTarget): string[] {
  return [
    "/usr/local/bin/deno",
    "run",
    "-A",
    "--cached-only",
    "/app/mod.ts",
    "object",
    "get",
    target.objectURL,
    "--file",
    snapshotPath,
    ...(target.snapshot
      ? [
        "--sha256",
        target.snapshot.sha256,
        "--metadata",
        `${writerUidKey}=${target.snapshot.backupUID}`,
      ]
      : []),
  ];
}

function restoreMarks(target: RestoreTarget) {
  return {
    labels: { [restoreLabel]: restoreLabelValue(target.restore) },
    annotations: { [restoreUidAnnotation]: target.restore.uid },
  };
}

/** Labelled as the peer's own PVC would be, plus the restore marks; no owner, like the peer's. */
export function volumeClaim(target: RestoreTarget, member: Member): KubeObject {
  const template = target.clusterSpec.storage.volumeClaimTemplate;
  const marks = restoreMarks(target);
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: {
      name: member.name,
      namespace: target.restore.namespace,
      labels: { ...peerLabels(target.clusterName, member.name), ...marks.labels },
      annotations: marks.annotations,
    },
    spec: {
      storageClassName: template.storageClassName,
      accessModes: template.accessModes?.length ? template.accessModes : ["ReadWriteOnce"],
      resources: { requests: { storage: String(template.resources.requests.storage) } },
      ...(template.selector ? { selector: template.selector } : {}),
      ...(template.volumeMode ? { volumeMode: template.volumeMode } : {}),
    },
  } as KubeObject;
}

/** Runs once (restartPolicy Never) and is owned by the EtcdRestore, so it goes with it. */
export function restorePod(target: RestoreTarget, member: Member): KubeObject {
  const { restore, clusterSpec } = target;
  const owner = {
    apiVersion: apiVersionOf(resources.etcdRestores),
    kind: resources.etcdRestores.kind,
    metadata: restore,
  };
  const credentials = target.credentialsSecret;
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: restorePodName(member.name),
      namespace: restore.namespace,
      labels: {
        [labelKeys.managedBy]: "etcd-operator",
        [restoreLabel]: restoreLabelValue(restore),
      },
      annotations: { [restoreUidAnnotation]: restore.uid },
      ownerReferences: [controllerReference(owner)],
    },
    spec: {
      restartPolicy: "Never",
      enableServiceLinks: false,
      automountServiceAccountToken: false,
      initContainers: [{
        name: "fetch",
        image: target.operatorImage,
        imagePullPolicy: "IfNotPresent",
        command: fetchCommand(target),
        ...(credentials ? { envFrom: [{ secretRef: { name: credentials } }] } : {}),
        // The image's own non-root user; the emptyDir is writable by anyone.
        securityContext: {
          runAsNonRoot: true,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ["ALL"] },
        },
        terminationMessagePolicy: "FallbackToLogsOnError",
        volumeMounts: [{ name: "snapshot", mountPath: snapshotDir }],
      }],
      containers: [{
        name: "restore",
        image: etcdImage(target.etcdRepository, clusterSpec.version),
        imagePullPolicy: "IfNotPresent",
        command: restoreCommand(target, member),
        resources: clusterSpec.podTemplate?.resources ?? {},
        // Root, with no capability but reading the snapshot (written 0600 by the non-root
        // download): the data files must belong to the user the peer pods run etcd as (the image
        // default, root), and freshly provisioned volumes (hostPath ones here) are root-owned
        // directories that fsGroup does not apply to.
        securityContext: {
          runAsUser: 0,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ["ALL"], add: ["DAC_READ_SEARCH"] },
        },
        // A failure's last log lines land in the pod status, where the restore reads its cause.
        terminationMessagePolicy: "FallbackToLogsOnError",
        volumeMounts: [
          { name: "snapshot", mountPath: snapshotDir, readOnly: true },
          { name: "data", mountPath: dataDir },
        ],
      }],
      ...(clusterSpec.podTemplate?.affinity ? { affinity: clusterSpec.podTemplate.affinity } : {}),
      volumes: [
        { name: "snapshot", emptyDir: {} },
        { name: "data", persistentVolumeClaim: { claimName: member.name } },
      ],
    },
  } as KubeObject;
}

/** The cluster itself: owned by nobody (it outlives the restore), marked with the restore's uid. */
export function restoredCluster(target: RestoreTarget): KubeObject & { spec: EtcdClusterSpec } {
  return {
    apiVersion: apiVersionOf(resources.etcdClusters),
    kind: resources.etcdClusters.kind,
    metadata: {
      name: target.clusterName,
      namespace: target.restore.namespace,
      labels: { [restoreLabel]: restoreLabelValue(target.restore) },
      annotations: { [restoreUidAnnotation]: target.restore.uid },
    },
    spec: target.clusterSpec,
  };
}

/** Selects the PVCs of a cluster (operator-made or not) by its label. */
export function clusterClaimSelector(clusterName: string): string {
  return `${labelKeys.clusterName}=${clusterLabels(clusterName)[labelKeys.clusterName]}`;
}
