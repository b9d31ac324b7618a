// Which Secrets a member mounts and the operator dials with, and the planner's view built from them.
import assert from "node:assert/strict";
import {
  clientMaterial,
  decodeSecret,
  encodeSecretData,
  memberSecrets,
  operatorClientSecret,
  tlsObservation,
} from "../../../../actors/tls/observe.ts";
import { resolveTLS } from "../../../../actors/tls/settings.ts";
import { applyCAStep, issueLeaf } from "../../../../actors/tls/issue.ts";
import { tlsDigest } from "../../../../actors/tls/secrets.ts";
import type { EtcdClusterTLS } from "../../../../actors/types.ts";

const userBoth: EtcdClusterTLS = {
  client: { userProvided: { serverSecretName: "server", operatorSecretName: "op" } },
  peer: { userProvided: { secretName: "peer" } },
};

const table: [string, EtcdClusterTLS | undefined, unknown, string | undefined][] = [
  ["no spec.tls: nothing mounted, no client certificate", undefined, undefined, undefined],
  ["operator-managed: the member's own Secret on both ports", { client: {}, peer: {} }, {
    client: { secretName: "c-1-tls" },
    peer: { secretName: "c-1-tls" },
  }, "c-tls-operator"],
  ["peer TLS only: no client certificate for the operator", { peer: {} }, {
    peer: { secretName: "c-1-tls" },
  }, undefined],
  ["user-provided: the user's Secrets", userBoth, {
    client: { secretName: "server" },
    peer: { secretName: "peer" },
  }, "op"],
];

for (const [name, spec, mounted, operatorSecret] of table) {
  Deno.test(`TLS Secrets: ${name}`, () => {
    const tls = resolveTLS(spec);
    assert.deepEqual(memberSecrets(tls, "c-1"), mounted);
    assert.equal(operatorClientSecret(tls, "c"), operatorSecret);
  });
}

Deno.test("Secret data round-trips through the API's base64, and a client needs all three keys", () => {
  const data = { "tls.crt": "CERT\n", "tls.key": "KEY\n", "ca.crt": "CA\n" };
  const view = decodeSecret({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "s", resourceVersion: "7" },
    data: encodeSecretData(data),
  });
  assert.deepEqual(view?.data, data);
  assert.equal(view?.resourceVersion, "7");
  assert.deepEqual(clientMaterial(view), { ca: "CA\n", cert: "CERT\n", key: "KEY\n" });
  assert.equal(clientMaterial({ data: { "tls.crt": "x" }, annotations: {} }), undefined);
});

Deno.test("the observation reads the CA and leaves, and a member's desired digest is that of the Secrets it mounts", async () => {
  const now = new Date();
  const ca = await applyCAStep({
    kind: "issueCA",
    subject: { commonName: "CA" },
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + 3_600_000),
    rotation: 0,
  }, undefined);
  const leaf = await issueLeaf({
    secretName: "c-0-tls",
    role: "member",
    subject: { commonName: "c-0" },
    profile: { kind: "member", dnsNames: ["c-0.c.ns.svc", "c-client.ns.svc"] },
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + 1_800_000),
  }, ca.data);
  const secrets: Record<string, Record<string, string>> = {
    "c-tls-ca": { ...ca.data },
    "c-0-tls": { ...leaf },
  };
  const seen = await tlsObservation({
    now,
    clusterName: "c",
    namespace: "ns",
    tls: resolveTLS({ client: {}, peer: {} }),
    members: [{ peerName: "c-0", leader: true, healthy: true, runningDigest: "old" }],
    secret: (name) => secrets[name] && { data: secrets[name], annotations: {} },
  });
  assert.ok(seen.ca);
  assert.equal(seen.leaves.get("c-0-tls")?.certificate?.commonName, "c-0");
  assert.equal(seen.leaves.get("c-tls-operator")?.certificate, undefined, "missing");
  assert.deepEqual(seen.members, [{
    peerName: "c-0",
    leader: true,
    healthy: true,
    runningDigest: "old",
    desiredDigest: await tlsDigest([leaf, leaf]),
  }]);
});
