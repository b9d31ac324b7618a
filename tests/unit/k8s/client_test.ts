// The client tells its observer of every request: verb, resource plural, status and duration.
import assert from "node:assert/strict";
import { KubeClient, type KubeRequestRecord } from "../../../k8s/client.ts";
import type { ApiServerAccess } from "../../../k8s/kubeconfig.ts";
import type { KubeObject } from "../../../k8s/objects.ts";
import { resources } from "../../../k8s/resources.ts";

const pod: KubeObject = {
  apiVersion: "v1",
  kind: "Pod",
  metadata: { namespace: "ns", name: "p" },
};
const cluster: KubeObject = {
  apiVersion: "etcd.improbable.io/v1alpha1",
  kind: "EtcdCluster",
  metadata: { namespace: "ns", name: "c" },
};
const notFound = { kind: "Status", code: 404, reason: "NotFound", message: "not found" };

/** A tiny API server: 404 for the name "missing", one ADDED event per watch, 2xx otherwise. */
function handle(request: Request): Response {
  const url = new URL(request.url);
  if (url.pathname.endsWith("/missing")) return Response.json(notFound, { status: 404 });
  if (url.searchParams.get("watch") === "true") {
    return new Response(JSON.stringify({ type: "ADDED", object: pod }) + "\n");
  }
  if (request.method === "GET" && url.pathname.endsWith("/pods")) {
    return Response.json({ metadata: { resourceVersion: "7" }, items: [pod] });
  }
  return Response.json(pod, { status: request.method === "POST" ? 201 : 200 });
}

function accessTo(server: string): ApiServerAccess {
  return {
    server,
    namespace: "ns",
    proxyUrl: undefined,
    tls: () => Promise.resolve({}),
    authHeaders: () => Promise.resolve(new Headers()),
  };
}

async function withServer(
  test: (server: string) => Promise<void>,
): Promise<void> {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handle);
  try {
    await test(`http://127.0.0.1:${server.addr.port}`);
  } finally {
    await server.shutdown();
  }
}

const summary = (records: readonly KubeRequestRecord[]) =>
  records.map(({ verb, resource, status }) => `${verb} ${resource} ${status ?? "error"}`);

Deno.test("every request is reported once with its verb, resource plural and status", async () => {
  await withServer(async (server) => {
    const records: KubeRequestRecord[] = [];
    using kube = await KubeClient.connect(accessTo(server), {
      observer: (record) => void records.push(record),
    });
    const target = { namespace: "ns", name: "p" };
    await kube.get(resources.pods, target);
    await kube.get(resources.pods, { namespace: "ns", name: "missing" });
    await kube.list(resources.pods, { namespace: "ns" });
    await kube.create(resources.events, { ...pod, kind: "Event" });
    await kube.replace(resources.leases, { ...pod, kind: "Lease" });
    await kube.mergePatch(resources.etcdClusters, { namespace: "ns", name: "c" }, { spec: {} });
    await kube.jsonPatch(resources.pods, target, [{ op: "remove", path: "/metadata/labels/x" }]);
    await kube.apply(resources.etcdClusters, cluster, { subresource: "status" });
    await kube.delete(resources.pods, target);
    const watch = await kube.watch(resources.pods, {
      namespace: "ns",
      resourceVersion: "7",
      timeoutSeconds: 5,
    });
    assert.ok(watch.ok);
    for await (const _event of watch.value) {
      // Reading the stream to its end is not another request.
    }
    assert.deepEqual(summary(records), [
      "get pods 200",
      "get pods 404",
      "list pods 200",
      "create events 201",
      "update leases 200",
      "patch etcdclusters 200",
      "patch pods 200",
      "apply etcdclusters 200",
      "delete pods 200",
      "watch pods 200",
    ]);
    assert.ok(records.every((record) => record.seconds >= 0 && record.seconds < 5));
  });
});

Deno.test("a request that gets no response is reported without a status", async () => {
  let server = "";
  await withServer((address) => Promise.resolve(void (server = address)));
  const records: KubeRequestRecord[] = [];
  using kube = await KubeClient.connect(accessTo(server), {
    observer: (record) => void records.push(record),
  });
  const result = await kube.get(resources.pods, { namespace: "ns", name: "p" });
  const watch = await kube.watch(resources.pods, { resourceVersion: "1", timeoutSeconds: 5 });
  assert.equal(result.ok, false);
  assert.equal(watch.ok, false);
  assert.deepEqual(summary(records), ["get pods error", "watch pods error"]);
});

Deno.test("a request refused before sending is not reported, and a throwing observer is harmless", async () => {
  await withServer(async (server) => {
    let reports = 0;
    using kube = await KubeClient.connect(accessTo(server), {
      observer: () => {
        reports++;
        throw new Error("broken metrics sink");
      },
    });
    const invalid = await kube.get(resources.pods, { name: "p" });
    assert.equal(invalid.ok || invalid.error.kind, "invalid");
    const read = await kube.get(resources.pods, { namespace: "ns", name: "p" });
    assert.ok(read.ok);
    assert.equal(reports, 1);
  });
});
