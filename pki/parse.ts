// Reading back what renewal decisions need from a certificate: validity, names, SANs, key ids,
// whether it is a CA, and whether a given CA signed it (ECDSA P-256 or RSA, SHA-256).
import {
  type Bytes,
  children,
  type Element,
  readBitString,
  readElement,
  readOid,
  readString,
  readTime,
  tags,
} from "./der.ts";
import { pemDecodeAll } from "./pem.ts";

export interface CertificateInfo {
  readonly der: Bytes;
  readonly serialHex: string;
  readonly subject: ParsedName;
  readonly issuer: ParsedName;
  /** The exact DER of the subject and issuer names: chains are built by comparing these. */
  readonly subjectDer: Bytes;
  readonly issuerDer: Bytes;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  readonly isCA: boolean;
  readonly extKeyUsages: readonly string[];
  readonly subjectKeyId: Bytes;
  readonly authorityKeyId: Bytes;
  readonly publicKeyInfo: Bytes;
  /** What the signature covers, the algorithm's OID and the signature bytes. */
  readonly tbs: Bytes;
  readonly signatureAlgorithm: string;
  readonly signature: Bytes;
}

export interface ParsedName {
  readonly commonName?: string;
  readonly organization?: string;
}

const hex = (bytes: Bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

function parseName(element: Element): ParsedName {
  const name: { commonName?: string; organization?: string } = {};
  for (const rdn of children(element)) {
    for (const attribute of children(rdn)) {
      const [type, value] = children(attribute);
      const id = readOid(type);
      if (id === "2.5.4.3") name.commonName = readString(value);
      if (id === "2.5.4.10") name.organization = readString(value);
    }
  }
  return name;
}

function ipAddressText(bytes: Bytes): string {
  if (bytes.length === 4) return bytes.join(".");
  const groups: string[] = [];
  for (let index = 0; index < bytes.length; index += 2) {
    groups.push(((bytes[index] << 8) | bytes[index + 1]).toString(16));
  }
  return groups.join(":");
}

interface Extensions {
  dnsNames: string[];
  ipAddresses: string[];
  isCA: boolean;
  extKeyUsages: string[];
  subjectKeyId: Bytes;
  authorityKeyId: Bytes;
}

function parseExtensions(element: Element | undefined): Extensions {
  const found: Extensions = {
    dnsNames: [],
    ipAddresses: [],
    isCA: false,
    extKeyUsages: [],
    subjectKeyId: new Uint8Array(),
    authorityKeyId: new Uint8Array(),
  };
  if (!element) return found;
  for (const extension of children(children(element)[0])) {
    const parts = children(extension);
    const id = readOid(parts[0]);
    const value = readElement(parts[parts.length - 1].contents);
    if (id === "2.5.29.17") {
      for (const name of children(value)) {
        if (name.tag === 0x82) found.dnsNames.push(readString(name));
        if (name.tag === 0x87) found.ipAddresses.push(ipAddressText(name.contents));
      }
    } else if (id === "2.5.29.19") {
      const first = children(value)[0];
      found.isCA = first?.tag === tags.boolean && first.contents[0] !== 0;
    } else if (id === "2.5.29.37") {
      found.extKeyUsages = children(value).map(readOid);
    } else if (id === "2.5.29.14") {
      found.subjectKeyId = value.contents;
    } else if (id === "2.5.29.35") {
      const keyId = children(value).find((item) => item.tag === 0x80);
      if (keyId) found.authorityKeyId = keyId.contents;
    }
  }
  return found;
}

export function parseCertificate(der: Bytes): CertificateInfo {
  const certificate = readElement(der);
  const [tbs, algorithm, signature] = children(certificate);
  const fields = children(tbs);
  // A v3 certificate starts with its [0] version; without it, everything shifts by one.
  const at = fields[0].tag === 0xa0 ? 1 : 0;
  const [serial, , issuer, validity, subject, spki] = fields.slice(at);
  const [notBefore, notAfter] = children(validity).map(readTime);
  return {
    der,
    serialHex: hex(serial.contents),
    subject: parseName(subject),
    issuer: parseName(issuer),
    subjectDer: subject.encoded,
    issuerDer: issuer.encoded,
    notBefore,
    notAfter,
    ...parseExtensions(fields.find((field) => field.tag === 0xa3)),
    publicKeyInfo: spki.encoded,
    tbs: tbs.encoded,
    signatureAlgorithm: readOid(children(algorithm)[0]),
    signature: readBitString(signature),
  };
}

/** Every certificate in a PEM text (one certificate, or a trust bundle of several). */
export function parseCertificatesPem(pem: string): CertificateInfo[] {
  return pemDecodeAll(pem).filter((block) => block.label === "CERTIFICATE")
    .map((block) => parseCertificate(block.der));
}

/** The subjectPublicKey bits of a SubjectPublicKeyInfo (what a key identifier hashes). */
export function readPublicKeyBits(spki: Bytes): Bytes {
  return readBitString(children(readElement(spki))[1]);
}

export const sameBytes = (a: Bytes, b: Bytes) =>
  a.length === b.length && a.every((byte, index) => byte === b[index]);

/** The DER Ecdsa-Sig-Value as WebCrypto's r‖s, each left-padded to `size` bytes. */
function ecdsaSignatureToRaw(der: Bytes, size: number): Bytes {
  const raw = new Uint8Array(size * 2);
  children(readElement(der)).forEach((integer, index) => {
    const value = integer.contents[0] === 0 ? integer.contents.subarray(1) : integer.contents;
    raw.set(value, size * (index + 1) - value.length);
  });
  return raw;
}

/**
 * Whether `ca` signed `certificate`: the issuer name matches the CA's subject and the signature
 * verifies with the CA's key. False for algorithms other than ECDSA P-256 and RSA with SHA-256.
 */
export async function isSignedBy(
  certificate: CertificateInfo,
  ca: CertificateInfo,
): Promise<boolean> {
  if (!sameBytes(certificate.issuerDer, ca.subjectDer)) return false;
  try {
    if (certificate.signatureAlgorithm === "1.2.840.10045.4.3.2") {
      const key = await crypto.subtle.importKey(
        "spki",
        ca.publicKeyInfo,
        { name: "ECDSA", namedCurve: "P-256" },
        false,
        ["verify"],
      );
      const raw = ecdsaSignatureToRaw(certificate.signature, 32);
      return await crypto.subtle.verify(
        { name: "ECDSA", hash: "SHA-256" },
        key,
        raw,
        certificate.tbs,
      );
    }
    if (certificate.signatureAlgorithm === "1.2.840.113549.1.1.11") {
      const key = await crypto.subtle.importKey(
        "spki",
        ca.publicKeyInfo,
        { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
        false,
        ["verify"],
      );
      return await crypto.subtle.verify(
        "RSASSA-PKCS1-v1_5",
        key,
        certificate.signature,
        certificate.tbs,
      );
    }
  } catch {
    return false; // a key of another curve or kind than the signature says
  }
  return false;
}

/** The SHA-256 of a certificate's DER in hex: how a Secret's certificate is told apart. */
export async function fingerprint(certificate: CertificateInfo): Promise<string> {
  return hex(new Uint8Array(await crypto.subtle.digest("SHA-256", certificate.der)));
}

export { hex as toHex };
