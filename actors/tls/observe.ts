// Which Secrets each member mounts and the operator dials with, and the planner's view of them.
// Pure but for WebCrypto digests: the caller hands in the Secrets it read.
import { tlsSecretNames } from "../member.ts";
import type { PeerTLS } from "../types.ts";
import type { SecretObject } from "../types.ts";
import type { CertificateFacts, LeafSecretView, MemberTLSView, TLSObservation } from "./plan.ts";
import {
  factsOf,
  firstCertificate,
  keys,
  readCASecret,
  readLeafSecret,
  type SecretText,
  tlsDigest,
} from "./secrets.ts";
import { needsCA, type ResolvedTLS } from "./settings.ts";

/** A Secret's content as text (the API's base64 decoded), and its annotations. */
export interface SecretContentView {
  readonly data: SecretText;
  readonly annotations: Readonly<Record<string, string>>;
  readonly resourceVersion?: string;
}

/** A Secret from the API as text; PEM is ASCII, so base64 decodes straight to it. */
export function decodeSecret(secret: SecretObject | undefined): SecretContentView | undefined {
  if (!secret) return undefined;
  const data: Record<string, string> = {};
  for (const [key, value] of Object.entries(secret.data ?? {})) {
    try {
      data[key] = atob(value);
    } catch {
      // Not base64: read as missing, which the planner treats as unreadable.
    }
  }
  return {
    data,
    annotations: { ...secret.metadata.annotations },
    ...(secret.metadata.resourceVersion
      ? { resourceVersion: secret.metadata.resourceVersion }
      : {}),
  };
}

/** The API's `data` for Secret text. */
export function encodeSecretData(data: SecretText): Record<string, string> {
  return Object.fromEntries(
    Object.entries(data).filter(([, value]) => value !== undefined).map((
      [key, value],
    ) => [key, btoa(value)]),
  );
}

/** The Secret each port of a member mounts (EtcdPeer.spec.tls); undefined: plain HTTP. */
export function memberSecrets(tls: ResolvedTLS, peerName: string): PeerTLS | undefined {
  const secretOf = (port: ResolvedTLS["client"]) =>
    port.kind === "operatorManaged"
      ? { secretName: tlsSecretNames.member(peerName) }
      : port.kind === "userProvided"
      ? { secretName: port.secretNames[0] }
      : undefined;
  const client = secretOf(tls.client);
  const peer = secretOf(tls.peer);
  if (!client && !peer) return undefined;
  return { ...(client ? { client } : {}), ...(peer ? { peer } : {}) };
}

/** The Secret with the client certificate the operator dials the members with, if TLS is on. */
export function operatorClientSecret(tls: ResolvedTLS, clusterName: string): string | undefined {
  if (tls.client.kind === "operatorManaged") return tlsSecretNames.operatorClient(clusterName);
  if (tls.client.kind === "userProvided") return tls.client.secretNames[1];
  return undefined;
}

/** Every Secret a cluster's TLS reads: the CA, the leaves it issues, the user's. */
export function leafSecretNames(
  tls: ResolvedTLS,
  clusterName: string,
  peerNames: readonly string[],
): string[] {
  if (!needsCA(tls)) return [];
  return [
    ...peerNames.map((peerName) => tlsSecretNames.member(peerName)),
    ...(tls.client.kind === "operatorManaged"
      ? [tlsSecretNames.operatorClient(clusterName), tlsSecretNames.applicationClient(clusterName)]
      : []),
  ];
}

export function userProvidedSecretNames(tls: ResolvedTLS): string[] {
  return [
    ...(tls.client.kind === "userProvided" ? tls.client.secretNames : []),
    ...(tls.peer.kind === "userProvided" ? tls.peer.secretNames : []),
  ];
}

/** A member as the cluster actor sees it; `runningDigest` read from its running pod. */
export interface MemberInput {
  readonly peerName: string;
  readonly leader: boolean;
  readonly healthy: boolean;
  readonly runningDigest?: string;
}

export interface TLSInputs {
  readonly now: Date;
  readonly clusterName: string;
  readonly namespace: string;
  readonly tls: ResolvedTLS;
  readonly members: readonly MemberInput[];
  readonly secret: (name: string) => SecretContentView | undefined;
}

/** The digest of what a member's Secrets hold now (actors/tls/secrets.ts `tlsDigest`). */
export async function desiredDigest(
  tls: ResolvedTLS,
  peerName: string,
  secret: (name: string) => SecretContentView | undefined,
): Promise<string> {
  const mounted = memberSecrets(tls, peerName);
  return await tlsDigest(
    [mounted?.client, mounted?.peer].map((port) =>
      port ? secret(port.secretName)?.data : undefined
    ),
  );
}

export async function tlsObservation(inputs: TLSInputs): Promise<TLSObservation> {
  const { tls, clusterName, secret } = inputs;
  const caSecret = needsCA(tls) ? secret(tlsSecretNames.ca(clusterName)) : undefined;
  const ca = caSecret ? readCASecret(caSecret.data, caSecret.annotations) : undefined;
  const leaves = new Map<string, LeafSecretView>();
  const peerNames = inputs.members.map((member) => member.peerName);
  for (const name of leafSecretNames(tls, clusterName, peerNames)) {
    leaves.set(name, readLeafSecret(secret(name)?.data));
  }
  const userProvided = new Map<string, CertificateFacts | undefined>();
  for (const name of userProvidedSecretNames(tls)) {
    const data = secret(name)?.data;
    const certificate = firstCertificate(data?.[keys.certificate]);
    userProvided.set(
      name,
      certificate && data?.[keys.privateKey] ? factsOf(certificate) : undefined,
    );
  }
  const members: MemberTLSView[] = [];
  for (const member of inputs.members) {
    members.push({
      peerName: member.peerName,
      leader: member.leader,
      healthy: member.healthy,
      ...(member.runningDigest !== undefined ? { runningDigest: member.runningDigest } : {}),
      desiredDigest: await desiredDigest(tls, member.peerName, secret),
    });
  }
  return {
    now: inputs.now,
    clusterName,
    namespace: inputs.namespace,
    tls,
    members,
    ...(ca ? { ca } : {}),
    leaves,
    userProvided,
  };
}

/** The operator's client certificate and trust bundle from its Secret, once it holds all three. */
export function clientMaterial(
  secret: SecretContentView | undefined,
): { readonly ca: string; readonly cert: string; readonly key: string } | undefined {
  const ca = secret?.data[keys.trustBundle];
  const cert = secret?.data[keys.certificate];
  const key = secret?.data[keys.privateKey];
  return ca && cert && key ? { ca, cert, key } : undefined;
}
