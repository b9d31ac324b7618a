// ECDSA P-256 keys through WebCrypto, kept as PKCS#8 PEM ("PRIVATE KEY") in Secrets.
import type { Bytes } from "./der.ts";
import { pemDecodeOne, pemEncode } from "./pem.ts";

const algorithm = { name: "ECDSA", namedCurve: "P-256" } as const;

/** A fresh key pair; the private key is extractable so it can be written to a Secret. */
export function generateKeyPair(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(algorithm, true, ["sign", "verify"]);
}

export async function privateKeyToPem(privateKey: CryptoKey): Promise<string> {
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", privateKey));
  return pemEncode("PRIVATE KEY", pkcs8);
}

/** A signing key back from its PKCS#8 PEM (a CA's key read from its Secret). Not extractable. */
export function privateKeyFromPem(pem: string): Promise<CryptoKey> {
  const pkcs8 = pemDecodeOne(pem, "PRIVATE KEY");
  return crypto.subtle.importKey("pkcs8", pkcs8, algorithm, false, ["sign"]);
}

/** The SubjectPublicKeyInfo DER of a public key, as a certificate embeds it. */
export async function publicKeyInfo(publicKey: CryptoKey): Promise<Bytes> {
  return new Uint8Array(await crypto.subtle.exportKey("spki", publicKey));
}
