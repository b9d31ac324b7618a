import assert from "node:assert/strict";
import {
  clientURL,
  clientURLOfHost,
  clusterSelectorLabels,
  memberDNSNames,
  memberPeerName,
  ordinalOf,
  peerLabels,
  peerSelectorLabels,
  peerURL,
  peerURLOfHost,
  tlsSecretNames,
  volumeState,
} from "../../../actors/member.ts";

Deno.test("a member's labels: the selector sets stay as first released, metadata adds managed-by", () => {
  assert.deepEqual(peerSelectorLabels("my-cluster", "my-cluster-0"), {
    "app.kubernetes.io/name": "etcd",
    "etcd.improbable.io/cluster-name": "my-cluster",
    "etcd.improbable.io/peer-name": "my-cluster-0",
  });
  assert.deepEqual(clusterSelectorLabels("c"), {
    "app.kubernetes.io/name": "etcd",
    "etcd.improbable.io/cluster-name": "c",
  });
  assert.deepEqual(peerLabels("c", "c-1"), {
    ...peerSelectorLabels("c", "c-1"),
    "app.kubernetes.io/managed-by": "etcd-operator",
  });
});

Deno.test("a member's addresses are its stable DNS name with the etcd ports", () => {
  assert.equal(peerURL("c", "ns", "c-2"), "http://c-2.c.ns.svc:2380");
  assert.equal(clientURL("c", "ns", "c-2"), "http://c-2.c.ns.svc:2379");
});

Deno.test("ordinals are read only from names the operator made", () => {
  const cases: [string, number | undefined][] = [
    ["c-0", 0],
    ["c-12", 12],
    ["c-01", undefined],
    ["c-", undefined],
    ["c-x", undefined],
    ["cc-1", undefined],
    ["c-1-2", undefined],
  ];
  for (const [name, ordinal] of cases) assert.equal(ordinalOf("c", name), ordinal, name);
});

Deno.test("a member's peer: its name, or its peer URL's first label while it has none", () => {
  const cases: [{ name: string; peerURL: string }, string | undefined][] = [
    [{ name: "c-1", peerURL: "http://whatever:2380" }, "c-1"],
    [{ name: "", peerURL: "http://c-3.c.ns.svc:2380" }, "c-3"],
    [{ name: "", peerURL: "http://c-3:2380" }, "c-3"],
    [{ name: "", peerURL: "http://other-3.c.ns.svc:2380" }, undefined],
    [{ name: "", peerURL: "http://10.0.0.1:2380" }, undefined],
    [{ name: "", peerURL: "" }, undefined],
  ];
  for (const [member, name] of cases) {
    assert.equal(memberPeerName("c", member), name, JSON.stringify(member));
  }
});

Deno.test("volume state: a recorded volume that is gone or replaced is lost, never re-created", () => {
  const claim = (uid: string, terminating = false) => ({ uid, terminating });
  const cases: [string | undefined, ReturnType<typeof claim> | undefined, string][] = [
    [undefined, undefined, "missing"],
    [undefined, claim("a"), "present"],
    [undefined, claim("a", true), "terminating"],
    ["existing", claim("a"), "present"],
    ["existing", undefined, "lost"],
    ["a", claim("a"), "present"],
    ["a", undefined, "lost"],
    ["a", claim("b"), "lost"],
    ["a", claim("a", true), "lost"],
  ];
  for (const [recorded, current, kind] of cases) {
    assert.equal(
      volumeState(recorded, current).kind,
      kind,
      `${recorded} ${JSON.stringify(current)}`,
    );
  }
  assert.deepEqual(volumeState(undefined, claim("a")), {
    kind: "present",
    uid: "a",
    recorded: false,
  });
  assert.deepEqual(volumeState("a", claim("a")), { kind: "present", uid: "a", recorded: true });
});

Deno.test("a member's certificate names are its own stable name and the client Service's", () => {
  assert.deepEqual(memberDNSNames("c", "ns", "c-2"), ["c-2.c.ns.svc", "c-client.ns.svc"]);
  assert.equal(peerURLOfHost("c-2.c.ns.svc", "https"), "https://c-2.c.ns.svc:2380");
  assert.equal(clientURLOfHost("c-2.c.ns.svc"), "http://c-2.c.ns.svc:2379");
});

Deno.test("the TLS Secrets of a cluster and of its members cannot share a name", () => {
  assert.deepEqual(
    [
      tlsSecretNames.ca("c"),
      tlsSecretNames.member("c-0"),
      tlsSecretNames.operatorClient("c"),
      tlsSecretNames.applicationClient("c"),
    ],
    ["c-tls-ca", "c-0-tls", "c-tls-operator", "c-tls-client"],
  );
});
