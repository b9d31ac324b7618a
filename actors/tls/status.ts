// `status.tls`: each certificate's Secret, role and expiry, and where a CA rotation stands. Pure;
// it carries names and dates only, never key material.
import type { CARotationPhase, EtcdClusterTLSStatus } from "../types.ts";
import { desiredLeaves, rotationPhase, type TLSObservation, trustKeyIds } from "./plan.ts";
import { needsCA } from "./settings.ts";
import { tlsSecretNames } from "../member.ts";

type CertificateStatus = NonNullable<EtcdClusterTLSStatus["certificates"]>[number];

const iso = (at: Date) => at.toISOString();

/**
 * The phase a rotation is in. After the CA Secret drops the old CA, the rotation still shows as
 * `DroppingOldCA` while any leaf Secret trusts a CA the CA Secret no longer has.
 */
function phaseOf(seen: TLSObservation): CARotationPhase | undefined {
  const phase = rotationPhase(seen.ca);
  if (phase || !seen.ca) return phase;
  const trusted = new Set(trustKeyIds(seen.ca));
  const stale = [...seen.leaves.values()].some((leaf) =>
    leaf.trustKeyIds.some((keyId) => !trusted.has(keyId))
  );
  return stale ? "DroppingOldCA" : undefined;
}

function operatorManagedCertificates(seen: TLSObservation): CertificateStatus[] {
  const ca = seen.ca;
  if (!needsCA(seen.tls) || !ca) return [];
  const entries: CertificateStatus[] = [{
    secretName: tlsSecretNames.ca(seen.clusterName),
    role: "ca",
    notAfter: iso(ca.current.notAfter),
    renewAt: iso(new Date(ca.current.notAfter.getTime() - seen.tls.policy.caRenewBeforeMs)),
  }];
  for (const want of desiredLeaves(seen, ca.current)) {
    const certificate = seen.leaves.get(want.secretName)?.certificate;
    if (!certificate) continue;
    entries.push({
      secretName: want.secretName,
      role: want.role,
      notAfter: iso(certificate.notAfter),
      renewAt: iso(new Date(certificate.notAfter.getTime() - seen.tls.policy.renewBeforeMs)),
    });
  }
  return entries;
}

export function tlsStatus(seen: TLSObservation): EtcdClusterTLSStatus | undefined {
  if (seen.tls.client.kind === "off" && seen.tls.peer.kind === "off") return undefined;
  const userProvided = [...seen.userProvided].flatMap(([secretName, certificate]) =>
    certificate ? [{ secretName, role: "userProvided", notAfter: iso(certificate.notAfter) }] : []
  );
  const phase = phaseOf(seen);
  return {
    ...(phase ? { caRotationPhase: phase } : {}),
    certificates: [...operatorManagedCertificates(seen), ...userProvided],
  };
}
