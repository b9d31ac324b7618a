// The local cluster's storage: a node-local volume provisioner, run as a host daemon by `env:up`.
//
// The StorageClass binds on first use (WaitForFirstConsumer), so the scheduler picks the node
// first and records it on the claim; this makes a directory under `<volumes>/<node>/` and a
// hostPath PersistentVolume pinned to that node by node affinity. A pod on that volume can then
// only ever run on that node, as with real local disks: when the node is gone, so is the data.
// A released volume's directory and PersistentVolume are deleted.
//
// usage: provisioner.ts <kubeconfig> <volumes directory>
import { join } from "node:path";
import { KubeClient } from "../../k8s/client.ts";
import type { Resource } from "../../k8s/resources.ts";
import type { KubeObject } from "../../k8s/objects.ts";
import { Watcher } from "../../k8s/watch.ts";
import { provisionerName } from "./config.ts";

const selectedNodeAnnotation = "volume.kubernetes.io/selected-node";
const provisionerAnnotation = "volume.kubernetes.io/storage-provisioner";
const provisionedByAnnotation = "pv.kubernetes.io/provisioned-by";

const claims: Resource = {
  group: "",
  version: "v1",
  plural: "persistentvolumeclaims",
  kind: "PersistentVolumeClaim",
  namespaced: true,
};
const volumes: Resource = {
  group: "",
  version: "v1",
  plural: "persistentvolumes",
  kind: "PersistentVolume",
  namespaced: false,
};

interface Claim extends KubeObject {
  readonly spec?: {
    readonly accessModes?: readonly string[];
    readonly volumeMode?: string;
    readonly storageClassName?: string;
    readonly resources?: { readonly requests?: { readonly storage?: string } };
  };
  readonly status?: { readonly phase?: string };
}

interface Volume extends KubeObject {
  readonly spec?: {
    readonly hostPath?: { readonly path?: string };
    readonly persistentVolumeReclaimPolicy?: string;
  };
  readonly status?: { readonly phase?: string };
}

/** The volume for a claim that waits for us on a chosen node, or undefined if none is due. */
export function volumeFor(claim: Claim, volumesDir: string): Volume | undefined {
  const annotations = claim.metadata.annotations ?? {};
  const node = annotations[selectedNodeAnnotation];
  if (annotations[provisionerAnnotation] !== provisionerName || !node) return undefined;
  if (claim.status?.phase !== "Pending" || claim.metadata.deletionTimestamp) return undefined;
  const name = `pvc-${claim.metadata.uid}`;
  return {
    apiVersion: "v1",
    kind: "PersistentVolume",
    metadata: { name, annotations: { [provisionedByAnnotation]: provisionerName } },
    spec: {
      capacity: { storage: claim.spec?.resources?.requests?.storage ?? "1Gi" },
      accessModes: claim.spec?.accessModes ?? ["ReadWriteOnce"],
      volumeMode: claim.spec?.volumeMode ?? "Filesystem",
      storageClassName: claim.spec?.storageClassName,
      persistentVolumeReclaimPolicy: "Delete",
      // DirectoryOrCreate: a node whose disks were lost comes back with empty volumes.
      hostPath: { path: join(volumesDir, node, name), type: "DirectoryOrCreate" },
      claimRef: {
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        namespace: claim.metadata.namespace,
        name: claim.metadata.name,
        uid: claim.metadata.uid,
      },
      nodeAffinity: {
        required: {
          nodeSelectorTerms: [{
            matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: [node] }],
          }],
        },
      },
    },
  } as Volume;
}

/** A volume of ours whose claim is gone: its data and object go too. */
export function isReleased(volume: Volume): boolean {
  return volume.metadata.annotations?.[provisionedByAnnotation] === provisionerName &&
    volume.spec?.persistentVolumeReclaimPolicy === "Delete" &&
    (volume.status?.phase === "Released" || volume.status?.phase === "Failed");
}

async function main(kubeconfig: string, volumesDir: string): Promise<void> {
  const client = await KubeClient.load({ path: kubeconfig });
  const claimWatch = new Watcher<Claim>(client, { resource: claims, resyncIntervalMs: 60_000 });
  const volumeWatch = new Watcher<Volume>(client, { resource: volumes, resyncIntervalMs: 60_000 });
  const inFlight = new Set<string>();

  const provision = async (claim: Claim) => {
    const volume = volumeFor(claim, volumesDir);
    if (!volume || inFlight.has(volume.metadata.name!)) return;
    if (volumeWatch.store.get(volume.metadata.name!)) return;
    inFlight.add(volume.metadata.name!);
    try {
      await Deno.mkdir(volume.spec!.hostPath!.path!, { recursive: true, mode: 0o750 });
      const created = await client.create(volumes, volume);
      if (!created.ok && created.error.kind !== "alreadyExists") {
        console.error(`creating ${volume.metadata.name}: ${created.error.message}`);
      } else {
        console.error(
          `provisioned ${volume.metadata.name} for ` +
            `${claim.metadata.namespace}/${claim.metadata.name} on ${
              claim.metadata.annotations?.[selectedNodeAnnotation]
            }`,
        );
      }
    } finally {
      inFlight.delete(volume.metadata.name!);
    }
  };

  const release = async (volume: Volume) => {
    if (!isReleased(volume) || inFlight.has(volume.metadata.name!)) return;
    inFlight.add(volume.metadata.name!);
    try {
      const path = volume.spec?.hostPath?.path;
      // Only ever below our own directory, whatever the object says.
      if (path && path.startsWith(volumesDir + "/")) {
        await Deno.remove(path, { recursive: true }).catch(() => {});
      }
      const deleted = await client.delete(volumes, { name: volume.metadata.name! }, {
        uid: volume.metadata.uid,
      });
      if (!deleted.ok && deleted.error.kind !== "notFound") {
        console.error(`deleting ${volume.metadata.name}: ${deleted.error.message}`);
      }
    } finally {
      inFlight.delete(volume.metadata.name!);
    }
  };

  claimWatch.addHandler((event) => void provision(event.object as Claim));
  volumeWatch.addHandler((event) => void release(event.object as Volume));
  volumeWatch.start();
  await volumeWatch.synced();
  claimWatch.start();
  // A claim whose create raced a failed attempt is retried by the periodic resync.
  await new Promise(() => {});
}

if (import.meta.main) {
  const [kubeconfig, volumesDir] = Deno.args;
  if (!kubeconfig || !volumesDir) {
    console.error("usage: provisioner.ts <kubeconfig> <volumes directory>");
    Deno.exit(2);
  }
  await main(kubeconfig, volumesDir);
}
