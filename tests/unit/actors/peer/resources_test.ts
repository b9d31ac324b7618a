// The peer's Kubernetes objects as data: image, environment, GOMAXPROCS, labels, ownership.
import { etcdImage } from "../../../../actors/member.ts";
import assert from "node:assert/strict";
import {
  cpuCores,
  goMaxProcs,
  persistentVolumeClaim,
  replicaSet,
} from "../../../../actors/peer/resources.ts";
import type { EtcdPeerSpec } from "../../../../actors/types.ts";

const peer = { name: "c-1", namespace: "ns", uid: "uid-1" };
const spec: EtcdPeerSpec = {
  clusterName: "c",
  version: "3.4.23",
  bootstrap: {
    static: {
      initialCluster: [{ name: "c-0", host: "c-0.c.ns.svc" }, {
        name: "c-1",
        host: "c-1.c.ns.svc",
      }],
    },
    initialClusterState: "Existing",
  },
  storage: {
    volumeClaimTemplate: {
      storageClassName: "standard",
      resources: { requests: { storage: "50Mi" } },
    },
  },
  podTemplate: {
    metadata: { annotations: { "prometheus.io/scrape": "true" } },
    resources: { limits: { cpu: "2500m", memory: "200Mi" } },
    affinity: { podAntiAffinity: {} },
  },
};

Deno.test("GOMAXPROCS is the CPU limit rounded down, at least 1, and unset without a limit", () => {
  const table: [string | undefined, string | undefined][] = [
    ["100m", "1"],
    ["0.1", "1"],
    ["1.9", "1"],
    ["2", "2"],
    ["2.9", "2"],
    ["2500m", "2"],
    [undefined, undefined],
  ]; // deno-fmt-ignore
  for (const [limit, expected] of table) {
    const resources = limit === undefined ? { requests: { cpu: "1" } } : { limits: { cpu: limit } };
    assert.equal(goMaxProcs(resources), expected, `limit ${limit}`);
  }
  assert.equal(goMaxProcs(undefined), undefined);
  assert.equal(cpuCores("not-a-quantity"), undefined);
});

Deno.test("the image is the repository tagged with v and the version", () => {
  assert.equal(etcdImage("quay.io/coreos/etcd", "3.5.21"), "quay.io/coreos/etcd:v3.5.21");
  assert.equal(etcdImage("registry.local/etcd", "3.4.23"), "registry.local/etcd:v3.4.23");
});

Deno.test("the pod configures etcd through ETCD_* variables with stable DNS names", () => {
  const container = replicaSet(peer, spec, "quay.io/coreos/etcd").spec.template.spec.containers[0];
  const env = Object.fromEntries(container.env.map((entry) => [entry.name, entry.value]));
  assert.deepEqual(env, {
    ETCD_NAME: "c-1",
    ETCD_DATA_DIR: "/var/lib/etcd",
    ETCD_INITIAL_CLUSTER: "c-0=http://c-0.c.ns.svc:2380,c-1=http://c-1.c.ns.svc:2380",
    ETCD_INITIAL_CLUSTER_STATE: "existing",
    ETCD_INITIAL_CLUSTER_TOKEN: "c",
    ETCD_INITIAL_ADVERTISE_PEER_URLS: "http://c-1.c.ns.svc:2380",
    ETCD_LISTEN_PEER_URLS: "http://0.0.0.0:2380",
    ETCD_LISTEN_CLIENT_URLS: "http://0.0.0.0:2379",
    ETCD_ADVERTISE_CLIENT_URLS: "http://c-1.c.ns.svc:2379",
    GOMAXPROCS: "2",
  });
  assert.equal(container.image, "quay.io/coreos/etcd:v3.4.23");
});

Deno.test("the pod template's annotations, resources and affinity reach the pod", () => {
  const pod = replicaSet(peer, spec, "quay.io/coreos/etcd").spec.template;
  assert.equal(pod.metadata.annotations["prometheus.io/scrape"], "true");
  assert.deepEqual(pod.spec.containers[0].resources, spec.podTemplate?.resources);
  assert.deepEqual(pod.spec.affinity, { podAntiAffinity: {} });
  assert.equal(pod.spec.hostname, "c-1");
  assert.equal(pod.spec.subdomain, "c");
});

Deno.test("the ReplicaSet is owned by its peer but the PVC has no owner, so data outlives the cluster", () => {
  const owners = replicaSet(peer, spec, "quay.io/coreos/etcd").metadata.ownerReferences;
  assert.deepEqual(owners.map((owner) => [owner.kind, owner.name, owner.uid, owner.controller]), [[
    "EtcdPeer",
    "c-1",
    "uid-1",
    true,
  ]]);
  const claim = persistentVolumeClaim(peer, spec);
  assert.equal("ownerReferences" in claim.metadata, false);
  assert.deepEqual(claim.spec.accessModes, ["ReadWriteOnce"]);
  assert.equal(claim.metadata.labels["etcd.improbable.io/cluster-name"], "c");
});

const envOf = (tls: EtcdPeerSpec["tls"]) =>
  Object.fromEntries(
    replicaSet(peer, { ...spec, tls }, "quay.io/coreos/etcd").spec.template.spec.containers[0].env
      .map((entry) => [entry.name, entry.value]),
  );

Deno.test("TLS per port: https URLs, the mounted files and client certificates required", () => {
  const clientFlags = {
    ETCD_CERT_FILE: "/etc/etcd/tls/client/tls.crt",
    ETCD_KEY_FILE: "/etc/etcd/tls/client/tls.key",
    ETCD_TRUSTED_CA_FILE: "/etc/etcd/tls/client/ca.crt",
    ETCD_CLIENT_CERT_AUTH: "true",
  };
  const peerFlags = {
    ETCD_PEER_CERT_FILE: "/etc/etcd/tls/peer/tls.crt",
    ETCD_PEER_KEY_FILE: "/etc/etcd/tls/peer/tls.key",
    ETCD_PEER_TRUSTED_CA_FILE: "/etc/etcd/tls/peer/ca.crt",
    ETCD_PEER_CLIENT_CERT_AUTH: "true",
  };
  const table: [string, EtcdPeerSpec["tls"], string, string, Record<string, string>][] = [
    ["no TLS", undefined, "http", "http", {}],
    ["an empty tls", {}, "http", "http", {}],
    ["client only", { client: { secretName: "c-1-tls" } }, "https", "http", clientFlags],
    ["peer only", { peer: { secretName: "c-1-tls" } }, "http", "https", peerFlags],
    [
      "both",
      { client: { secretName: "server" }, peer: { secretName: "peer" } },
      "https",
      "https",
      { ...clientFlags, ...peerFlags },
    ],
  ];
  for (const [name, tls, client, peerScheme, flags] of table) {
    const env = envOf(tls);
    assert.deepEqual(
      [
        env.ETCD_LISTEN_CLIENT_URLS,
        env.ETCD_ADVERTISE_CLIENT_URLS,
        env.ETCD_LISTEN_PEER_URLS,
        env.ETCD_INITIAL_ADVERTISE_PEER_URLS,
        env.ETCD_INITIAL_CLUSTER,
      ],
      [
        `${client}://0.0.0.0:2379`,
        `${client}://c-1.c.ns.svc:2379`,
        `${peerScheme}://0.0.0.0:2380`,
        `${peerScheme}://c-1.c.ns.svc:2380`,
        `c-0=${peerScheme}://c-0.c.ns.svc:2380,c-1=${peerScheme}://c-1.c.ns.svc:2380`,
      ],
      name,
    );
    const tlsEnv = Object.fromEntries(
      Object.entries(env).filter(([key]) => /CERT|KEY|TRUSTED/.test(key)),
    );
    assert.deepEqual(tlsEnv, flags, name);
  }
});

Deno.test("each TLS port mounts its Secret read-only, owner-read only; the data volume stays first", () => {
  const pod = replicaSet(
    peer,
    { ...spec, tls: { client: { secretName: "server" }, peer: { secretName: "c-1-tls" } } },
    "quay.io/coreos/etcd",
  ).spec.template.spec;
  assert.deepEqual(pod.volumes, [
    { name: "data", persistentVolumeClaim: { claimName: "c-1" } },
    { name: "tls-client", secret: { secretName: "server", defaultMode: 0o400 } },
    { name: "tls-peer", secret: { secretName: "c-1-tls", defaultMode: 0o400 } },
  ]);
  assert.deepEqual(pod.containers[0].volumeMounts, [
    { name: "data", mountPath: "/var/lib/etcd" },
    { name: "tls-client", mountPath: "/etc/etcd/tls/client", readOnly: true },
    { name: "tls-peer", mountPath: "/etc/etcd/tls/peer", readOnly: true },
  ]);
  const plain = replicaSet(peer, spec, "quay.io/coreos/etcd").spec.template.spec;
  assert.equal(plain.volumes.length, 1);
  assert.equal(plain.containers[0].volumeMounts.length, 1);
});

Deno.test("the pod records the digest of the TLS material it starts with, next to the user's annotations", () => {
  const annotated = replicaSet(peer, spec, "quay.io/coreos/etcd", { tlsDigest: "abc" });
  assert.deepEqual(annotated.spec.template.metadata.annotations, {
    "prometheus.io/scrape": "true",
    "etcd.improbable.io/tls-digest": "abc",
  });
  const plain = replicaSet(peer, spec, "quay.io/coreos/etcd");
  assert.equal("etcd.improbable.io/tls-digest" in plain.spec.template.metadata.annotations, false);
});
