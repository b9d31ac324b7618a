// What a cluster's certificates need next: issue, renew, rotate the CA through an overlap, roll
// members onto new material one at a time. Pure: the observation carries the clock.
//
// CA rotation, read from the CA Secret alone (docs/tls.md):
//   steady      tls.crt = A                          trust {A}
//   phase 1     tls.crt = A, next.crt = B            trust {A, B}  every member restarts trusting B
//   phase 2     tls.crt = B, previous.crt = A        trust {A, B}  leaves re-issued from B, rolled
//   phase 3     tls.crt = B                          trust {B}     members restart without A
// Each phase moves on only when every member runs the material of the one before and is healthy.
import { memberDNSNames, ordinalOf, tlsSecretNames } from "../member.ts";
import type { CertificateProfile, DistinguishedName } from "../../pki/x509.ts";
import type { CARotationPhase } from "../types.ts";
import { clockSkewAllowance, needsCA, type ResolvedTLS } from "./settings.ts";

/** What the planner needs of a certificate (key ids in lower-case hex). */
export interface CertificateFacts {
  readonly commonName?: string;
  readonly organization?: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly dnsNames: readonly string[];
  readonly subjectKeyId: string;
  readonly authorityKeyId: string;
}

/** The CA Secret, read: the signing CA, the CA being rotated in or out, and the trust bundle. */
export interface CASecretView {
  readonly current: CertificateFacts;
  readonly next?: CertificateFacts;
  readonly previous?: CertificateFacts;
  /** The `spec.tls.certificates.caRotation` its newest CA was made for. */
  readonly rotation: number;
}

/** A leaf Secret, read; `certificate` is undefined when the Secret is missing or unreadable. */
export interface LeafSecretView {
  readonly certificate?: CertificateFacts;
  /** The subject key ids of the CAs in its `ca.crt`. */
  readonly trustKeyIds: readonly string[];
}

export interface MemberTLSView {
  readonly peerName: string;
  readonly leader: boolean;
  readonly healthy: boolean;
  /** The digest of the TLS material its running pod started with; undefined: no pod runs yet. */
  readonly runningDigest?: string;
  /** The digest of what its Secrets hold now. */
  readonly desiredDigest: string;
}

export interface TLSObservation {
  readonly now: Date;
  readonly clusterName: string;
  readonly namespace: string;
  readonly tls: ResolvedTLS;
  /** Every member the cluster has or is about to create. */
  readonly members: readonly MemberTLSView[];
  readonly ca?: CASecretView;
  /** Operator-issued leaf Secrets by name. */
  readonly leaves: ReadonlyMap<string, LeafSecretView>;
  /** User-provided Secrets by name: their certificate, undefined when missing or unreadable. */
  readonly userProvided: ReadonlyMap<string, CertificateFacts | undefined>;
}

/** A certificate to issue, fully decided: the actor only makes a key and signs. */
export interface LeafIssue {
  readonly secretName: string;
  readonly role: "member" | "operatorClient" | "applicationClient";
  readonly subject: DistinguishedName;
  readonly profile: CertificateProfile;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export type TLSStep =
  /** No CA yet: make one (self-signed) and write the CA Secret with trust {it}. */
  | {
    readonly kind: "issueCA";
    readonly subject: DistinguishedName;
    readonly notBefore: Date;
    readonly notAfter: Date;
    readonly rotation: number;
  }
  /** Phase 1: make a new CA as `next.crt`; the trust bundle becomes {current, next}. */
  | {
    readonly kind: "startCARotation";
    readonly reason: string;
    readonly subject: DistinguishedName;
    readonly notBefore: Date;
    readonly notAfter: Date;
    readonly rotation: number;
  }
  /** Phase 2: the next CA signs from now on; the old one stays trusted as `previous.crt`. */
  | { readonly kind: "promoteNextCA" }
  /** Phase 3: forget `previous.crt`; the trust bundle is the current CA alone. */
  | { readonly kind: "dropPreviousCA" }
  /** Write a leaf Secret: a new key and certificate from the signing CA, and the trust bundle. */
  | { readonly kind: "issueLeaf"; readonly reason: string; readonly issue: LeafIssue }
  /** The leaf is good; only its `ca.crt` differs from the CA Secret's trust bundle. */
  | { readonly kind: "updateTrust"; readonly secretName: string }
  /** Restart one member so it loads its Secrets' current content (after moving leadership off). */
  | {
    readonly kind: "restartMember";
    readonly peerName: string;
    readonly digest: string;
    readonly moveLeaderFirst: boolean;
    readonly reason: string;
  }
  | { readonly kind: "wait"; readonly reason: string };

export const organization = "etcd.improbable.io";
export const operatorClientName = "etcd-operator";

export const caSubject = (clusterName: string, namespace: string): DistinguishedName => ({
  commonName: `etcd CA ${namespace}/${clusterName}`,
  organization,
});

const iso = (at: Date) => at.toISOString();

/** The CA Secret's trust bundle, as key ids: old before new. */
export function trustKeyIds(ca: CASecretView): string[] {
  return [ca.previous, ca.current, ca.next].flatMap((cert) => cert ? [cert.subjectKeyId] : []);
}

export function rotationPhase(ca: CASecretView | undefined): CARotationPhase | undefined {
  if (ca?.next) return "TrustingNewCA";
  if (ca?.previous) return "ReissuingFromNewCA";
  return undefined;
}

function caValidity(now: Date, tls: ResolvedTLS) {
  return {
    notBefore: new Date(now.getTime() - clockSkewAllowance),
    notAfter: new Date(now.getTime() + tls.policy.caValidityMs),
  };
}

/** Why the CA must be rotated now, if it must. Only asked in the steady state. */
export function caRotationReason(
  ca: CASecretView,
  now: Date,
  tls: ResolvedTLS,
): string | undefined {
  if (ca.rotation < tls.policy.caRotation) {
    return `spec.tls.certificates.caRotation is ${tls.policy.caRotation} (the CA was made for ${ca.rotation})`;
  }
  const renewAt = ca.current.notAfter.getTime() - tls.policy.caRenewBeforeMs;
  if (now.getTime() >= renewAt) return `the CA expires at ${iso(ca.current.notAfter)}`;
  return undefined;
}

/** Every leaf the operator keeps for this cluster, as it should be issued now. */
export function desiredLeaves(seen: TLSObservation, signer: CertificateFacts): LeafIssue[] {
  const notBefore = new Date(seen.now.getTime() - clockSkewAllowance);
  // A leaf never outlives its CA: Go refuses a chain with an expired CA whatever the leaf says.
  const notAfter = new Date(
    Math.min(seen.now.getTime() + seen.tls.policy.validityMs, signer.notAfter.getTime()),
  );
  const leaves: LeafIssue[] = seen.members.map((member) => ({
    secretName: tlsSecretNames.member(member.peerName),
    role: "member",
    subject: { commonName: member.peerName },
    profile: {
      kind: "member",
      dnsNames: memberDNSNames(seen.clusterName, seen.namespace, member.peerName),
    },
    notBefore,
    notAfter,
  }));
  if (seen.tls.client.kind === "operatorManaged") {
    leaves.push({
      secretName: tlsSecretNames.operatorClient(seen.clusterName),
      role: "operatorClient",
      subject: { commonName: operatorClientName, organization },
      profile: { kind: "client" },
      notBefore,
      notAfter,
    }, {
      secretName: tlsSecretNames.applicationClient(seen.clusterName),
      role: "applicationClient",
      subject: { commonName: `${seen.clusterName}-client`, organization },
      profile: { kind: "client" },
      notBefore,
      notAfter,
    });
  }
  return leaves;
}

const sameSet = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && [...a].sort().every((item, index) => item === [...b].sort()[index]);

/** Why a leaf Secret must be re-issued, if it must. */
export function leafRenewalReason(
  leaf: LeafSecretView | undefined,
  want: LeafIssue,
  signer: CertificateFacts,
  now: Date,
  renewBeforeMs: number,
  validityMs: number = Infinity,
): string | undefined {
  const cert = leaf?.certificate;
  if (!cert) return "it is missing or unreadable";
  if (cert.authorityKeyId !== signer.subjectKeyId) {
    return "it was signed by a CA that no longer signs";
  }
  const wantNames = want.profile.kind === "member" ? want.profile.dnsNames : [];
  if (!sameSet(cert.dnsNames, wantNames)) {
    return `its names [${cert.dnsNames.join(", ")}] are not [${wantNames.join(", ")}]`;
  }
  if (
    cert.commonName !== want.subject.commonName ||
    cert.organization !== want.subject.organization
  ) return "its subject changed";
  const renewAt = cert.notAfter.getTime() - renewBeforeMs;
  // A leaf cut short by its CA's expiry is not renewed again and again: the CA rotates first.
  const capped = cert.notAfter.getTime() >= signer.notAfter.getTime();
  if (now.getTime() >= renewAt && !capped) return `it expires at ${iso(cert.notAfter)}`;
  // A shortened validity applies at once, not after the old certificates' long lives.
  const lifetime = cert.notAfter.getTime() - cert.notBefore.getTime();
  if (lifetime > validityMs + clockSkewAllowance + 60_000) {
    return `it lives ${Math.round(lifetime / 3_600_000)}h, longer than ` +
      `spec.tls.certificates.validity (${Math.round(validityMs / 3_600_000)}h)`;
  }
  return undefined;
}

/** The Secret writes the operator-managed side needs now; the CA's own steps come alone. */
function operatorManagedSteps(seen: TLSObservation): TLSStep[] {
  if (!needsCA(seen.tls)) return [];
  const ca = seen.ca;
  if (!ca) {
    return [{
      kind: "issueCA",
      subject: caSubject(seen.clusterName, seen.namespace),
      ...caValidity(seen.now, seen.tls),
      rotation: seen.tls.policy.caRotation,
    }];
  }
  if (!ca.next && !ca.previous) {
    const reason = caRotationReason(ca, seen.now, seen.tls);
    if (reason) {
      return [{
        kind: "startCARotation",
        reason,
        subject: caSubject(seen.clusterName, seen.namespace),
        ...caValidity(seen.now, seen.tls),
        rotation: Math.max(seen.tls.policy.caRotation, ca.rotation),
      }];
    }
  }
  const trust = trustKeyIds(ca);
  const steps: TLSStep[] = [];
  for (const want of desiredLeaves(seen, ca.current)) {
    const leaf = seen.leaves.get(want.secretName);
    const reason = leafRenewalReason(
      leaf,
      want,
      ca.current,
      seen.now,
      seen.tls.policy.renewBeforeMs,
      seen.tls.policy.validityMs,
    );
    if (reason) steps.push({ kind: "issueLeaf", reason, issue: want });
    else if (!sameSet(leaf?.trustKeyIds ?? [], trust)) {
      steps.push({ kind: "updateTrust", secretName: want.secretName });
    }
  }
  return steps;
}

/** `*.c.ns.svc` names `c-0.c.ns.svc`, as Go matches a wildcard: one whole left-most label. */
export function certificateNames(cert: CertificateFacts, name: string): boolean {
  return cert.dnsNames.some((pattern) =>
    pattern === name ||
    (pattern.startsWith("*.") && name.slice(name.indexOf(".")) === pattern.slice(1))
  );
}

/** User-provided Secrets must exist and name every member before any member is rolled onto them. */
export function userProvidedProblems(seen: TLSObservation): string[] {
  const problems: string[] = [];
  const serving = [
    ...(seen.tls.client.kind === "userProvided" ? [seen.tls.client.secretNames[0]] : []),
    ...(seen.tls.peer.kind === "userProvided" ? seen.tls.peer.secretNames : []),
  ];
  const all = [
    ...(seen.tls.client.kind === "userProvided" ? seen.tls.client.secretNames : []),
    ...(seen.tls.peer.kind === "userProvided" ? seen.tls.peer.secretNames : []),
  ];
  for (const secretName of all) {
    if (!seen.userProvided.get(secretName)) {
      problems.push(`Secret ${secretName} is missing or holds no readable tls.crt`);
    }
  }
  for (const secretName of serving) {
    const cert = seen.userProvided.get(secretName);
    if (!cert) continue;
    for (const member of seen.members) {
      const [name] = memberDNSNames(seen.clusterName, seen.namespace, member.peerName);
      if (!certificateNames(cert, name)) {
        problems.push(`the certificate in Secret ${secretName} does not name ${name}`);
      }
    }
  }
  return problems;
}

const byOrdinalDescending = (clusterName: string) => (a: MemberTLSView, b: MemberTLSView) =>
  (ordinalOf(clusterName, b.peerName) ?? -1) - (ordinalOf(clusterName, a.peerName) ?? -1);

/**
 * The one member to restart onto new material: followers first, highest ordinal first (as
 * upgrades go), the leader last and only after leadership moves. Nothing while any is unhealthy.
 */
function restartStep(seen: TLSObservation): TLSStep | undefined {
  const stale = seen.members.filter((member) =>
    member.runningDigest !== undefined && member.runningDigest !== member.desiredDigest
  );
  if (stale.length === 0) return undefined;
  const unhealthy = seen.members.filter((member) => !member.healthy);
  if (unhealthy.length > 0) {
    return {
      kind: "wait",
      reason: `members ${stale.map((m) => m.peerName).join(", ")} need a restart for new TLS ` +
        `material, which waits until ${unhealthy.map((m) => m.peerName).join(", ")} is healthy`,
    };
  }
  const [next] = [...stale].sort((a, b) =>
    Number(a.leader) - Number(b.leader) || byOrdinalDescending(seen.clusterName)(a, b)
  );
  return {
    kind: "restartMember",
    peerName: next.peerName,
    digest: next.desiredDigest,
    moveLeaderFirst: next.leader && seen.members.length > 1,
    reason: "its TLS Secrets changed",
  };
}

/** The CA phase that can follow once every member runs the current material. */
function caPhaseStep(seen: TLSObservation): TLSStep | undefined {
  const phase = rotationPhase(seen.ca);
  if (!phase) return undefined;
  const unhealthy = seen.members.filter((member) => !member.healthy);
  if (unhealthy.length > 0) {
    return {
      kind: "wait",
      reason: `the CA rotation (${phase}) waits until ` +
        `${unhealthy.map((member) => member.peerName).join(", ")} is healthy`,
    };
  }
  return seen.ca?.next ? { kind: "promoteNextCA" } : { kind: "dropPreviousCA" };
}

/**
 * The next steps. Secret writes come together (they disturb nothing); a member restart only once
 * every Secret is as wanted, one member at a time; a CA phase only once every member runs the
 * phase before. An empty list: converged.
 */
export function planTLS(seen: TLSObservation): TLSStep[] {
  if (seen.tls.client.kind === "off" && seen.tls.peer.kind === "off") return [];
  const secretSteps = operatorManagedSteps(seen);
  if (secretSteps.length > 0) return secretSteps;
  // Rolling a member onto a user's Secret that does not name it would cut it off: wait instead.
  const problems = userProvidedProblems(seen);
  if (problems.length > 0) return [{ kind: "wait", reason: problems.join("; ") }];
  const restart = restartStep(seen);
  if (restart) return [restart];
  const phase = caPhaseStep(seen);
  return phase ? [phase] : [];
}
