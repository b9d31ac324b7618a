// Mapping a backup's clusterURL to a pod IP when the operator runs outside the cluster, as data.
import assert from "node:assert/strict";
import { snapshotEndpoint } from "../../../../actors/backup/endpoint.ts";
import type { PodObject } from "../../../../actors/types.ts";

function pod(
  namespace: string,
  cluster: string,
  ordinal: number,
  ip: string | undefined,
  deleting = false,
): PodObject {
  const name = `${cluster}-${ordinal}`;
  return {
    metadata: {
      name,
      namespace,
      uid: `uid-${namespace}-${name}`,
      labels: {
        "app.kubernetes.io/name": "etcd",
        "etcd.improbable.io/cluster-name": cluster,
        "etcd.improbable.io/peer-name": name,
      },
      ...(deleting ? { deletionTimestamp: "2024-01-01T00:00:00Z" } : {}),
    },
    status: ip ? { podIP: ip, phase: "Running" } : { phase: "Pending" },
  };
}

const pods = [
  pod("ns", "my-cluster", 0, "10.0.0.10"),
  pod("ns", "my-cluster", 1, "10.0.0.11"),
  pod("ns", "my-cluster", 2, undefined),
  pod("other", "my-cluster", 0, "10.0.1.10"),
  pod("ns", "v6", 0, "fd00::5"),
];

const mapped: readonly (readonly [string, string, string])[] = [
  [
    "a member's full service name maps to its pod IP",
    "http://my-cluster-1.my-cluster.ns.svc:2379",
    "http://10.0.0.11:2379",
  ],
  [
    "a member's name with the cluster domain maps too",
    "http://my-cluster-0.my-cluster.ns.svc.cluster.local:2379",
    "http://10.0.0.10:2379",
  ],
  [
    "the guide's short form is relative to the backup's namespace",
    "http://my-cluster-0.my-cluster:2379",
    "http://10.0.0.10:2379",
  ],
  [
    "the namespace in the name wins over the backup's",
    "http://my-cluster-0.my-cluster.other:2379",
    "http://10.0.1.10:2379",
  ],
  [
    "the cluster's service name maps to its first running member",
    "http://my-cluster.ns.svc:2379",
    "http://10.0.0.10:2379",
  ],
  [
    "the cluster's client service name maps to its first running member too",
    "http://my-cluster-client.ns.svc:2379",
    "http://10.0.0.10:2379",
  ],
  ["an IPv6 pod IP gets brackets", "http://v6-0.v6.ns.svc:2379", "http://[fd00::5]:2379"],
  [
    "an https URL keeps its scheme",
    "https://my-cluster-1.my-cluster.ns.svc:2379",
    "https://10.0.0.11:2379",
  ],
  ["an IP address is dialled as given", "http://10.9.9.9:2379", "http://10.9.9.9:2379"],
  [
    "a host that names none of our clusters is dialled as given",
    "http://etcd.example.com:2379",
    "http://etcd.example.com:2379",
  ],
];

Deno.test("snapshot endpoint outside the cluster: a cluster-internal name nothing of ours backs is reported, never looked up", () => {
  // The host's resolver knows nothing of cluster names: asking it would only send the query away.
  for (const clusterURL of ["http://x-0.x.ns.svc:2379", "http://etcd.ns.svc.cluster.local:2379"]) {
    const endpoint = snapshotEndpoint("podIP", clusterURL, "ns", pods);
    assert.equal(endpoint.kind, "noPod", clusterURL);
    assert.match(endpoint.kind === "noPod" ? endpoint.message : "", /cluster-internal name/);
  }
});

for (const [name, clusterURL, expected] of mapped) {
  Deno.test(`snapshot endpoint outside the cluster: ${name}`, () => {
    const endpoint = snapshotEndpoint("podIP", clusterURL, "ns", pods);
    assert.equal(endpoint.kind, "dial");
    assert.equal(endpoint.kind === "dial" && endpoint.url, expected);
  });
}

Deno.test("snapshot endpoint outside the cluster: a member whose pod has no IP yet is reported, not dialled", () => {
  const endpoint = snapshotEndpoint(
    "podIP",
    "http://my-cluster-2.my-cluster.ns.svc:2379",
    "ns",
    pods,
  );
  assert.equal(endpoint.kind, "noPod");
  assert.match(endpoint.kind === "noPod" ? endpoint.message : "", /my-cluster-2.*namespace ns/);
});

Deno.test("snapshot endpoint outside the cluster: a terminating pod does not count as running", () => {
  const endpoint = snapshotEndpoint(
    "podIP",
    "http://my-cluster-0.my-cluster.ns.svc:2379",
    "ns",
    [pod("ns", "my-cluster", 0, "10.0.0.10", true)],
  );
  assert.equal(endpoint.kind, "noPod");
});

Deno.test("snapshot endpoint inside the cluster: the URL is dialled as written, its member named for TLS", () => {
  assert.deepEqual(
    snapshotEndpoint("dns", "http://my-cluster-0.my-cluster:2379", "ns", pods),
    {
      kind: "dial",
      url: "http://my-cluster-0.my-cluster:2379",
      target: { namespace: "ns", clusterName: "my-cluster", peerName: "my-cluster-0" },
    },
  );
  assert.deepEqual(
    snapshotEndpoint("dns", "https://my-cluster-client.ns.svc:2379", "ns", pods).kind === "dial" &&
      snapshotEndpoint("dns", "https://my-cluster-client.ns.svc:2379", "ns", pods),
    {
      kind: "dial",
      url: "https://my-cluster-client.ns.svc:2379",
      target: { namespace: "ns", clusterName: "my-cluster" },
    },
  );
  assert.deepEqual(
    snapshotEndpoint("dns", "https://etcd.example.com:2379", "ns", pods),
    { kind: "dial", url: "https://etcd.example.com:2379" },
  );
});
