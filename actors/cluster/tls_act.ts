// The certificates' steps carried out: Secrets written (new keys signed by pki/), members restarted.
// Events name Secrets, subjects, serials and dates; never a key, never a Secret's content.
import { resources } from "../../k8s/resources.ts";
import type { K8sResult } from "../../k8s/errors.ts";
import { clusterLabels, ownerReference, tlsDigestAnnotation, tlsSecretNames } from "../member.ts";
import { applyCAStep, issueLeaf, updateTrust } from "../tls/issue.ts";
import { encodeSecretData, type SecretContentView } from "../tls/observe.ts";
import type { TLSStep } from "../tls/plan.ts";
import { firstCertificate, keys, type SecretText } from "../tls/secrets.ts";
import type { EtcdClusterObject, EventSink, SecretObject } from "../types.ts";
import type { ClusterKube } from "./actor.ts";

export type TLSStepOutcome = { readonly ok: true } | {
  readonly ok: false;
  readonly message: string;
  readonly retry: boolean;
};

export interface TLSActContext {
  readonly cluster: EtcdClusterObject;
  readonly kube: ClusterKube;
  readonly events: EventSink;
  /** A Secret as the cache holds it, raw (for a conditional replace) and as text. */
  readonly secret: (name: string) => SecretObject | undefined;
  readonly secretText: (name: string) => SecretContentView | undefined;
}

const ok: TLSStepOutcome = { ok: true };

function outcomeOf(result: K8sResult<unknown>): TLSStepOutcome {
  if (result.ok) return ok;
  return {
    ok: false,
    message: result.error.message,
    retry: result.error.kind !== "invalid" && result.error.kind !== "forbidden",
  };
}

/** What an Event may say about a certificate: its subject, serial and expiry. */
function describe(data: SecretText, key: string = keys.certificate): string {
  const certificate = firstCertificate(data[key]);
  if (!certificate) return "a certificate";
  return `CN=${
    certificate.subject.commonName ?? ""
  } serial ${certificate.serialHex}, valid until ` +
    certificate.notAfter.toISOString();
}

/**
 * Writes a Secret: created when the cache has none (an existing one means the cache lags: the next
 * pass sees it), replaced only at the version read, so a write planned from an old view conflicts
 * instead of undoing a newer one.
 */
async function writeSecret(
  context: TLSActContext,
  name: string,
  data: SecretText,
  annotations: Readonly<Record<string, string>> = {},
): Promise<{ readonly outcome: TLSStepOutcome; readonly written: boolean }> {
  const { cluster } = context;
  const existing = context.secret(name);
  if (!existing) {
    const created = await context.kube.create(resources.secrets, {
      apiVersion: "v1",
      kind: "Secret",
      type: "kubernetes.io/tls",
      metadata: {
        name,
        namespace: cluster.metadata.namespace,
        labels: clusterLabels(cluster.metadata.name),
        annotations: { ...annotations },
        ownerReferences: [ownerReference("EtcdCluster", cluster.metadata)],
      },
      data: encodeSecretData(data),
    } as SecretObject);
    if (!created.ok && created.error.kind === "alreadyExists") {
      return { outcome: ok, written: false };
    }
    return { outcome: outcomeOf(created), written: created.ok };
  }
  const replaced = await context.kube.replace(resources.secrets, {
    ...existing,
    metadata: {
      ...existing.metadata,
      annotations: { ...existing.metadata.annotations, ...annotations },
    },
    data: encodeSecretData(data),
  } as SecretObject);
  return { outcome: outcomeOf(replaced), written: replaced.ok };
}

/** One Secret step of the certificates' plan. */
export async function actOnSecretStep(
  step: TLSStep,
  context: TLSActContext,
): Promise<TLSStepOutcome> {
  const clusterName = context.cluster.metadata.name;
  const caName = tlsSecretNames.ca(clusterName);
  const record = (reason: string, message: string) =>
    context.events.record(context.cluster, "Normal", reason, message);
  switch (step.kind) {
    case "issueCA":
    case "startCARotation":
    case "promoteNextCA":
    case "dropPreviousCA": {
      const current = context.secretText(caName);
      if (step.kind !== "issueCA" && !current) {
        return { ok: false, message: `Secret ${caName} is not in the cache`, retry: true };
      }
      const content = await applyCAStep(step, current);
      const { outcome, written } = await writeSecret(
        context,
        caName,
        content.data,
        content.annotations,
      );
      if (!written) return outcome;
      if (step.kind === "issueCA") {
        record(
          "CertificateIssued",
          `issued the CA into Secret ${caName}: ${describe(content.data)}`,
        );
      } else if (step.kind === "startCARotation") {
        record(
          "CARotationStarted",
          `rotating the CA (${step.reason}): phase TrustingNewCA, new CA ` +
            `${describe(content.data, keys.nextCertificate)} trusted beside the old one`,
        );
      } else if (step.kind === "promoteNextCA") {
        record(
          "CARotationPhase",
          `phase ReissuingFromNewCA: the new CA signs from now on; every certificate is re-issued`,
        );
      } else {
        record("CARotationPhase", "phase DroppingOldCA: the old CA is no longer trusted");
      }
      return outcome;
    }
    case "issueLeaf": {
      const ca = context.secretText(caName);
      if (!ca) return { ok: false, message: `Secret ${caName} is not in the cache`, retry: true };
      const data = await issueLeaf(step.issue, ca.data);
      const secretName = step.issue.secretName;
      const renewal = context.secret(secretName) !== undefined;
      const { outcome, written } = await writeSecret(context, secretName, data);
      if (written) {
        record(
          renewal ? "CertificateRenewed" : "CertificateIssued",
          `${renewal ? `renewed (${step.reason})` : "issued"} the ${step.issue.role} ` +
            `certificate in Secret ${secretName}: ${describe(data)}`,
        );
      }
      return outcome;
    }
    case "updateTrust": {
      const ca = context.secretText(caName);
      const leaf = context.secretText(step.secretName);
      if (!ca || !leaf) {
        return { ok: false, message: `Secret ${step.secretName} is not in the cache`, retry: true };
      }
      const { outcome, written } = await writeSecret(
        context,
        step.secretName,
        updateTrust(leaf.data, ca.data),
      );
      if (written) {
        record(
          "CertificateTrustUpdated",
          `Secret ${step.secretName} trusts the CA bundle of ${caName}`,
        );
      }
      return outcome;
    }
    case "restartMember":
    case "wait":
      return ok;
  }
}

/**
 * Restarts a member onto its Secrets' current content: the digest is recorded on its EtcdPeer and
 * its ReplicaSet deleted; the peer actor re-creates it (once the old pod is gone, so two etcd
 * processes never share the volume) with the digest on the new pod. A retry after a crash in
 * between finds the pod still on the old digest and does the same again.
 */
export async function restartMember(
  step: Extract<TLSStep, { kind: "restartMember" }>,
  context: TLSActContext,
): Promise<TLSStepOutcome> {
  const target = { namespace: context.cluster.metadata.namespace, name: step.peerName };
  const patched = await context.kube.mergePatch(resources.etcdPeers, target, {
    metadata: { annotations: { [tlsDigestAnnotation]: step.digest } },
  });
  if (!patched.ok) return outcomeOf(patched);
  const deleted = await context.kube.delete(resources.replicaSets, target, {
    propagationPolicy: "Background",
  });
  if (!deleted.ok && deleted.error.kind !== "notFound") return outcomeOf(deleted);
  context.events.record(
    context.cluster,
    "Normal",
    "MemberRestartedForTLS",
    `restarting ${step.peerName}: ${step.reason}`,
  );
  return ok;
}
