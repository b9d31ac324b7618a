// Issuing X.509 v3 certificates (RFC 5280) signed with ECDSA P-256 / SHA-256 through WebCrypto.
//
// Three profiles, the ones etcd (Go crypto/x509) needs: a CA (basicConstraints CA:TRUE, keyCertSign),
// a member certificate that serves clients and peers and dials peers (serverAuth + clientAuth, the
// member's exact DNS and IP SANs), and a client certificate (clientAuth, identity in CN and O).
import {
  bitString,
  boolean,
  type Bytes,
  concat,
  explicit,
  implicitPrimitive,
  octetString,
  oid,
  sequence,
  setOf,
  smallInteger,
  time as timeOf,
  tlv,
  unsignedInteger,
  utf8String,
} from "./der.ts";
import { publicKeyInfo } from "./keys.ts";
import { pemEncode } from "./pem.ts";
import { type CertificateInfo, readPublicKeyBits } from "./parse.ts";

export const oids = {
  commonName: "2.5.4.3",
  organization: "2.5.4.10",
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  subjectKeyIdentifier: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  extKeyUsage: "2.5.29.37",
  authorityKeyIdentifier: "2.5.29.35",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
} as const;

export interface DistinguishedName {
  readonly commonName: string;
  readonly organization?: string;
}

export type CertificateProfile =
  | { readonly kind: "ca" }
  /** Serves clients and peers and dials peers: what an etcd member presents on both ports. */
  | {
    readonly kind: "member";
    readonly dnsNames: readonly string[];
    readonly ipAddresses?: readonly string[];
  }
  | { readonly kind: "client" };

export interface CertificateTemplate {
  readonly subject: DistinguishedName;
  readonly profile: CertificateProfile;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly publicKey: CryptoKey;
}

/** Who signs: a CA certificate (as parsed back from its PEM) and its private key. */
export interface Issuer {
  readonly certificate: CertificateInfo;
  readonly privateKey: CryptoKey;
}

/** The signed certificate as DER and PEM. */
export interface IssuedCertificate {
  readonly der: Bytes;
  readonly pem: string;
}

// keyUsage bits, numbered from the most significant bit of the first byte (RFC 5280 §4.2.1.3).
const keyUsageBits = { digitalSignature: 0, keyCertSign: 5, cRLSign: 6 } as const;

/** The DER of a distinguished name: O first, then CN, each in its own RDN. */
export function encodeName(name: DistinguishedName): Bytes {
  const attribute = (type: string, value: string) => setOf(sequence(oid(type), utf8String(value)));
  return sequence(
    ...(name.organization ? [attribute(oids.organization, name.organization)] : []),
    attribute(oids.commonName, name.commonName),
  );
}

/** A NamedBitList as DER: trailing zero bits dropped and counted in the unused-bits byte. */
function keyUsage(bits: readonly number[]): Bytes {
  const highest = Math.max(...bits);
  const bytes = new Uint8Array(Math.floor(highest / 8) + 1);
  for (const bit of bits) bytes[Math.floor(bit / 8)] |= 0x80 >> (bit % 8);
  const unused = 7 - (highest % 8);
  return tlv(0x03, concat([Uint8Array.of(unused), bytes]));
}

/** An IPv4 or IPv6 address as the 4 or 16 bytes of an iPAddress GeneralName. */
export function ipAddressBytes(address: string): Bytes {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(address)) {
    const parts = address.split(".").map(Number);
    if (parts.some((part) => part > 255)) throw new Error(`not an IP address: ${address}`);
    return Uint8Array.from(parts);
  }
  const halves = address.split("::");
  if (halves.length > 2 || !/^[0-9a-fA-F:]+$/.test(address)) {
    throw new Error(`not an IP address: ${address}`);
  }
  const groups = (text: string) => (text ? text.split(":") : []);
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  const missing = 8 - head.length - tail.length;
  if (missing < 0 || (halves.length === 1 && missing !== 0)) {
    throw new Error(`not an IP address: ${address}`);
  }
  const all = [...head, ...Array(missing).fill("0"), ...tail];
  const bytes = new Uint8Array(16);
  all.forEach((group, index) => {
    if (group.length > 4) throw new Error(`not an IP address: ${address}`);
    const value = parseInt(group, 16);
    bytes[index * 2] = value >> 8;
    bytes[index * 2 + 1] = value & 0xff;
  });
  return bytes;
}

function extension(id: string, critical: boolean, value: Bytes): Bytes {
  return sequence(oid(id), ...(critical ? [boolean(true)] : []), octetString(value));
}

function extensionsOf(
  profile: CertificateProfile,
  subjectKeyId: Bytes,
  authorityKeyId: Bytes,
): Bytes[] {
  const identifiers = [
    extension(oids.subjectKeyIdentifier, false, octetString(subjectKeyId)),
    extension(oids.authorityKeyIdentifier, false, sequence(implicitPrimitive(0, authorityKeyId))),
  ];
  if (profile.kind === "ca") {
    return [
      extension(oids.basicConstraints, true, sequence(boolean(true), smallInteger(0))),
      extension(
        oids.keyUsage,
        true,
        keyUsage([keyUsageBits.digitalSignature, keyUsageBits.keyCertSign, keyUsageBits.cRLSign]),
      ),
      ...identifiers,
    ];
  }
  const usages = profile.kind === "member" ? [oids.serverAuth, oids.clientAuth] : [oids.clientAuth];
  const leaf = [
    extension(oids.basicConstraints, true, sequence()),
    extension(oids.keyUsage, true, keyUsage([keyUsageBits.digitalSignature])),
    extension(oids.extKeyUsage, false, sequence(...usages.map(oid))),
    ...identifiers,
  ];
  if (profile.kind === "member") {
    const names = [
      ...profile.dnsNames.map((name) => implicitPrimitive(2, new TextEncoder().encode(name))),
      ...(profile.ipAddresses ?? []).map((address) =>
        implicitPrimitive(7, ipAddressBytes(address))
      ),
    ];
    // Not critical: the subject is not empty (RFC 5280 §4.2.1.6). Go matches hostnames against
    // SANs only, never the CN, so these are the member's whole identity.
    leaf.push(extension(oids.subjectAltName, false, sequence(...names)));
  }
  return leaf;
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
export async function keyIdentifier(spki: Bytes): Promise<Bytes> {
  const bits = readPublicKeyBits(spki);
  return new Uint8Array(await crypto.subtle.digest("SHA-1", bits));
}

/** WebCrypto's ECDSA signature (r‖s, 32 bytes each) as the DER Ecdsa-Sig-Value X.509 carries. */
function ecdsaSignatureToDer(raw: Bytes): Bytes {
  const half = raw.length / 2;
  return sequence(unsignedInteger(raw.subarray(0, half)), unsignedInteger(raw.subarray(half)));
}

/** A positive 16-byte serial with 126 random bits (CA/B BR §7.1 asks for at least 64). */
function randomSerial(): Bytes {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] &= 0x7f;
  bytes[0] |= 0x40;
  return bytes;
}

/** Build and sign a certificate. Without an issuer it is self-signed (only for a CA). */
export async function issueCertificate(
  template: CertificateTemplate,
  signer: Issuer | { readonly selfSigned: CryptoKey },
): Promise<IssuedCertificate> {
  if (template.notAfter <= template.notBefore) throw new Error("notAfter must follow notBefore");
  if ("selfSigned" in signer && template.profile.kind !== "ca") {
    throw new Error("only a CA certificate may be self-signed");
  }
  const spki = await publicKeyInfo(template.publicKey);
  const subjectKeyId = await keyIdentifier(spki);
  const subject = encodeName(template.subject);
  const [issuerName, authorityKeyId, signingKey] = "selfSigned" in signer
    ? [subject, subjectKeyId, signer.selfSigned]
    : [signer.certificate.subjectDer, signer.certificate.subjectKeyId, signer.privateKey];
  const algorithm = sequence(oid(oids.ecdsaWithSha256));
  const tbs = sequence(
    explicit(0, smallInteger(2)),
    unsignedInteger(randomSerial()),
    algorithm,
    issuerName,
    sequence(timeOf(template.notBefore), timeOf(template.notAfter)),
    subject,
    spki,
    explicit(3, sequence(...extensionsOf(template.profile, subjectKeyId, authorityKeyId))),
  );
  const raw = new Uint8Array(
    await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, signingKey, tbs),
  );
  const der = sequence(tbs, algorithm, bitString(ecdsaSignatureToDer(raw)));
  return { der, pem: pemEncode("CERTIFICATE", der) };
}
