// Carrying out the planner's Secret steps: new keys, signed certificates, the CA Secret's phases.
// No I/O: each function returns the Secret data to write; the caller writes it.
import { generateKeyPair, privateKeyFromPem, privateKeyToPem } from "../../pki/keys.ts";
import { issueCertificate } from "../../pki/x509.ts";
import type { LeafIssue, TLSStep } from "./plan.ts";
import {
  caRotationAnnotation,
  firstCertificate,
  keys,
  type SecretText,
  trustBundle,
} from "./secrets.ts";

export interface SecretContent {
  readonly data: SecretText;
  readonly annotations?: Readonly<Record<string, string>>;
}

type CAStep = Extract<TLSStep, { kind: "issueCA" | "startCARotation" }>;

async function newCA(step: CAStep): Promise<{ certificate: string; privateKey: string }> {
  const pair = await generateKeyPair();
  const issued = await issueCertificate(
    {
      subject: step.subject,
      profile: { kind: "ca" },
      notBefore: step.notBefore,
      notAfter: step.notAfter,
      publicKey: pair.publicKey,
    },
    { selfSigned: pair.privateKey },
  );
  return { certificate: issued.pem, privateKey: await privateKeyToPem(pair.privateKey) };
}

function withBundle(data: Record<string, string>, rotation: number): SecretContent {
  return {
    data: { ...data, [keys.trustBundle]: trustBundle(data) },
    annotations: { [caRotationAnnotation]: String(rotation) },
  };
}

function rotationOf(annotations: Readonly<Record<string, string>> | undefined): number {
  return Number(annotations?.[caRotationAnnotation] ?? 0);
}

/**
 * The CA Secret after a CA step. `current` is its present content (unused for `issueCA`); every
 * other key is kept as it is, so a step applied twice changes nothing more.
 */
export async function applyCAStep(
  step: Extract<
    TLSStep,
    { kind: "issueCA" | "startCARotation" | "promoteNextCA" | "dropPreviousCA" }
  >,
  current: SecretContent | undefined,
): Promise<SecretContent> {
  const data = current?.data ?? {};
  switch (step.kind) {
    case "issueCA": {
      const ca = await newCA(step);
      return withBundle(
        { [keys.certificate]: ca.certificate, [keys.privateKey]: ca.privateKey },
        step.rotation,
      );
    }
    case "startCARotation": {
      const ca = await newCA(step);
      return withBundle(
        {
          [keys.certificate]: data[keys.certificate],
          [keys.privateKey]: data[keys.privateKey],
          [keys.nextCertificate]: ca.certificate,
          [keys.nextPrivateKey]: ca.privateKey,
        },
        step.rotation,
      );
    }
    case "promoteNextCA":
      return withBundle(
        {
          [keys.certificate]: data[keys.nextCertificate],
          [keys.privateKey]: data[keys.nextPrivateKey],
          [keys.previousCertificate]: data[keys.certificate],
        },
        rotationOf(current?.annotations),
      );
    case "dropPreviousCA":
      return withBundle(
        { [keys.certificate]: data[keys.certificate], [keys.privateKey]: data[keys.privateKey] },
        rotationOf(current?.annotations),
      );
  }
}

/** A leaf Secret: a new key, its certificate signed by the CA Secret's signing CA, the bundle. */
export async function issueLeaf(issue: LeafIssue, ca: SecretText): Promise<SecretText> {
  const signer = firstCertificate(ca[keys.certificate]);
  if (!signer || !ca[keys.privateKey]) throw new Error("the CA Secret has no signing CA");
  const pair = await generateKeyPair();
  const issued = await issueCertificate(
    {
      subject: issue.subject,
      profile: issue.profile,
      notBefore: issue.notBefore,
      notAfter: issue.notAfter,
      publicKey: pair.publicKey,
    },
    { certificate: signer, privateKey: await privateKeyFromPem(ca[keys.privateKey]) },
  );
  return {
    [keys.certificate]: issued.pem,
    [keys.privateKey]: await privateKeyToPem(pair.privateKey),
    [keys.trustBundle]: ca[keys.trustBundle],
  };
}

/** A leaf Secret with the CA Secret's trust bundle and its own certificate and key. */
export function updateTrust(leaf: SecretText, ca: SecretText): SecretText {
  return { ...leaf, [keys.trustBundle]: ca[keys.trustBundle] };
}
