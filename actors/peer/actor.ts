// The EtcdPeer actor: keeps the peer's PVC and one-pod ReplicaSet in place and reports its etcd version.
import type { ActorContext, ActorSpec, Behavior, Cancel } from "../runtime/mod.ts";
import type { KubeClient } from "../../k8s/client.ts";
import { resources } from "../../k8s/resources.ts";
import type { KubeObject } from "../../k8s/objects.ts";
import type { StoreReader } from "../../k8s/store.ts";
import type { Logger } from "../../observability/log.ts";
import type {
  EtcdClusterObject,
  EtcdPeerObject,
  EventSink,
  PersistentVolumeClaimObject,
  PodObject,
  ReplicaSetObject,
  SecretObject,
} from "../types.ts";
import { type MemberAccess, memberClientEndpoint } from "../member_dialer.ts";
import { persistentVolumeClaim, replicaSet } from "./resources.ts";
import { tlsDigestAnnotation } from "../member.ts";
import { peerHost, peerLabel, volumeAnnotation, volumeState } from "../member.ts";
import { fetchVersion } from "../../etcd/health.ts";
import type { ClientTLS } from "../../etcd/client.ts";
import { clientMaterial, decodeSecret, operatorClientSecret } from "../tls/observe.ts";
import { resolveTLS } from "../tls/settings.ts";
import { currentVolumeState } from "../volume_check.ts";
import { writeStatusIfChanged } from "../status_writer.ts";

export type PeerMessage = { readonly kind: "reconcile" };

export interface PeerStores {
  readonly peers: StoreReader<EtcdPeerObject>;
  readonly volumeClaims: StoreReader<PersistentVolumeClaimObject>;
  readonly replicaSets: StoreReader<ReplicaSetObject>;
  readonly pods: StoreReader<PodObject>;
  /** With TLS on the client port: the cluster names the Secret the operator dials with. */
  readonly clusters?: StoreReader<EtcdClusterObject>;
  readonly secrets?: StoreReader<SecretObject>;
}

export interface PeerActorDeps {
  readonly kube: KubeClient;
  readonly stores: PeerStores;
  readonly events: EventSink;
  readonly memberAccess: MemberAccess;
  readonly etcdRepository: string;
  readonly log: Logger;
}

export function peerActor(key: string, deps: PeerActorDeps): ActorSpec<PeerMessage> {
  return {
    kind: "EtcdPeer",
    name: key,
    mailbox: { kind: "coalesce", keyOf: () => "reconcile" },
    init: (context) => new PeerBehavior(key, deps, context),
  };
}

class PeerBehavior implements Behavior<PeerMessage> {
  #cancelNextPass: Cancel | undefined;

  constructor(
    readonly key: string,
    readonly deps: PeerActorDeps,
    readonly context: ActorContext<PeerMessage>,
  ) {}

  async handle(): Promise<void> {
    const peer = this.deps.stores.peers.get(this.key);
    if (!peer || peer.metadata.deletionTimestamp) return;
    const delay = await reconcilePeer(peer, this.deps);
    // One pending pass at a time: wake-ups by watch events do not pile up timers.
    this.#cancelNextPass?.();
    this.#cancelNextPass = this.context.scheduleSelf({ kind: "reconcile" }, delay);
  }
}

async function reconcilePeer(peer: EtcdPeerObject, deps: PeerActorDeps): Promise<number> {
  const key = `${peer.metadata.namespace}/${peer.metadata.name}`;
  const log = deps.log.with({ peer: key });
  const claim = deps.stores.volumeClaims.get(key);
  const volume = volumeState(
    peer.metadata.annotations?.[volumeAnnotation],
    claim && { uid: claim.metadata.uid, terminating: Boolean(claim.metadata.deletionTimestamp) },
  );
  switch (volume.kind) {
    case "terminating":
      // A volume from an earlier member of the same name is still going away: a new member
      // must start empty.
      return 2_000;
    case "lost": {
      // The cache may show the record before the PVC it names: ask the server.
      const now = await currentVolumeState(deps.kube, peer.metadata.namespace, peer.metadata.name);
      if (now?.kind !== "lost") return 1_000;
      // Never an empty volume under a member that had data: the cluster actor replaces it.
      log.warn("the member's data is lost; waiting for the member to be replaced", {
        reason: now.reason,
      });
      return 30_000;
    }
    case "missing": {
      const created = await deps.kube.create(
        resources.persistentVolumeClaims,
        persistentVolumeClaim(peer.metadata, peer.spec),
      );
      if (!created.ok && created.error.kind !== "alreadyExists") {
        log.warn("creating the volume claim failed", { error: created.error.message });
        return 5_000;
      }
      // Recorded on the next pass, from the cache, whether this create or a namesake won.
      const uid = created.ok ? (created.value as KubeObject).metadata.uid : undefined;
      if (!uid) return 1_000;
      if (!(await recordVolume(peer, uid, deps))) return 5_000;
      break;
    }
    case "present":
      if (!volume.recorded && !(await recordVolume(peer, volume.uid, deps))) return 5_000;
      break;
  }
  if (!deps.stores.replicaSets.get(key)) {
    // A replaced peer's old pod may still be stopping: two etcd processes must never share a volume.
    const oldPods = deps.stores.pods.list().filter((pod) =>
      pod.metadata.namespace === peer.metadata.namespace &&
      pod.metadata.labels?.[peerLabel] === peer.metadata.name
    );
    if (oldPods.length > 0) return 1_000;
    const created = await deps.kube.create(
      resources.replicaSets,
      // The TLS digest its Secrets had when the cluster actor created or last restarted it.
      replicaSet(peer.metadata, peer.spec, deps.etcdRepository, {
        tlsDigest: peer.metadata.annotations?.[tlsDigestAnnotation],
      }),
    );
    if (!created.ok && created.error.kind !== "alreadyExists") {
      log.warn("creating the replica set failed", { error: created.error.message });
      return 5_000;
    }
  }
  const serverVersion = await readServerVersion(peer, deps);
  const node = nodeOfPeer(peer, deps.stores.pods.list());
  // What is not known now (no answer, no pod) keeps its last known value.
  await writeStatusIfChanged(deps.kube, {
    resource: resources.etcdPeers,
    object: peer,
    next: { ...(serverVersion ? { serverVersion } : {}), ...(node ? { node } : {}) },
  }, log);
  return serverVersion === peer.spec.version ? 60_000 : 3_000;
}

/** The node the peer's current pod is bound to (a terminating one only if it is the only one). */
export function nodeOfPeer(peer: EtcdPeerObject, pods: readonly PodObject[]): string | undefined {
  const own = pods.filter((pod) =>
    pod.metadata.namespace === peer.metadata.namespace &&
    pod.metadata.labels?.[peerLabel] === peer.metadata.name && pod.spec?.nodeName
  ).sort((a, b) =>
    Number(Boolean(a.metadata.deletionTimestamp)) - Number(Boolean(b.metadata.deletionTimestamp))
  );
  return own[0]?.spec?.nodeName;
}

/**
 * Remembers which PVC holds the member's data, before etcd ever starts on it: from then on a
 * missing or different PVC means the data is lost, not that a volume is still to be made.
 */
async function recordVolume(peer: EtcdPeerObject, uid: string, deps: PeerActorDeps) {
  const patched = await deps.kube.mergePatch(
    resources.etcdPeers,
    { namespace: peer.metadata.namespace, name: peer.metadata.name },
    { metadata: { annotations: { [volumeAnnotation]: uid } } },
  );
  if (!patched.ok) {
    deps.log.warn("recording the volume failed", {
      peer: peer.metadata.name,
      error: patched.error.message,
    });
  }
  return patched.ok;
}

/** The member's own `/version` answer; undefined while it is not running. */
async function readServerVersion(
  peer: EtcdPeerObject,
  deps: PeerActorDeps,
): Promise<string | undefined> {
  const pods = deps.stores.pods.list().filter((pod) =>
    pod.metadata.namespace === peer.metadata.namespace
  );
  const endpoint = memberClientEndpoint(
    deps.memberAccess,
    peer.metadata.namespace,
    peer.spec.clusterName,
    peer.metadata.name,
    pods,
    peer.spec.tls?.client ? "https" : "http",
  );
  if (!endpoint) return undefined;
  if (peer.spec.tls?.client) {
    const tls = operatorTLS(peer, deps);
    if (!tls) return undefined;
    try {
      return (await fetchVersion(endpoint, 2_000, tls)).etcdserver;
    } catch {
      return undefined;
    }
  }
  try {
    const response = await fetch(`${endpoint}/version`, { signal: AbortSignal.timeout(2_000) });
    if (!response.ok) {
      await response.body?.cancel();
      return undefined;
    }
    const body = await response.json() as { etcdserver?: string };
    return body.etcdserver;
  } catch {
    return undefined;
  }
}

/** The operator's client certificate for the peer's cluster, verifying the member by its name. */
function operatorTLS(peer: EtcdPeerObject, deps: PeerActorDeps): ClientTLS | undefined {
  const { namespace } = peer.metadata;
  const cluster = deps.stores.clusters?.get(`${namespace}/${peer.spec.clusterName}`);
  if (!cluster) return undefined;
  const secretName = operatorClientSecret(resolveTLS(cluster.spec.tls), cluster.metadata.name);
  const material = secretName
    ? clientMaterial(decodeSecret(deps.stores.secrets?.get(`${namespace}/${secretName}`)))
    : undefined;
  return material &&
    { ...material, serverName: peerHost(peer.spec.clusterName, namespace, peer.metadata.name) };
}
