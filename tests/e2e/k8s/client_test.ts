// Typed requests against the real API server, as the operator's own identity.
import assert from "node:assert/strict";
import type { KubeObject } from "../../../k8s/objects.ts";
import { resources } from "../../../k8s/resources.ts";
import { temporaryNamespace } from "../support/cluster.ts";
import { adminClient, errorKindOf, grantClientVerbs, operatorClient, valueOf } from "./support.ts";

interface Service extends KubeObject {
  readonly spec?: {
    readonly clusterIP?: string;
    readonly ports?: readonly { port: number; name?: string }[];
  };
}

function service(namespace: string, name: string, labels: Record<string, string> = {}): Service {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { namespace, name, labels },
    spec: { clusterIP: "None", ports: [{ name: "etcd-client", port: 2379 }] },
  };
}

Deno.test("the operator creates, reads, patches, applies and deletes a Service", async () => {
  await using namespace = await temporaryNamespace("k8s-client");
  await grantClientVerbs(namespace.name);
  using client = await operatorClient();
  const target = { namespace: namespace.name, name: "peers" };
  const created = valueOf(
    await client.create(resources.services, service(namespace.name, "peers")),
  );
  assert.ok(created.metadata.uid);

  const read = valueOf(await client.get<Service>(resources.services, target));
  assert.equal(read.spec?.clusterIP, "None");

  const merged = valueOf(
    await client.mergePatch(resources.services, target, { metadata: { labels: { a: "1" } } }),
  );
  assert.equal(merged.metadata.labels?.a, "1");

  const patched = valueOf(
    await client.jsonPatch(resources.services, target, [
      { op: "test", path: "/metadata/labels/a", value: "1" },
      { op: "add", path: "/metadata/annotations", value: { note: "json-patch" } },
    ]),
  );
  assert.equal(patched.metadata.annotations?.note, "json-patch");
  const failedTest = await client.jsonPatch(resources.services, target, [
    { op: "test", path: "/metadata/labels/a", value: "2" },
    { op: "remove", path: "/metadata/labels/a" },
  ]);
  assert.equal(errorKindOf(failedTest), "invalid");

  const applied = valueOf(
    await client.apply(resources.services, {
      ...service(namespace.name, "peers", { applied: "yes" }),
      spec: { ports: [{ name: "etcd-client", port: 2379 }, { name: "etcd-peer", port: 2380 }] },
    }),
  );
  assert.equal(applied.spec?.ports?.length, 2);
  assert.equal(applied.metadata.labels?.applied, "yes");
  const managers =
    (applied.metadata as { managedFields?: { manager: string; operation: string }[] })
      .managedFields;
  assert.ok(
    managers?.some((entry) => entry.manager === "etcd-operator" && entry.operation === "Apply"),
  );

  const wrongUid = await client.delete(resources.services, target, { uid: "not-this-one" });
  assert.equal(errorKindOf(wrongUid), "conflict");
  valueOf(
    await client.delete(resources.services, target, {
      uid: created.metadata.uid,
      propagationPolicy: "Background",
    }),
  );
  assert.equal(errorKindOf(await client.get(resources.services, target)), "notFound");
});

Deno.test("refusals come back as values of the right kind, with the server's message", async () => {
  await using namespace = await temporaryNamespace("k8s-errors");
  await grantClientVerbs(namespace.name);
  using client = await operatorClient();
  valueOf(await client.create(resources.services, service(namespace.name, "twice")));
  assert.equal(
    errorKindOf(await client.create(resources.services, service(namespace.name, "twice"))),
    "alreadyExists",
  );

  const invalid = await client.create(resources.services, {
    ...service(namespace.name, "bad"),
    spec: { ports: [{ port: 70000 }] },
  });
  assert.equal(invalid.ok, false);
  if (!invalid.ok) {
    assert.equal(invalid.error.kind, "invalid");
    assert.equal(invalid.error.status, 422);
    assert.match(invalid.error.message, /spec\.ports\[0\]\.port/);
  }

  // Least privilege: nothing beyond what the operator uses (it never touches ConfigMaps).
  const listConfigMaps = await client.list(resources.configMaps, { namespace: namespace.name });
  assert.equal(errorKindOf(listConfigMaps), "forbidden");
  assert.equal(
    errorKindOf(await client.get(resources.services, { namespace: namespace.name, name: "nope" })),
    "notFound",
  );
  const noNamespace = await client.get(resources.services, { name: "x" });
  assert.equal(errorKindOf(noNamespace), "invalid");
});

Deno.test("a list follows continue tokens until every page is read", async () => {
  await using namespace = await temporaryNamespace("k8s-pages");
  await grantClientVerbs(namespace.name);
  using client = await operatorClient();
  for (let index = 0; index < 5; index++) {
    valueOf(await client.create(resources.services, service(namespace.name, `s-${index}`)));
  }
  const firstPage = valueOf(
    await client.listPage(resources.services, { namespace: namespace.name, limit: 2 }),
  );
  assert.equal(firstPage.items.length, 2);
  assert.ok(firstPage.metadata.continue);
  const all = valueOf(
    await client.list(resources.services, { namespace: namespace.name, pageSize: 2 }),
  );
  assert.deepEqual(all.items.map((item) => item.metadata.name).sort(), [
    "s-0",
    "s-1",
    "s-2",
    "s-3",
    "s-4",
  ]);
  assert.match(all.resourceVersion, /^\d+$/);
});

type Cluster = KubeObject & {
  spec: { replicas: number };
  status?: { replicas?: number; clusterVersion?: string };
};
type Scale = KubeObject & { spec: { replicas: number }; status: { replicas?: number } };

function etcdCluster(namespace: string, name: string): Cluster {
  return {
    apiVersion: "etcd.improbable.io/v1alpha1",
    kind: "EtcdCluster",
    metadata: { namespace, name },
    spec: {
      replicas: 3,
      version: "3.4.23",
      storage: {
        volumeClaimTemplate: {
          storageClassName: "standard",
          resources: { requests: { storage: "50Mi" } },
        },
      },
    } as Cluster["spec"],
  };
}

Deno.test("the operator writes an EtcdCluster's status only through /status", async () => {
  await using namespace = await temporaryNamespace("k8s-status");
  await grantClientVerbs(namespace.name);
  using client = await operatorClient();
  const target = { namespace: namespace.name, name: "sub" };
  valueOf(await client.create(resources.etcdClusters, etcdCluster(namespace.name, "sub")));
  // A merge patch of the main resource drops status; through /status it lands.
  valueOf(await client.mergePatch(resources.etcdClusters, target, { status: { replicas: 9 } }));
  assert.equal(
    valueOf(await client.get<Cluster>(resources.etcdClusters, target)).status?.replicas,
    undefined,
  );
  valueOf(
    await client.mergePatch(resources.etcdClusters, target, { status: { replicas: 3 } }, {
      subresource: "status",
    }),
  );
  assert.equal(
    valueOf(await client.get<Cluster>(resources.etcdClusters, target)).status?.replicas,
    3,
  );

  // Server-side apply of status, as the operator's status writer may do it.
  const applied = valueOf(
    await client.apply<Cluster>(resources.etcdClusters, {
      apiVersion: "etcd.improbable.io/v1alpha1",
      kind: "EtcdCluster",
      metadata: target,
      status: { replicas: 4, clusterVersion: "3.4.0" },
    } as Cluster, { subresource: "status" }),
  );
  assert.deepEqual([
    applied.status?.replicas,
    applied.status?.clusterVersion,
    applied.spec.replicas,
  ], [4, "3.4.0", 3]);
  valueOf(await client.delete(resources.etcdClusters, target));
});

Deno.test("an EtcdCluster scales through /scale, as kubectl scale does", async () => {
  await using namespace = await temporaryNamespace("k8s-scale");
  // Scaling is what users (and autoscalers) do; the operator's role has no etcdclusters/scale.
  using client = await adminClient();
  const target = { namespace: namespace.name, name: "scaled" };
  valueOf(await client.create(resources.etcdClusters, etcdCluster(namespace.name, "scaled")));
  valueOf(
    await client.mergePatch(resources.etcdClusters, target, { status: { replicas: 3 } }, {
      subresource: "status",
    }),
  );
  const scale = valueOf(
    await client.get<Scale>(resources.etcdClusters, target, { subresource: "scale" }),
  );
  assert.deepEqual([scale.spec.replicas, scale.status.replicas], [3, 3]);
  valueOf(
    await client.mergePatch(resources.etcdClusters, target, { spec: { replicas: 5 } }, {
      subresource: "scale",
    }),
  );
  assert.equal(valueOf(await client.get<Cluster>(resources.etcdClusters, target)).spec.replicas, 5);
});

Deno.test("a call that outlives its deadline comes back as transient", async () => {
  using client = await operatorClient();
  const result = await client.list(resources.services, { timeoutMs: 1 });
  assert.equal(errorKindOf(result), "transient");
});
