// What the EtcdCluster kind watches, and which cluster an event of each collection concerns.
import type { KubeObject } from "../../k8s/objects.ts";
import { resources } from "../../k8s/resources.ts";
import { clusterLabel, ownedSelector } from "../member.ts";
import {
  backupObjects,
  clusterObjects,
  memberPods,
  memberReplicaSets,
  memberVolumeClaims,
  peerObjects,
  restoreObjects,
} from "../sources.ts";
import { namedSecretKeys, tlsSecrets } from "../tls_secrets.ts";
import type {
  EtcdPeerObject,
  NodeObject,
  PodDisruptionBudgetObject,
  SecretObject,
} from "../types.ts";
import {
  byController,
  byLabel,
  keyIn,
  type KeysOf,
  type KindDeclaration,
  objects,
  watch,
} from "../watches.ts";
import { clusterActor, type ClusterActorDeps, type ClusterMessage } from "./actor.ts";

export const clusterServices = objects<KubeObject>(resources.services, ownedSelector);
export const clusterDisruptionBudgets = objects<PodDisruptionBudgetObject>(
  resources.podDisruptionBudgets,
  ownedSelector,
);
/** Cluster-scoped: whether a member's node still runs it. */
export const nodes = objects<NodeObject>(resources.nodes);

export interface ClusterKindDeps extends Omit<ClusterActorDeps, "stores"> {
  /** Read Nodes to judge members on a dead node (default true; needs cluster-wide read). */
  readonly watchNodes?: boolean;
}

const ofCluster = byLabel(clusterLabel);

const ofPeerCluster: KeysOf<EtcdPeerObject> = (event) =>
  keyIn(event.object.metadata.namespace, event.object.spec.clusterName);

/** Its own Secrets carry its label; a user's Secret wakes every cluster that names it. */
const ofSecretUsers: KeysOf<SecretObject> = (event, lookup) => {
  const { namespace, name } = event.object.metadata;
  const users = lookup(clusterObjects).list().filter((cluster) =>
    namedSecretKeys([cluster]).has(`${namespace}/${name}`)
  );
  return [
    ...ofCluster(event, lookup),
    ...users.flatMap((cluster) => keyIn(cluster.metadata.namespace, cluster.metadata.name)),
  ];
};

/** A node that stops (or starts again) changes how the members it runs are judged. */
const ofMembersOnNode: KeysOf<NodeObject> = (event, lookup) =>
  lookup(memberPods).list()
    .filter((pod) => pod.spec?.nodeName === event.object.metadata.name)
    .flatMap((pod) => ofCluster({ type: event.type, object: pod }, lookup));

export function clusterKind(deps: ClusterKindDeps): KindDeclaration<ClusterMessage> {
  const watchNodes = deps.watchNodes !== false;
  const log = deps.log.with({ actor: "EtcdCluster" });
  return {
    name: "clusters",
    primary: clusterObjects,
    wake: { kind: "reconcile" },
    watches: [
      watch(peerObjects, ofPeerCluster),
      watch(clusterServices, ofCluster),
      watch(clusterDisruptionBudgets, ofCluster),
      watch(memberPods, ofCluster),
      watch(memberReplicaSets, ofCluster),
      watch(memberVolumeClaims, ofCluster),
      watch(tlsSecrets, ofSecretUsers),
      ...(watchNodes ? [watch(nodes, ofMembersOnNode)] : []),
      // What a cluster that lost every member's data recovers from (read only), and the
      // EtcdRestore it then creates, whose progress moves the recovery along.
      watch(backupObjects),
      watch(restoreObjects, byController(resources.etcdClusters.kind)),
    ],
    actor: (key, lookup) =>
      clusterActor(key, {
        ...deps,
        log,
        stores: {
          clusters: lookup(clusterObjects),
          peers: lookup(peerObjects),
          services: lookup(clusterServices),
          disruptionBudgets: lookup(clusterDisruptionBudgets),
          pods: lookup(memberPods),
          volumeClaims: lookup(memberVolumeClaims),
          nodes: watchNodes ? lookup(nodes) : undefined,
          secrets: lookup(tlsSecrets),
          backups: lookup(backupObjects),
          restores: lookup(restoreObjects),
        },
      }),
  };
}
