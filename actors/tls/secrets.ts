// The TLS Secrets' contents: what each key holds, read back into the planner's view. Pure.
//
// Functions here take and return a Secret's data as decoded text (PEM); the API's base64 is the
// caller's business. docs/tls.md describes the layout.
import { type CertificateInfo, parseCertificatesPem, toHex } from "../../pki/parse.ts";
import type { CASecretView, CertificateFacts, LeafSecretView } from "./plan.ts";

export type SecretText = Readonly<Record<string, string>>;

/** On the CA Secret: the `spec.tls.certificates.caRotation` its newest CA was made for. */
export const caRotationAnnotation = "etcd.improbable.io/ca-rotation";

export const keys = {
  certificate: "tls.crt",
  privateKey: "tls.key",
  trustBundle: "ca.crt",
  nextCertificate: "next.crt",
  nextPrivateKey: "next.key",
  previousCertificate: "previous.crt",
} as const;

export function factsOf(certificate: CertificateInfo): CertificateFacts {
  return {
    commonName: certificate.subject.commonName,
    organization: certificate.subject.organization,
    notBefore: certificate.notBefore,
    notAfter: certificate.notAfter,
    dnsNames: certificate.dnsNames,
    subjectKeyId: toHex(certificate.subjectKeyId),
    authorityKeyId: toHex(certificate.authorityKeyId),
  };
}

/** The first certificate in a PEM text, or undefined when there is none or it does not parse. */
export function firstCertificate(pem: string | undefined): CertificateInfo | undefined {
  if (!pem) return undefined;
  try {
    return parseCertificatesPem(pem)[0];
  } catch {
    return undefined;
  }
}

function trustOf(pem: string | undefined): string[] {
  try {
    return parseCertificatesPem(pem ?? "").map((ca) => toHex(ca.subjectKeyId));
  } catch {
    return [];
  }
}

/** The CA Secret as the planner sees it; undefined when it is missing or its CA unreadable. */
export function readCASecret(
  data: SecretText | undefined,
  annotations: Readonly<Record<string, string>> = {},
): CASecretView | undefined {
  const current = firstCertificate(data?.[keys.certificate]);
  if (!current || !data?.[keys.privateKey]) return undefined;
  const next = data[keys.nextPrivateKey] ? firstCertificate(data[keys.nextCertificate]) : undefined;
  const previous = firstCertificate(data[keys.previousCertificate]);
  const rotation = Number(annotations[caRotationAnnotation] ?? 0);
  return {
    current: factsOf(current),
    ...(next ? { next: factsOf(next) } : {}),
    ...(previous ? { previous: factsOf(previous) } : {}),
    rotation: Number.isSafeInteger(rotation) ? rotation : 0,
  };
}

/** A leaf Secret as the planner sees it; an unreadable certificate reads as missing. */
export function readLeafSecret(data: SecretText | undefined): LeafSecretView {
  const certificate = firstCertificate(data?.[keys.certificate]);
  return {
    ...(certificate && data?.[keys.privateKey] ? { certificate: factsOf(certificate) } : {}),
    trustKeyIds: trustOf(data?.[keys.trustBundle]),
  };
}

/** The trust bundle of a CA Secret: its CAs' certificates, old before new. */
export function trustBundle(data: SecretText): string {
  return [keys.previousCertificate, keys.certificate, keys.nextCertificate]
    .flatMap((key) => data[key] ? [data[key]] : [])
    .join("");
}

/**
 * What a member's pod is restarted for: the SHA-256 over the certificates and trust bundles of the
 * Secrets it mounts, in order. Private keys are left out: a new key always comes with a new
 * certificate, and nothing derived from a key belongs in an annotation.
 */
export async function tlsDigest(secrets: readonly (SecretText | undefined)[]): Promise<string> {
  const text = JSON.stringify(
    secrets.map((data) => [data?.[keys.certificate] ?? "", data?.[keys.trustBundle] ?? ""]),
  );
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return toHex(new Uint8Array(digest));
}
