// Confirms a lost volume with the API server before anything is done about it.
//
// A cache can show a peer's volume record before it shows the PVC the record names (they arrive
// on different watches): read from the cache alone, a fresh volume looks lost. Replacing a member
// is not undone, so the verdict is read again from the server first.
import type { KubeClient } from "../k8s/client.ts";
import { resources } from "../k8s/resources.ts";
import { volumeAnnotation, type VolumeState, volumeState } from "./member.ts";

/** The peer's volume as the API server has it now; undefined when it cannot be read. */
export async function currentVolumeState(
  kube: Pick<KubeClient, "get">,
  namespace: string,
  peerName: string,
): Promise<VolumeState | undefined> {
  const target = { namespace, name: peerName };
  const peer = await kube.get(resources.etcdPeers, target);
  if (!peer.ok) return undefined;
  const claim = await kube.get(resources.persistentVolumeClaims, target);
  if (!claim.ok && claim.error.kind !== "notFound") return undefined;
  const meta = claim.ok ? claim.value.metadata : undefined;
  return volumeState(
    peer.value.metadata.annotations?.[volumeAnnotation],
    meta?.uid ? { uid: meta.uid, terminating: Boolean(meta.deletionTimestamp) } : undefined,
  );
}
