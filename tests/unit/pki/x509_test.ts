// Certificates we issue, checked by OpenSSL (and Go's crypto/x509, which etcd uses) as data.
import assert from "node:assert/strict";
import { join } from "node:path";
import { generateKeyPair, privateKeyFromPem, privateKeyToPem } from "../../../pki/keys.ts";
import { fingerprint, isSignedBy, parseCertificatesPem, toHex } from "../../../pki/parse.ts";
import {
  type CertificateTemplate,
  ipAddressBytes,
  issueCertificate,
  type Issuer,
} from "../../../pki/x509.ts";

const hour = 3600_000;
const now = new Date(Math.floor(Date.now() / 1000) * 1000);
const validity = {
  notBefore: new Date(now.getTime() - hour),
  notAfter: new Date(now.getTime() + 24 * hour),
};

async function run(command: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  const output = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" })
    .output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { ok: output.success, out: decode(output.stdout) + decode(output.stderr) };
}

async function withFiles<T>(
  files: Record<string, string>,
  body: (path: (name: string) => string) => Promise<T>,
): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "pki-test-" });
  try {
    for (const [name, text] of Object.entries(files)) {
      await Deno.writeTextFile(join(dir, name), text);
    }
    return await body((name) => join(dir, name));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function newCA(commonName: string): Promise<Issuer & { pem: string; keyPem: string }> {
  const keys = await generateKeyPair();
  const issued = await issueCertificate(
    {
      subject: { commonName, organization: "etcd.improbable.io" },
      profile: { kind: "ca" },
      publicKey: keys.publicKey,
      ...validity,
    },
    { selfSigned: keys.privateKey },
  );
  const keyPem = await privateKeyToPem(keys.privateKey);
  // Sign as the operator will: with the key read back from its PKCS#8 PEM.
  const privateKey = await privateKeyFromPem(keyPem);
  return { certificate: parseCertificatesPem(issued.pem)[0], privateKey, pem: issued.pem, keyPem };
}

async function newLeaf(
  issuer: Issuer,
  template: Omit<CertificateTemplate, "publicKey" | "notBefore" | "notAfter">,
) {
  const keys = await generateKeyPair();
  const issued = await issueCertificate(
    { ...template, publicKey: keys.publicKey, ...validity },
    issuer,
  );
  return { ...issued, keyPem: await privateKeyToPem(keys.privateKey) };
}

const memberProfile = {
  kind: "member" as const,
  dnsNames: ["c-0.c.ns.svc", "c-client.ns.svc"],
  ipAddresses: ["127.0.0.1", "fd00::1"],
};

Deno.test("a CA certificate is self-signed with CA:TRUE, certificate signing, and both key ids", async () => {
  const ca = await newCA("c-ca");
  await withFiles({ "ca.pem": ca.pem }, async (path) => {
    const text = await run("openssl", ["x509", "-noout", "-text", "-in", path("ca.pem")]);
    assert.ok(text.ok, text.out);
    assert.match(text.out, /X509v3 Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
    assert.match(
      text.out,
      /X509v3 Key Usage: critical\s+Digital Signature, Certificate Sign, CRL Sign/,
    );
    assert.match(text.out, /X509v3 Subject Key Identifier/);
    assert.match(text.out, /X509v3 Authority Key Identifier/);
    assert.match(text.out, /Signature Algorithm: ecdsa-with-SHA256/);
    assert.match(text.out, /ASN1 OID: prime256v1/);
    assert.match(text.out, /Subject: O = etcd.improbable.io, CN = c-ca/);
    assert.match(text.out, /Version: 3 \(0x2\)/);
    const verify = await run("openssl", ["verify", "-CAfile", path("ca.pem"), path("ca.pem")]);
    assert.ok(verify.ok, verify.out);
  });
});

Deno.test("a member certificate chains to its CA, serves and dials, and names exactly its SANs", async () => {
  const ca = await newCA("c-ca");
  const member = await newLeaf(ca, { subject: { commonName: "c-0" }, profile: memberProfile });
  await withFiles({ "ca.pem": ca.pem, "member.pem": member.pem }, async (path) => {
    const text = await run("openssl", ["x509", "-noout", "-text", "-in", path("member.pem")]);
    assert.match(text.out, /X509v3 Basic Constraints: critical\s+CA:FALSE/);
    assert.match(text.out, /X509v3 Key Usage: critical\s+Digital Signature\n/);
    assert.match(text.out, /TLS Web Server Authentication, TLS Web Client Authentication/);
    assert.match(
      text.out,
      /X509v3 Subject Alternative Name: \s+DNS:c-0.c.ns.svc, DNS:c-client.ns.svc, IP Address:127.0.0.1, IP Address:FD00:0:0:0:0:0:0:1\n/,
    );
    assert.match(text.out, /Issuer: O = etcd.improbable.io, CN = c-ca/);
    const keyIds = [...text.out.matchAll(/Key Identifier: ?\s+(?:keyid:)?([0-9A-F:]+)/g)].map((m) =>
      m[1]
    );
    const caText = await run("openssl", [
      "x509",
      "-noout",
      "-ext",
      "subjectKeyIdentifier",
      "-in",
      path("ca.pem"),
    ]);
    assert.ok(caText.out.includes(keyIds[1]), "the AKI is the CA's SKI");
    for (const purpose of ["sslserver", "sslclient"]) {
      const verify = await run("openssl", [
        "verify",
        "-purpose",
        purpose,
        "-verify_hostname",
        "c-0.c.ns.svc",
        "-CAfile",
        path("ca.pem"),
        path("member.pem"),
      ]);
      assert.ok(verify.ok, `${purpose}: ${verify.out}`);
    }
    const otherHost = await run("openssl", [
      "verify",
      "-verify_hostname",
      "c-1.c.ns.svc",
      "-CAfile",
      path("ca.pem"),
      path("member.pem"),
    ]);
    assert.equal(otherHost.ok, false, "another member's name is not in the certificate");
  });
});

Deno.test("a client certificate carries CN and O and is good for client auth only", async () => {
  const ca = await newCA("c-ca");
  const client = await newLeaf(ca, {
    subject: { commonName: "etcd-operator", organization: "etcd.improbable.io" },
    profile: { kind: "client" },
  });
  await withFiles({ "ca.pem": ca.pem, "client.pem": client.pem }, async (path) => {
    const text = await run("openssl", [
      "x509",
      "-noout",
      "-subject",
      "-ext",
      "extendedKeyUsage",
      "-in",
      path("client.pem"),
    ]);
    assert.match(text.out, /subject=O = etcd.improbable.io, CN = etcd-operator/);
    assert.match(text.out, /TLS Web Client Authentication\n/);
    assert.doesNotMatch(text.out, /Server Authentication/);
    const asClient = await run("openssl", [
      "verify",
      "-purpose",
      "sslclient",
      "-CAfile",
      path("ca.pem"),
      path("client.pem"),
    ]);
    assert.ok(asClient.ok, asClient.out);
    const asServer = await run("openssl", [
      "verify",
      "-purpose",
      "sslserver",
      "-CAfile",
      path("ca.pem"),
      path("client.pem"),
    ]);
    assert.equal(asServer.ok, false);
  });
});

Deno.test("keys are PKCS#8 PEM that OpenSSL reads, and match their certificate", async () => {
  const ca = await newCA("c-ca");
  const member = await newLeaf(ca, { subject: { commonName: "c-0" }, profile: memberProfile });
  assert.match(member.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
  await withFiles({ "key.pem": member.keyPem, "member.pem": member.pem }, async (path) => {
    const check = await run("openssl", ["pkey", "-in", path("key.pem"), "-check", "-noout"]);
    assert.ok(check.ok, check.out);
    const fromKey = await run("openssl", ["pkey", "-in", path("key.pem"), "-pubout"]);
    const fromCert = await run("openssl", ["x509", "-in", path("member.pem"), "-noout", "-pubkey"]);
    assert.equal(fromKey.out, fromCert.out);
  });
});

Deno.test("during a CA overlap a bundle of both CAs verifies leaves of either; one CA alone does not", async () => {
  const oldCA = await newCA("c-ca");
  const newCAcert = await newCA("c-ca"); // same name, as a rotation makes it: key ids tell them apart
  const fromOld = await newLeaf(oldCA, { subject: { commonName: "c-0" }, profile: memberProfile });
  const fromNew = await newLeaf(newCAcert, {
    subject: { commonName: "c-0" },
    profile: memberProfile,
  });
  const files = {
    "old.pem": oldCA.pem,
    "new.pem": newCAcert.pem,
    "bundle.pem": oldCA.pem + newCAcert.pem,
    "from-old.pem": fromOld.pem,
    "from-new.pem": fromNew.pem,
  };
  await withFiles(files, async (path) => {
    const verify = (ca: string, leaf: string) =>
      run("openssl", ["verify", "-CAfile", path(ca), path(leaf)]);
    assert.ok((await verify("bundle.pem", "from-old.pem")).ok);
    assert.ok((await verify("bundle.pem", "from-new.pem")).ok);
    assert.ok((await verify("old.pem", "from-old.pem")).ok);
    assert.equal((await verify("new.pem", "from-old.pem")).ok, false);
    assert.equal((await verify("old.pem", "from-new.pem")).ok, false);
  });
  assert.equal(parseCertificatesPem(files["bundle.pem"]).length, 2);
  const [parsedOld, parsedNew] = parseCertificatesPem(files["bundle.pem"]);
  const leaf = parseCertificatesPem(fromOld.pem)[0];
  assert.equal(await isSignedBy(leaf, parsedOld), true);
  assert.equal(await isSignedBy(leaf, parsedNew), false, "same issuer name, other key");
  assert.equal(toHex(leaf.authorityKeyId), toHex(parsedOld.subjectKeyId));
  assert.notEqual(toHex(leaf.authorityKeyId), toHex(parsedNew.subjectKeyId));
});

Deno.test("a certificate parses back to its validity, names, SANs and CA flag", async () => {
  const ca = await newCA("c-ca");
  const member = await newLeaf(ca, { subject: { commonName: "c-0" }, profile: memberProfile });
  const [parsed] = parseCertificatesPem(member.pem);
  assert.deepEqual(parsed.subject, { commonName: "c-0" });
  assert.deepEqual(parsed.issuer, { commonName: "c-ca", organization: "etcd.improbable.io" });
  assert.deepEqual(parsed.notBefore, validity.notBefore);
  assert.deepEqual(parsed.notAfter, validity.notAfter);
  assert.deepEqual(parsed.dnsNames, memberProfile.dnsNames);
  assert.deepEqual(parsed.ipAddresses, ["127.0.0.1", "fd00:0:0:0:0:0:0:1"]);
  assert.equal(parsed.isCA, false);
  assert.deepEqual(parsed.extKeyUsages, ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]);
  assert.equal(ca.certificate.isCA, true);
  assert.equal(await isSignedBy(ca.certificate, ca.certificate), true);
  assert.match(await fingerprint(parsed), /^[0-9a-f]{64}$/);
});

Deno.test("dates from 2050 on are GeneralizedTime, and read back the same", async () => {
  const keys = await generateKeyPair();
  const notAfter = new Date("2061-07-08T09:10:11Z");
  const issued = await issueCertificate(
    {
      subject: { commonName: "long" },
      profile: { kind: "ca" },
      publicKey: keys.publicKey,
      notBefore: validity.notBefore,
      notAfter,
    },
    { selfSigned: keys.privateKey },
  );
  assert.deepEqual(parseCertificatesPem(issued.pem)[0].notAfter, notAfter);
  await withFiles({ "ca.pem": issued.pem }, async (path) => {
    const dates = await run("openssl", ["x509", "-noout", "-enddate", "-in", path("ca.pem")]);
    assert.equal(dates.out.trim(), "notAfter=Jul  8 09:10:11 2061 GMT");
  });
});

Deno.test("certificates OpenSSL made (RSA and EC) parse, and their signatures check", async () => {
  for (
    const keyArgs of [["-newkey", "rsa:2048"], [
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
    ]]
  ) {
    await withFiles({}, async (path) => {
      const made = await run("openssl", [
        "req",
        "-x509",
        ...keyArgs,
        "-nodes",
        "-keyout",
        path("key.pem"),
        "-out",
        path("cert.pem"),
        "-days",
        "2",
        "-subj",
        "/O=acme/CN=etcd-server",
        "-addext",
        "subjectAltName=DNS:a.example,IP:10.0.0.1",
      ]);
      assert.ok(made.ok, made.out);
      const [parsed] = parseCertificatesPem(await Deno.readTextFile(path("cert.pem")));
      assert.deepEqual(parsed.subject, { commonName: "etcd-server", organization: "acme" });
      assert.deepEqual(parsed.dnsNames, ["a.example"]);
      assert.deepEqual(parsed.ipAddresses, ["10.0.0.1"]);
      assert.equal(parsed.isCA, true, "openssl req -x509 marks its certificates as CAs");
      assert.equal(await isSignedBy(parsed, parsed), true, keyArgs[1]);
    });
  }
});

Deno.test("IP addresses encode as 4 or 16 bytes, and anything else is refused", () => {
  assert.deepEqual([...ipAddressBytes("10.1.2.3")], [10, 1, 2, 3]);
  assert.deepEqual([...ipAddressBytes("::1")], [...Array(15).fill(0), 1]);
  assert.deepEqual([...ipAddressBytes("fd00:1::")].slice(0, 4), [0xfd, 0, 0, 1]);
  for (const bad of ["256.1.1.1", "1.2.3", "a::b::c", "1:2:3", "host.example"]) {
    assert.throws(() => ipAddressBytes(bad), /not an IP address/, bad);
  }
});

const goProgram = `package main

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
)

func load(path string) *x509.Certificate {
	data, _ := os.ReadFile(path)
	block, _ := pem.Decode(data)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		fmt.Println("parse:", err)
		os.Exit(1)
	}
	return cert
}

func main() {
	ca, member, client := load(os.Args[1]), load(os.Args[2]), load(os.Args[3])
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if _, err := member.Verify(x509.VerifyOptions{Roots: roots, DNSName: "c-0.c.ns.svc", KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
			fmt.Println("member:", err)
			os.Exit(1)
		}
	}
	if _, err := client.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		fmt.Println("client:", err)
		os.Exit(1)
	}
	if _, err := member.Verify(x509.VerifyOptions{Roots: roots, DNSName: "c-1.c.ns.svc"}); err == nil {
		fmt.Println("member verified for another member's name")
		os.Exit(1)
	}
	fmt.Println("ok", ca.IsCA, ca.BasicConstraintsValid, ca.KeyUsage&x509.KeyUsageCertSign != 0)
}
`;

const hasGo = (() => {
  try {
    return new Deno.Command("go", { args: ["version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

Deno.test({
  name:
    "Go's crypto/x509, as etcd uses it, accepts the chain for server and client auth (needs go)",
  ignore: !hasGo,
  fn: async () => {
    const ca = await newCA("c-ca");
    const member = await newLeaf(ca, { subject: { commonName: "c-0" }, profile: memberProfile });
    const client = await newLeaf(ca, {
      subject: { commonName: "app" },
      profile: { kind: "client" },
    });
    const files = {
      "main.go": goProgram,
      "ca.pem": ca.pem,
      "member.pem": member.pem,
      "client.pem": client.pem,
    };
    await withFiles(files, async (path) => {
      const result = await run("go", [
        "run",
        path("main.go"),
        path("ca.pem"),
        path("member.pem"),
        path("client.pem"),
      ]);
      assert.ok(result.ok, result.out);
      assert.equal(result.out.trim(), "ok true true true");
    });
  },
});
