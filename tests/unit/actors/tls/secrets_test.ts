// Reading the TLS Secrets back into the planner's view, and the digest pods are restarted by.
import assert from "node:assert/strict";
import { applyCAStep, issueLeaf } from "../../../../actors/tls/issue.ts";
import { readCASecret, readLeafSecret, tlsDigest } from "../../../../actors/tls/secrets.ts";

const now = new Date();
const later = new Date(now.getTime() + 86_400_000);
const subject = { commonName: "etcd CA ns/c", organization: "etcd.improbable.io" };

async function caContent() {
  return await applyCAStep(
    { kind: "issueCA", subject, notBefore: now, notAfter: later, rotation: 2 },
    undefined,
  );
}

Deno.test("a CA Secret reads back as its CA, the rotation it was made for, and no other CA", async () => {
  const ca = await caContent();
  const view = readCASecret(ca.data, ca.annotations);
  assert.ok(view);
  assert.equal(view.rotation, 2);
  assert.equal(view.current.commonName, "etcd CA ns/c");
  assert.equal(view.current.subjectKeyId, view.current.authorityKeyId, "self-signed");
  assert.equal(view.next, undefined);
  assert.equal(view.previous, undefined);
  assert.equal(readCASecret(undefined), undefined);
  assert.equal(readCASecret({ "tls.crt": "garbage", "tls.key": "x" }), undefined);
  assert.equal(readCASecret({ "tls.crt": ca.data["tls.crt"] }), undefined, "no key: cannot sign");
});

Deno.test("a CA rotation's phases show in the Secret's keys and its trust bundle", async () => {
  const ca = await caContent();
  const step = { subject, notBefore: now, notAfter: later, rotation: 3, reason: "asked" };
  const trusting = await applyCAStep({ kind: "startCARotation", ...step }, ca);
  const view1 = readCASecret(trusting.data, trusting.annotations)!;
  assert.ok(view1.next);
  assert.equal(view1.rotation, 3);
  assert.equal(view1.current.subjectKeyId, readCASecret(ca.data)!.current.subjectKeyId);
  const reissuing = await applyCAStep({ kind: "promoteNextCA" }, trusting);
  const view2 = readCASecret(reissuing.data, reissuing.annotations)!;
  assert.equal(view2.current.subjectKeyId, view1.next.subjectKeyId);
  assert.equal(view2.previous?.subjectKeyId, view1.current.subjectKeyId);
  assert.deepEqual(Object.keys(reissuing.data).sort(), [
    "ca.crt",
    "previous.crt",
    "tls.crt",
    "tls.key",
  ]);
  assert.equal(readLeafSecret(reissuing.data).trustKeyIds.length, 2);
  const done = await applyCAStep({ kind: "dropPreviousCA" }, reissuing);
  assert.deepEqual(readLeafSecret(done.data).trustKeyIds, [view2.current.subjectKeyId]);
  assert.equal(done.annotations?.["etcd.improbable.io/ca-rotation"], "3");
});

Deno.test("a leaf Secret reads back its certificate and trust; without a key it is missing", async () => {
  const ca = await caContent();
  const leaf = await issueLeaf({
    secretName: "c-0-tls",
    role: "member",
    subject: { commonName: "c-0" },
    profile: { kind: "member", dnsNames: ["c-0.c.ns.svc", "c-client.ns.svc"] },
    notBefore: now,
    notAfter: later,
  }, ca.data);
  const view = readLeafSecret(leaf);
  assert.deepEqual(view.certificate?.dnsNames, ["c-0.c.ns.svc", "c-client.ns.svc"]);
  assert.equal(view.certificate?.authorityKeyId, readCASecret(ca.data)!.current.subjectKeyId);
  assert.deepEqual(view.trustKeyIds, [view.certificate?.authorityKeyId]);
  assert.equal(readLeafSecret({ ...leaf, "tls.key": "" }).certificate, undefined);
  assert.deepEqual(readLeafSecret(undefined), { trustKeyIds: [] });
});

Deno.test("the restart digest follows certificates and bundles, never the private key", async () => {
  const base = { "tls.crt": "A", "tls.key": "K1", "ca.crt": "B" };
  const digest = await tlsDigest([base]);
  assert.match(digest, /^[0-9a-f]{64}$/);
  assert.equal(await tlsDigest([{ ...base, "tls.key": "K2" }]), digest);
  assert.notEqual(await tlsDigest([{ ...base, "ca.crt": "B2" }]), digest);
  assert.notEqual(await tlsDigest([{ ...base, "tls.crt": "A2" }]), digest);
  assert.notEqual(await tlsDigest([base, base]), digest, "two mounted Secrets are not one");
});
