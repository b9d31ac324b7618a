// `spec.tls` with its defaults applied: which ports have TLS, who keeps the certificates, how long
// operator-issued ones live and when they are renewed. Pure.
import type { EtcdClusterTLS } from "../types.ts";

/** Go's duration syntax as the CRD takes it (`2160h`, `90m`, `1h30m`), in milliseconds. */
export function parseDuration(text: string): number | undefined {
  const units: Record<string, number> = {
    ns: 1e-6,
    us: 1e-3,
    "µs": 1e-3,
    ms: 1,
    s: 1000,
    m: 60_000,
    h: 3_600_000,
  };
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(text)) return undefined;
  let total = 0;
  for (const match of text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) {
    total += Number(match[1]) * units[match[2]];
  }
  return total;
}

/** The defaults the CRD documents; `kubectl explain etcdcluster.spec.tls.certificates` shows them. */
export const certificateDefaults = {
  /** Leaf certificates (members, the operator's and the applications' clients) live 90 days… */
  validity: "2160h",
  /** …and are renewed 30 days before they expire. */
  renewBefore: "720h",
  /** The CA lives 10 years… */
  caValidity: "87600h",
  /** …and is rotated (with an overlap) 1 year before it expires. */
  caRenewBefore: "8760h",
} as const;

/** How far back a new certificate's notBefore is set, so members with a slow clock accept it. */
export const clockSkewAllowance = 5 * 60_000;

export interface CertificatePolicy {
  readonly validityMs: number;
  readonly renewBeforeMs: number;
  readonly caValidityMs: number;
  readonly caRenewBeforeMs: number;
  /** Raised by the user to ask for a CA rotation now. */
  readonly caRotation: number;
}

export type PortTLS =
  | { readonly kind: "off" }
  | { readonly kind: "operatorManaged" }
  | { readonly kind: "userProvided"; readonly secretNames: readonly string[] };

export interface ResolvedTLS {
  readonly client: PortTLS;
  readonly peer: PortTLS;
  readonly policy: CertificatePolicy;
}

function durationOr(text: string | undefined, fallback: string): number {
  // The CRD rejects a malformed duration, so the fallback only guards hand-made objects.
  return parseDuration(text ?? fallback) ?? parseDuration(fallback)!;
}

/** `spec.tls` as the planner reads it. No `spec.tls` is plain HTTP on both ports. */
export function resolveTLS(tls: EtcdClusterTLS | undefined): ResolvedTLS {
  const certificates = tls?.certificates;
  return {
    client: !tls?.client ? { kind: "off" } : tls.client.userProvided
      ? {
        kind: "userProvided",
        secretNames: [
          tls.client.userProvided.serverSecretName,
          tls.client.userProvided.operatorSecretName,
        ],
      }
      : { kind: "operatorManaged" },
    peer: !tls?.peer
      ? { kind: "off" }
      : tls.peer.userProvided
      ? { kind: "userProvided", secretNames: [tls.peer.userProvided.secretName] }
      : { kind: "operatorManaged" },
    policy: {
      validityMs: durationOr(certificates?.validity, certificateDefaults.validity),
      renewBeforeMs: durationOr(certificates?.renewBefore, certificateDefaults.renewBefore),
      caValidityMs: durationOr(certificates?.caValidity, certificateDefaults.caValidity),
      caRenewBeforeMs: durationOr(certificates?.caRenewBefore, certificateDefaults.caRenewBefore),
      caRotation: certificates?.caRotation ?? 0,
    },
  };
}

/** Whether the operator keeps a CA for this cluster (either port is operator-managed). */
export const needsCA = (tls: ResolvedTLS) =>
  tls.client.kind === "operatorManaged" || tls.peer.kind === "operatorManaged";
