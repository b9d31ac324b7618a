import assert from "node:assert/strict";
import { apiVersionOf, collectionPath, objectPath, resources } from "../../../k8s/resources.ts";

Deno.test("core resources live under /api, grouped ones under /apis", () => {
  assert.equal(collectionPath(resources.pods, "ns"), "/api/v1/namespaces/ns/pods");
  assert.equal(
    collectionPath(resources.replicaSets, "ns"),
    "/apis/apps/v1/namespaces/ns/replicasets",
  );
  assert.equal(
    collectionPath(resources.etcdClusters, "ns"),
    "/apis/etcd.improbable.io/v1alpha1/namespaces/ns/etcdclusters",
  );
});

Deno.test("a namespaced collection without a namespace spans all namespaces", () => {
  assert.equal(collectionPath(resources.etcdPeers), "/apis/etcd.improbable.io/v1alpha1/etcdpeers");
});

Deno.test("cluster-scoped resources ignore the namespace", () => {
  assert.equal(
    objectPath(resources.namespaces, { namespace: "x", name: "ns1" }),
    "/api/v1/namespaces/ns1",
  );
});

Deno.test("subresources are appended to the object's path", () => {
  const target = { namespace: "ns", name: "c" };
  assert.equal(
    objectPath(resources.etcdClusters, target, "scale"),
    "/apis/etcd.improbable.io/v1alpha1/namespaces/ns/etcdclusters/c/scale",
  );
  assert.equal(
    objectPath(resources.etcdBackups, target, "status").endsWith("/etcdbackups/c/status"),
    true,
  );
});

Deno.test("apiVersion is the bare version for the core group", () => {
  assert.equal(apiVersionOf(resources.events), "v1");
  assert.equal(apiVersionOf(resources.leases), "coordination.k8s.io/v1");
  assert.equal(apiVersionOf(resources.podDisruptionBudgets), "policy/v1");
});

Deno.test("all five etcd kinds are described, namespaced", () => {
  const etcd = [
    resources.etcdClusters,
    resources.etcdPeers,
    resources.etcdBackups,
    resources.etcdBackupSchedules,
    resources.etcdRestores,
  ];
  assert.deepEqual(etcd.map((resource) => resource.plural), [
    "etcdclusters",
    "etcdpeers",
    "etcdbackups",
    "etcdbackupschedules",
    "etcdrestores",
  ]);
  assert.ok(
    etcd.every((resource) =>
      resource.namespaced && apiVersionOf(resource) === "etcd.improbable.io/v1alpha1"
    ),
  );
});
