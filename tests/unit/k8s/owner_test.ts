import assert from "node:assert/strict";
import { controllerOf, controllerReference, isControlledBy } from "../../../k8s/owner.ts";

const cluster = {
  apiVersion: "etcd.improbable.io/v1alpha1",
  kind: "EtcdCluster",
  metadata: { name: "my-cluster", namespace: "ns", uid: "u-1" },
};

Deno.test("a controller reference blocks the owner's deletion and marks it as the controller", () => {
  assert.deepEqual(controllerReference(cluster), {
    apiVersion: "etcd.improbable.io/v1alpha1",
    kind: "EtcdCluster",
    name: "my-cluster",
    uid: "u-1",
    controller: true,
    blockOwnerDeletion: true,
  });
});

Deno.test("an owner that was never stored (no uid) cannot own anything", () => {
  assert.throws(() => controllerReference({ ...cluster, metadata: { name: "x" } }), /uid/);
});

Deno.test("control is matched by uid, so a recreated namesake does not count", () => {
  const peer = {
    metadata: { name: "my-cluster-0", ownerReferences: [controllerReference(cluster)] },
  };
  assert.equal(controllerOf(peer)?.name, "my-cluster");
  assert.equal(isControlledBy(peer, cluster), true);
  assert.equal(
    isControlledBy(peer, { ...cluster, metadata: { ...cluster.metadata, uid: "u-2" } }),
    false,
  );
  assert.equal(isControlledBy({ metadata: {} }, cluster), false);
});
