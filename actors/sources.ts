// The collections more than one kind reads, named once so that every kind gets the same watch.
import { resources } from "../k8s/resources.ts";
import { ownedSelector } from "./member.ts";
import type {
  EtcdBackupObject,
  EtcdClusterObject,
  EtcdPeerObject,
  EtcdRestoreObject,
  PersistentVolumeClaimObject,
  PodObject,
  ReplicaSetObject,
} from "./types.ts";
import { objects } from "./watches.ts";

export const clusterObjects = objects<EtcdClusterObject>(resources.etcdClusters);
export const peerObjects = objects<EtcdPeerObject>(resources.etcdPeers);
export const backupObjects = objects<EtcdBackupObject>(resources.etcdBackups);
export const restoreObjects = objects<EtcdRestoreObject>(resources.etcdRestores);

// What the operator made for its clusters carries its label: nothing else of the kind is cached.
export const memberPods = objects<PodObject>(resources.pods, ownedSelector);
export const memberReplicaSets = objects<ReplicaSetObject>(resources.replicaSets, ownedSelector);
export const memberVolumeClaims = objects<PersistentVolumeClaimObject>(
  resources.persistentVolumeClaims,
  ownedSelector,
);
