// The local cluster's node-local provisioner: which claims get a volume, and what it looks like.
import assert from "node:assert/strict";
import { isReleased, volumeFor } from "../../env/provisioner.ts";
import { provisionerName } from "../../env/config.ts";

const claim = (annotations: Record<string, string>, phase = "Pending", deleting = false) => ({
  metadata: {
    name: "data",
    namespace: "ns",
    uid: "1234",
    annotations,
    ...(deleting ? { deletionTimestamp: "2026-12-03T00:00:00Z" } : {}),
  },
  spec: {
    accessModes: ["ReadWriteOnce"],
    storageClassName: "standard",
    resources: { requests: { storage: "50Mi" } },
  },
  status: { phase },
});
const ours = {
  "volume.kubernetes.io/storage-provisioner": provisionerName,
  "volume.kubernetes.io/selected-node": "node-2",
};

Deno.test("a pending claim of ours on a chosen node gets a hostPath volume pinned to that node", () => {
  const volume = volumeFor(claim(ours), "/volumes");
  assert.ok(volume);
  assert.equal(volume.metadata.name, "pvc-1234");
  const spec = volume.spec as Record<string, unknown>;
  assert.deepEqual(spec.hostPath, { path: "/volumes/node-2/pvc-1234", type: "DirectoryOrCreate" });
  assert.deepEqual(spec.claimRef, {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    namespace: "ns",
    name: "data",
    uid: "1234",
  });
  assert.deepEqual(spec.capacity, { storage: "50Mi" });
  assert.deepEqual(spec.nodeAffinity, {
    required: {
      nodeSelectorTerms: [{
        matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: ["node-2"] }],
      }],
    },
  });
});

Deno.test("claims of others, not yet placed, bound or going get nothing", () => {
  const cases: [string, ReturnType<typeof claim>][] = [
    ["another provisioner", claim({ ...ours, "volume.kubernetes.io/storage-provisioner": "x" })],
    ["no node chosen yet", claim({ "volume.kubernetes.io/storage-provisioner": provisionerName })],
    ["already bound", claim(ours, "Bound")],
    ["being deleted", claim(ours, "Pending", true)],
  ];
  for (const [name, input] of cases) assert.equal(volumeFor(input, "/volumes"), undefined, name);
});

Deno.test("only our released (or failed) volumes with the Delete policy are removed", () => {
  const volume = (phase: string, by = provisionerName, policy = "Delete") => ({
    metadata: { name: "pvc-1", annotations: { "pv.kubernetes.io/provisioned-by": by } },
    spec: { persistentVolumeReclaimPolicy: policy },
    status: { phase },
  });
  assert.equal(isReleased(volume("Released")), true);
  assert.equal(isReleased(volume("Failed")), true);
  assert.equal(isReleased(volume("Bound")), false);
  assert.equal(isReleased(volume("Released", "someone-else")), false);
  assert.equal(isReleased(volume("Released", provisionerName, "Retain")), false);
});
