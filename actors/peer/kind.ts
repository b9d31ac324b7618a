// What the EtcdPeer kind watches, and which peer an event of each collection concerns.
import { peerLabel } from "../member.ts";
import {
  clusterObjects,
  memberPods,
  memberReplicaSets,
  memberVolumeClaims,
  peerObjects,
} from "../sources.ts";
import { tlsSecrets } from "../tls_secrets.ts";
import { byLabel, type KindDeclaration, watch } from "../watches.ts";
import { peerActor, type PeerActorDeps, type PeerMessage } from "./actor.ts";

export type PeerKindDeps = Omit<PeerActorDeps, "stores">;

const ofPeer = byLabel(peerLabel);

export function peerKind(deps: PeerKindDeps): KindDeclaration<PeerMessage> {
  const log = deps.log.with({ actor: "EtcdPeer" });
  return {
    name: "peers",
    primary: peerObjects,
    wake: { kind: "reconcile" },
    watches: [
      watch(memberVolumeClaims, ofPeer),
      watch(memberReplicaSets, ofPeer),
      watch(memberPods, ofPeer),
      watch(tlsSecrets, ofPeer),
      // Read for the Secret the operator dials a TLS member with; the cluster's own actor acts on it.
      watch(clusterObjects),
    ],
    actor: (key, lookup) =>
      peerActor(key, {
        ...deps,
        log,
        stores: {
          peers: lookup(peerObjects),
          volumeClaims: lookup(memberVolumeClaims),
          replicaSets: lookup(memberReplicaSets),
          pods: lookup(memberPods),
          clusters: lookup(clusterObjects),
          secrets: lookup(tlsSecrets),
        },
      }),
  };
}
