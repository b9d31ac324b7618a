// What a tenant's object may make the operator read, dial or authenticate with. Pure.
//
// The operator runs with one identity for many namespaces. Everything it does on behalf of an
// object must stay inside that object's namespace: a backup's source is a member of an EtcdCluster
// in the backup's own namespace, Secrets are read from that namespace only, and the operator's own
// (ambient) credentials are never used for an object unless the administrator allowed it, and then
// never sent to an endpoint that the object names. docs/tenancy.md gives the rules and why.
import type { ObjectLocation } from "../objectstore/url.ts";
import { clientServiceName } from "./member.ts";

/** What the administrator allowed beyond the namespace rules, from the operator's flags. */
export interface TenancySettings {
  /** `--allow-external-backup-sources`: a backup may name an etcd outside its namespace's clusters. */
  readonly allowExternalBackupSources: boolean;
  /** `--allow-ambient-credentials`: an object without a Secret may use the operator's own. */
  readonly allowAmbientCredentials: boolean;
  /**
   * `--ambient-credentials-endpoint` (repeatable): custom endpoints the operator's own credentials
   * may also be sent to (an in-house MinIO), as written in the object URL's `endpoint`.
   */
  readonly ambientCredentialsEndpoints: readonly string[];
}

/** The default: every object confined to its namespace, the operator's credentials its own. */
export const strictTenancy: TenancySettings = {
  allowExternalBackupSources: false,
  allowAmbientCredentials: false,
  ambientCredentialsEndpoints: [],
};

export type TenancyRefusalReason =
  /** The backup's source is not an etcd member of a cluster in the backup's namespace. */
  | "SourceOutsideNamespace"
  /** No Secret named, and the operator's own credentials may not be used for this object. */
  | "AmbientCredentialsRefused";

export interface TenancyRefusal {
  readonly kind: "refused";
  readonly reason: TenancyRefusalReason;
  readonly message: string;
}

/** One way to read a source host: a member, or a Service of a cluster, in the backup's namespace. */
export interface SourceReading {
  readonly clusterName: string;
  /** Set when the host names one member (`<peer>.<cluster>…`); else any member of the cluster. */
  readonly peerName?: string;
}

export type SourceJudgement =
  /** Dial the IP of a running pod of the first reading that has one (never a DNS answer). */
  | { readonly kind: "inNamespace"; readonly readings: readonly SourceReading[] }
  /** Allowed by `--allow-external-backup-sources`: dial the URL as written. */
  | { readonly kind: "external" }
  | TenancyRefusal;

/**
 * Judges `spec.source.clusterURL` of a backup in `namespace`. A host is read as the operator's
 * own names for members and Services (actors/member.ts):
 * `<peer>.<cluster>.<ns>.svc[.<domain>]`, `<cluster>[-client].<ns>.svc[.<domain>]`, and the
 * relative forms `<peer>.<cluster>[.<ns>]`, `<cluster>[-client][.<ns>]` read in the backup's own
 * namespace. A name that spells another namespace is refused; so is any other host (an IP address,
 * an outside name) unless the administrator allowed external sources. Only the readings are
 * decided here: the caller dials the IP of a pod it has seen in the namespace, so a DNS record the
 * tenant controls (an ExternalName Service, hand-made Endpoints) never decides where we connect.
 */
export function judgeBackupSource(
  clusterURL: string,
  namespace: string,
  settings: TenancySettings,
): SourceJudgement {
  let host: string;
  try {
    host = new URL(clusterURL).hostname.toLowerCase().replace(/\.$/, "");
  } catch {
    return sourceRefused(namespace, `${JSON.stringify(clusterURL)} is not a URL`);
  }
  const named = readHost(host, namespace);
  if (named.kind === "otherNamespace" || named.kind === "internalUnknown") {
    const which = named.kind === "otherNamespace"
      ? `names namespace ${named.namespace}`
      : "is a cluster-internal name but not one of an etcd member or Service";
    return sourceRefused(
      namespace,
      `${host} ${which}, and a backup may only read an etcd cluster in its own namespace`,
    );
  }
  if (named.kind === "readings") {
    return { kind: "inNamespace", readings: named.readings };
  }
  if (settings.allowExternalBackupSources) return { kind: "external" };
  return sourceRefused(
    namespace,
    `${host} is not the name of an etcd member or Service in namespace ${namespace} (addresses ` +
      `outside it are allowed only when the operator runs with --allow-external-backup-sources)`,
  );
}

type HostReading =
  | { readonly kind: "readings"; readonly readings: SourceReading[] }
  | { readonly kind: "otherNamespace"; readonly namespace: string }
  | { readonly kind: "internalUnknown" }
  | { readonly kind: "other" };

const dnsLabel = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function readHost(host: string, namespace: string): HostReading {
  if (host.startsWith("[") || /^[0-9.]+$/.test(host)) return { kind: "other" };
  const labels = host.split(".");
  if (!labels.every((label) => dnsLabel.test(label))) return { kind: "other" };
  // `<…>.svc[.<domain>]`: fully qualified, the namespace is the label before "svc".
  const internal = (readings: SourceReading[], ns: string): HostReading =>
    ns === namespace ? { kind: "readings", readings } : {
      kind: "otherNamespace",
      namespace: ns,
    };
  const svc = labels.indexOf("svc");
  if (svc === 3) return internal([member(labels[0], labels[1])], labels[2]);
  if (svc === 2) return internal(services(labels[0]), labels[1]);
  // Any other cluster-internal name (a pod's `<ip>.<ns>.pod…` record, a malformed `.svc` one) is
  // no etcd member of ours, and is never "outside" the cluster either.
  if (svc >= 0 || labels.includes("pod")) return { kind: "internalUnknown" };
  switch (labels.length) {
    case 1:
      return { kind: "readings", readings: services(labels[0]) };
    case 2:
      // As a pod in this namespace resolves it: a member of cluster labels[1] here; the other
      // reading (Service labels[0] in namespace labels[1]) counts only for this very namespace.
      return {
        kind: "readings",
        readings: [
          member(labels[0], labels[1]),
          ...(labels[1] === namespace ? services(labels[0]) : []),
        ],
      };
    case 3:
      // `<peer>.<cluster>.<ns>` as etcd members advertise themselves; another namespace's label
      // here is more likely an outside name (etcd.example.com), judged as such.
      return labels[2] === namespace
        ? { kind: "readings", readings: [member(labels[0], labels[1])] }
        : { kind: "other" };
    default:
      return { kind: "other" };
  }
}

function member(peerName: string, clusterName: string): SourceReading {
  return { clusterName, peerName };
}

/** A Service name: the cluster's headless Service `<cluster>`, or its client Service. */
function services(name: string): SourceReading[] {
  const suffix = clientServiceName("");
  return [
    { clusterName: name },
    ...(name.endsWith(suffix) && name.length > suffix.length
      ? [{ clusterName: name.slice(0, -suffix.length) }]
      : []),
  ];
}

function sourceRefused(namespace: string, why: string): TenancyRefusal {
  return {
    kind: "refused",
    reason: "SourceOutsideNamespace",
    message: `refused: ${why}; spec.source.clusterURL must name a member of an EtcdCluster in ` +
      `namespace ${namespace}, for example http://my-cluster-0.my-cluster.${namespace}.svc:2379; ` +
      `nothing was read or uploaded`,
  };
}

export type CredentialsJudgement =
  /** Read this Secret, in the object's own namespace. */
  | { readonly kind: "secret"; readonly name: string }
  /** Send no credentials at all (a gs:// emulator or other custom endpoint). */
  | { readonly kind: "anonymous" }
  /** The operator's own environment, allowed by the administrator for this endpoint. */
  | { readonly kind: "ambient" }
  | TenancyRefusal;

/**
 * Which credentials an object's transfer to `location` may use. A named Secret is the tenant's
 * own: it goes to whatever endpoint the tenant chose. Without one, the operator's own credentials
 * (AWS_* variables, profiles, instance or pod roles, Google application default credentials,
 * `GOOGLE_APPLICATION_CREDENTIALS_JSON`) are used only when the administrator allowed it, and only
 * for the provider's own endpoints or endpoints the administrator listed; a gs:// URL with another
 * endpoint is then reached with no credentials, as emulators expect; anything else is refused.
 */
export function judgeCredentials(
  location: ObjectLocation,
  secretName: string | undefined,
  namespace: string,
  settings: TenancySettings,
): CredentialsJudgement {
  if (secretName !== undefined) return { kind: "secret", name: secretName };
  const endpoint = location.endpoint;
  const providers = location.kind === "s3" ? "AWS" : "Google Cloud Storage";
  const listed = endpoint !== undefined && settings.ambientCredentialsEndpoints.includes(endpoint);
  if (settings.allowAmbientCredentials && (isProviderEndpoint(location) || listed)) {
    return { kind: "ambient" };
  }
  if (location.kind === "gs" && endpoint !== undefined && !isProviderEndpoint(location)) {
    return { kind: "anonymous" };
  }
  const secretHint = location.kind === "s3"
    ? "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    : "GOOGLE_APPLICATION_CREDENTIALS_JSON";
  const why = !settings.allowAmbientCredentials
    ? `spec.credentialsSecretRef is not set, and the operator lends its own credentials to no ` +
      `object (an administrator may allow that for ${providers}'s own endpoints with ` +
      `--allow-ambient-credentials)`
    : `spec.credentialsSecretRef is not set, and the operator's own credentials are never sent ` +
      `to an endpoint an object names (${endpoint}) unless the administrator listed it with ` +
      `--ambient-credentials-endpoint`;
  return {
    kind: "refused",
    reason: "AmbientCredentialsRefused",
    message: `refused: ${why}; create a Secret in namespace ${namespace} with ${secretHint} and ` +
      `name it in spec.credentialsSecretRef; nothing was read or uploaded`,
  };
}

/** No endpoint (the SDK's default), or one of the provider's own hosts over https. */
export function isProviderEndpoint(location: ObjectLocation): boolean {
  if (location.endpoint === undefined) return true;
  let url: URL;
  try {
    url = new URL(location.endpoint);
  } catch {
    return false;
  }
  if (url.protocol !== "https:" || url.port !== "") return false;
  const domains = location.kind === "s3"
    ? ["amazonaws.com", "amazonaws.com.cn"]
    : ["googleapis.com"];
  const host = url.hostname.toLowerCase();
  return domains.some((domain) => host === domain || host.endsWith(`.${domain}`));
}

/**
 * Removes what must never reach an Event, condition or log from a message an SDK or server wrote:
 * presigned-URL signatures, upload session ids, tokens and `user:password@` in URLs.
 */
export function redactSecrets(message: string): string {
  return message
    .replace(/(\/\/)[^/@\s]*:[^/@\s]*@/g, "$1[redacted]@")
    .replace(
      /([?&](?:X-Amz-[A-Za-z-]+|X-Goog-[A-Za-z-]+|Signature|AWSAccessKeyId|Expires|upload_id|uploadId|access_token|token|key|sig)=)[^&\s"':]*/gi,
      "$1[redacted]",
    )
    .replace(/(Bearer\s+)[A-Za-z0-9._~+/=-]+/gi, "$1[redacted]");
}
