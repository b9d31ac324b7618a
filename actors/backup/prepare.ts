// Everything a backup needs before a byte moves: its object URL, credentials and etcd endpoint.
import type { KubeClient } from "../../k8s/client.ts";
import { resources } from "../../k8s/resources.ts";
import {
  credentialsFromEnvironment,
  credentialsFromSecret,
  type CredentialsSource,
  decodeSecretData,
  formatObjectURL,
  type ObjectLocation,
  type ObjectMetadata,
  parseObjectURL,
} from "../../objectstore/mod.ts";
import type { MemberAccess } from "../member_dialer.ts";
import type { EtcdBackupObject, PodObject, SecretObject } from "../types.ts";
import { judgeCredentials, strictTenancy, type TenancySettings } from "../tenancy.ts";
import { type NamedTarget, snapshotEndpoint } from "./endpoint.ts";
import type { ClientTLS } from "../../etcd/client.ts";
import type { EtcdClusterObject } from "../types.ts";
import { clientServiceName, peerHost } from "../member.ts";
import { clientMaterial, decodeSecret, operatorClientSecret } from "../tls/observe.ts";
import { resolveTLS } from "../tls/settings.ts";
import {
  type BackupFailure,
  credentialsFailure,
  noPodFailure,
  refusedFailure,
  secretFailure,
  templateFailure,
  urlFailure,
} from "./failure.ts";
import { renderObjectURL } from "./template.ts";
import { writerMetadata } from "../snapshot_source.ts";

export interface PreparedBackup {
  readonly location: ObjectLocation;
  /** The canonical rendered URL: what status and Events show (URLs never carry credentials). */
  readonly objectURL: string;
  readonly credentials: CredentialsSource;
  readonly clusterURL: string;
  /** Where to dial etcd: `clusterURL`, or a pod IP or port-forward standing in for its name. */
  readonly endpoint: string;
  /** Stored with the object: which EtcdBackup wrote it (see `writerMetadata`). */
  readonly metadata: ObjectMetadata;
  /** For an `https://` cluster of ours: the operator's client certificate for it. */
  readonly tls?: ClientTLS;
}

export type Preparation =
  | { readonly kind: "ready"; readonly backup: PreparedBackup }
  /** Final: the backup fails with this; `objectURL` when the template rendered. */
  | { readonly kind: "failed"; readonly failure: BackupFailure; readonly objectURL?: string }
  /** The API server did not answer; try again shortly. */
  | { readonly kind: "retry"; readonly message: string };

export interface PrepareDeps {
  readonly kube: Pick<KubeClient, "get">;
  readonly pods: readonly PodObject[];
  readonly memberAccess: MemberAccess;
  readonly environment?: (name: string) => string | undefined;
  /** What the administrator allowed beyond the namespace rules; strict by default. */
  readonly tenancy?: TenancySettings;
}

export async function prepareBackup(
  backup: EtcdBackupObject,
  deps: PrepareDeps,
): Promise<Preparation> {
  const { metadata, spec } = backup;
  const rendered = renderObjectURL(spec.destination.objectURLTemplate, {
    UID: metadata.uid,
    Name: metadata.name,
    Namespace: metadata.namespace,
    CreationTimestamp: metadata.creationTimestamp ?? "",
  });
  if (!rendered.ok) return { kind: "failed", failure: templateFailure(rendered.error) };
  const parsed = parseObjectURL(rendered.value, deps.environment);
  if (!parsed.ok) return { kind: "failed", failure: urlFailure(parsed.error) };
  const location = parsed.value;
  const objectURL = formatObjectURL(location);
  // The rules first: a refused backup reads no Secret and dials nothing.
  const clusterURL = spec.source.clusterURL;
  const tenancy = deps.tenancy ?? strictTenancy;
  const endpoint = snapshotEndpoint(
    deps.memberAccess.mode,
    clusterURL,
    metadata.namespace,
    deps.pods,
    tenancy,
  );
  if (endpoint.kind === "refused") {
    return { kind: "failed", failure: refusedFailure(endpoint), objectURL };
  }
  // Decided from the spec alone, so a refusal does not wait for (or hide behind) a missing pod.
  const allowed = judgeCredentials(
    location,
    spec.credentialsSecretRef?.name,
    metadata.namespace,
    tenancy,
  );
  if (allowed.kind === "refused") {
    return { kind: "failed", failure: refusedFailure(allowed), objectURL };
  }
  if (endpoint.kind === "noPod") {
    return { kind: "failed", failure: noPodFailure(clusterURL, endpoint.message), objectURL };
  }
  const credentials = await readCredentials(backup, location, deps);
  if (credentials.kind === "retry") return credentials;
  if (credentials.kind === "failed") {
    return { kind: "failed", failure: credentials.failure, objectURL };
  }
  const tls = clusterURL.startsWith("https:") && endpoint.target
    ? await readClusterTLS(endpoint.target, deps)
    : undefined;
  if (tls?.kind === "retry") return tls;
  return {
    kind: "ready",
    backup: {
      location,
      objectURL,
      credentials: credentials.credentials,
      clusterURL,
      endpoint: endpoint.kind === "dial"
        ? endpoint.url
        : deps.memberAccess.urlOf({ kind: "forward", pod: endpoint.pod, port: endpoint.port }),
      metadata: writerMetadata(backup),
      ...(tls?.kind === "ready" ? { tls: tls.tls } : {}),
    },
  };
}

/**
 * The operator's client certificate for one of its TLS clusters, verifying the member (or the
 * client Service) by the name its certificate has, whatever host the URL spells. A cluster
 * without client TLS, or not ours, is dialled without one.
 */
async function readClusterTLS(
  target: NamedTarget,
  deps: PrepareDeps,
): Promise<
  { readonly kind: "ready"; readonly tls: ClientTLS } | { readonly kind: "none" } | {
    readonly kind: "retry";
    readonly message: string;
  }
> {
  const cluster = await deps.kube.get<EtcdClusterObject>(resources.etcdClusters, {
    namespace: target.namespace,
    name: target.clusterName,
  });
  if (!cluster.ok) {
    return cluster.error.kind === "transient"
      ? { kind: "retry", message: cluster.error.message }
      : { kind: "none" };
  }
  const secretName = operatorClientSecret(
    resolveTLS(cluster.value.spec.tls),
    target.clusterName,
  );
  if (!secretName) return { kind: "none" };
  const secret = await deps.kube.get<SecretObject>(resources.secrets, {
    namespace: target.namespace,
    name: secretName,
  });
  const material = secret.ok ? clientMaterial(decodeSecret(secret.value)) : undefined;
  if (!material) {
    return {
      kind: "retry",
      message: `Secret ${target.namespace}/${secretName} holds no client certificate yet`,
    };
  }
  const serverName = target.peerName
    ? peerHost(target.clusterName, target.namespace, target.peerName)
    : `${clientServiceName(target.clusterName)}.${target.namespace}.svc`;
  return { kind: "ready", tls: { ...material, serverName } };
}

export type CredentialsRead =
  | { readonly kind: "ready"; readonly credentials: CredentialsSource }
  | { readonly kind: "failed"; readonly failure: BackupFailure }
  | { readonly kind: "retry"; readonly message: string };

/**
 * spec.credentialsSecretRef with one GET in the backup's own namespace (the operator may not list
 * Secrets); without one, no credentials or the operator's own, as actors/tenancy.ts allows. Also
 * what a schedule deletes a pruned backup's object with: the credentials that wrote it.
 */
export async function readCredentials(
  backup: EtcdBackupObject,
  location: ObjectLocation,
  deps: Pick<PrepareDeps, "kube" | "environment" | "tenancy">,
): Promise<CredentialsRead> {
  const namespace = backup.metadata.namespace;
  const judged = judgeCredentials(
    location,
    backup.spec.credentialsSecretRef?.name,
    namespace,
    deps.tenancy ?? strictTenancy,
  );
  if (judged.kind === "refused") return { kind: "failed", failure: refusedFailure(judged) };
  if (judged.kind === "anonymous") {
    return { kind: "ready", credentials: anonymousCredentials(location) };
  }
  if (judged.kind === "ambient") {
    const fromEnvironment = credentialsFromEnvironment(location, deps.environment);
    return fromEnvironment.ok ? { kind: "ready", credentials: fromEnvironment.value } : {
      kind: "failed",
      failure: credentialsFailure(fromEnvironment.error, "the operator's environment"),
    };
  }
  const secret = await deps.kube.get<SecretObject>(resources.secrets, {
    namespace,
    name: judged.name,
  });
  if (!secret.ok) {
    if (secret.error.kind === "transient") return { kind: "retry", message: secret.error.message };
    return { kind: "failed", failure: secretFailure(secret.error, namespace, judged.name) };
  }
  const fromSecret = credentialsFromSecret(location, decodeSecretData(secret.value.data ?? {}));
  return fromSecret.ok ? { kind: "ready", credentials: fromSecret.value } : {
    kind: "failed",
    failure: credentialsFailure(fromSecret.error, `Secret ${namespace}/${judged.name}`),
  };
}

/** No credentials at all: only for a gs:// custom endpoint, which the library then does not sign. */
function anonymousCredentials(location: ObjectLocation): CredentialsSource {
  if (location.kind !== "gs") throw new Error("anonymous access is only decided for gs:// URLs");
  return { kind: "gcs", anonymous: true };
}
