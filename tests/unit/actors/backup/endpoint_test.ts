// Mapping a backup's clusterURL to the IP of a member pod in the backup's own namespace, as data.
import assert from "node:assert/strict";
import { snapshotEndpoint } from "../../../../actors/backup/endpoint.ts";
import { strictTenancy } from "../../../../actors/tenancy.ts";
import type { PodObject } from "../../../../actors/types.ts";

function pod(
  namespace: string,
  cluster: string,
  ordinal: number,
  ip: string | undefined,
  deleting = false,
  hostNetwork = false,
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
    ...(hostNetwork ? { spec: { hostNetwork: true } } : {}),
    status: ip ? { podIP: ip, phase: "Running" } : { phase: "Pending" },
  };
}

const pods = [
  pod("ns", "my-cluster", 0, "10.0.0.10"),
  pod("ns", "my-cluster", 1, "10.0.0.11"),
  pod("ns", "my-cluster", 2, undefined),
  pod("other", "my-cluster", 0, "10.0.1.10"),
  pod("ns", "v6", 0, "fd00::5"),
  pod("ns", "host", 0, "192.168.1.7", false, true),
];

const external = { ...strictTenancy, allowExternalBackupSources: true };

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
    "the member form with the backup's own namespace maps too",
    "http://my-cluster-0.my-cluster.ns:2379",
    "http://10.0.0.10:2379",
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
  ["a bare cluster name is its Service here", "http://my-cluster:2379", "http://10.0.0.10:2379"],
  ["an IPv6 pod IP gets brackets", "http://v6-0.v6.ns.svc:2379", "http://[fd00::5]:2379"],
  [
    "an https URL keeps its scheme",
    "https://my-cluster-1.my-cluster.ns.svc:2379",
    "https://10.0.0.11:2379",
  ],
];

for (const [name, clusterURL, expected] of mapped) {
  Deno.test(`snapshot endpoint: ${name}`, () => {
    const endpoint = snapshotEndpoint("podIP", clusterURL, "ns", pods, strictTenancy);
    assert.equal(endpoint.kind, "dial");
    assert.equal(endpoint.kind === "dial" && endpoint.url, expected);
  });
}

Deno.test("snapshot endpoint: another namespace's member is refused, though its pod runs", () => {
  for (
    const clusterURL of [
      "http://my-cluster-0.my-cluster.other.svc:2379",
      "http://my-cluster-client.other.svc.cluster.local:2379",
    ]
  ) {
    for (const settings of [strictTenancy, external]) {
      const endpoint = snapshotEndpoint("podIP", clusterURL, "ns", pods, settings);
      assert.equal(endpoint.kind, "refused", clusterURL);
      if (endpoint.kind !== "refused") continue;
      assert.equal(endpoint.reason, "SourceOutsideNamespace");
      assert.match(endpoint.message, /names namespace other/);
    }
  }
});

Deno.test("snapshot endpoint: a relative name is never read in another namespace, nor dialled as given", () => {
  // `my-cluster-0.my-cluster.other` and `svc-name.other` would resolve into namespace other from
  // the operator's pod; read in the backup's namespace they name nothing, so nothing is dialled.
  const other = snapshotEndpoint(
    "podIP",
    "http://my-cluster-0.my-cluster.other:2379",
    "ns",
    pods,
    strictTenancy,
  );
  assert.equal(other.kind, "refused");
  for (const settings of [strictTenancy, external]) {
    const relative = snapshotEndpoint(
      "podIP",
      "http://my-cluster.other:2379",
      "ns",
      pods,
      settings,
    );
    assert.equal(relative.kind, "noPod");
    assert.match(relative.kind === "noPod" ? relative.message : "", /in namespace ns/);
    const operatorService = snapshotEndpoint(
      "podIP",
      "http://etcd-operator-metrics:8080",
      "ns",
      pods,
      settings,
    );
    assert.equal(operatorService.kind, "noPod");
  }
});

Deno.test("snapshot endpoint: IP addresses and outside hosts are refused unless the administrator allowed them", () => {
  for (
    const clusterURL of [
      "http://10.9.9.9:2379",
      "http://etcd.example.com:2379",
      "http://[fd00::1]:2379",
    ]
  ) {
    const refused = snapshotEndpoint("podIP", clusterURL, "ns", pods, strictTenancy);
    assert.equal(refused.kind, "refused", clusterURL);
    assert.match(
      refused.kind === "refused" ? refused.message : "",
      /--allow-external-backup-sources/,
    );
    assert.deepEqual(snapshotEndpoint("podIP", clusterURL, "ns", pods, external), {
      kind: "dial",
      url: clusterURL,
    });
  }
});

Deno.test("snapshot endpoint: a pod on the host network is never dialled (its IP is a node's)", () => {
  const endpoint = snapshotEndpoint(
    "podIP",
    "http://host-0.host.ns.svc:2379",
    "ns",
    pods,
    strictTenancy,
  );
  assert.equal(endpoint.kind, "noPod");
});

Deno.test("snapshot endpoint: a member whose pod has no IP yet is reported, not dialled", () => {
  const endpoint = snapshotEndpoint(
    "podIP",
    "http://my-cluster-2.my-cluster.ns.svc:2379",
    "ns",
    pods,
    strictTenancy,
  );
  assert.equal(endpoint.kind, "noPod");
  assert.match(endpoint.kind === "noPod" ? endpoint.message : "", /my-cluster-2.*namespace ns/);
});

Deno.test("snapshot endpoint: a terminating pod does not count as running", () => {
  const endpoint = snapshotEndpoint(
    "podIP",
    "http://my-cluster-0.my-cluster.ns.svc:2379",
    "ns",
    [pod("ns", "my-cluster", 0, "10.0.0.10", true)],
    strictTenancy,
  );
  assert.equal(endpoint.kind, "noPod");
});

Deno.test("snapshot endpoint through port-forward: a member's name becomes that pod's port, by uid", () => {
  assert.deepEqual(
    snapshotEndpoint(
      "portForward",
      "http://my-cluster-1.my-cluster.ns.svc:2379",
      "ns",
      pods,
      strictTenancy,
    ),
    {
      kind: "forward",
      pod: { namespace: "ns", name: "my-cluster-1", uid: "uid-ns-my-cluster-1" },
      port: 2379,
      target: { namespace: "ns", clusterName: "my-cluster", peerName: "my-cluster-1" },
    },
  );
});

Deno.test("snapshot endpoint through port-forward: the client service forwards to its first running member", () => {
  const endpoint = snapshotEndpoint(
    "portForward",
    "http://my-cluster-client:2379",
    "ns",
    pods,
    strictTenancy,
  );
  assert.equal(endpoint.kind, "forward");
  assert.equal(endpoint.kind === "forward" && endpoint.pod.name, "my-cluster-0");
});

Deno.test("snapshot endpoint through port-forward: an allowed external address is dialled as given", () => {
  assert.deepEqual(
    snapshotEndpoint("portForward", "http://192.0.2.7:2379", "ns", pods, {
      ...strictTenancy,
      allowExternalBackupSources: true,
    }),
    { kind: "dial", url: "http://192.0.2.7:2379" },
  );
});

Deno.test("snapshot endpoint: the member or cluster a URL names comes with the pod IP, for TLS", () => {
  const member = snapshotEndpoint(
    "podIP",
    "https://my-cluster-0.my-cluster:2379",
    "ns",
    pods,
    strictTenancy,
  );
  assert.equal(member.kind, "dial");
  assert.deepEqual(member.kind === "dial" && member.target, {
    namespace: "ns",
    clusterName: "my-cluster",
    peerName: "my-cluster-0",
  });
  const service = snapshotEndpoint(
    "podIP",
    "https://my-cluster-client.ns.svc:2379",
    "ns",
    pods,
    strictTenancy,
  );
  assert.deepEqual(service.kind === "dial" && service.target, {
    namespace: "ns",
    clusterName: "my-cluster",
  });
});
