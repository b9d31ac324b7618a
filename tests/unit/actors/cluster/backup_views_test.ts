// Which EtcdBackups a cluster that lost every member's data may recover from, as data.
import assert from "node:assert/strict";
import { backupViews } from "../../../../actors/cluster/observe.ts";
import type { EtcdBackupObject, EtcdClusterObject } from "../../../../actors/types.ts";

const cluster = {
  apiVersion: "etcd.improbable.io/v1alpha1",
  kind: "EtcdCluster",
  metadata: { name: "c", namespace: "ns", uid: "cluster-uid" },
  spec: { replicas: 3, version: "3.5.21", storage: {} },
} as unknown as EtcdClusterObject;

function backup(
  name: string,
  clusterURL: string,
  key: string,
  completionTime: string,
  namespace = "ns",
): EtcdBackupObject {
  return {
    apiVersion: "etcd.improbable.io/v1alpha1",
    kind: "EtcdBackup",
    metadata: { name, namespace, uid: `uid-${name}` },
    spec: {
      source: { clusterURL },
      destination: { objectURLTemplate: `s3://b/${key}` },
      credentialsSecretRef: { name: "creds" },
    },
    status: {
      phase: "Completed",
      objectURL: `s3://b/${key}?endpoint=http://minio:9000`,
      sha256: `sha-${name}`,
      completionTime,
      startTime: completionTime,
    },
  } as EtcdBackupObject;
}

Deno.test("a cluster's backups: its own sources only, in its namespace, Completed, with who last wrote each object", () => {
  const views = backupViews(cluster, [
    backup("service", "http://c-client.ns.svc:2379", "a.db", "2026-12-03T01:00:00Z"),
    backup("member", "http://c-1.c.ns.svc:2379", "b.db", "2026-12-03T02:00:00Z"),
    backup("relative", "http://c-client:2379", "latest.db", "2026-12-03T03:00:00Z"),
    // Another cluster wrote the same object later: the object is that cluster's now.
    backup("other-cluster", "http://d-client:2379", "latest.db", "2026-12-03T04:00:00Z"),
    backup("other-namespace", "http://c-client.ns.svc:2379", "c.db", "2026-12-03T05:00:00Z", "x"),
    backup("outside", "http://10.0.0.1:2379", "d.db", "2026-12-03T06:00:00Z"),
    {
      ...backup("failed", "http://c-client:2379", "e.db", "2026-12-03T07:00:00Z"),
      status: { phase: "Failed" },
    } as EtcdBackupObject,
  ]);
  assert.deepEqual(
    views.map((view) => [view.name, view.lastWriter]),
    [["service", true], ["member", true], ["relative", false]],
  );
  assert.deepEqual(views[0], {
    name: "service",
    uid: "uid-service",
    objectURL: "s3://b/a.db?endpoint=http://minio:9000",
    completionTime: "2026-12-03T01:00:00Z",
    credentialsSecret: "creds",
    lastWriter: true,
  });
});
