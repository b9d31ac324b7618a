// Object URLs (s3://bucket/key?…, gs://bucket/key?…) parsed into locations, and shown back safely.
import {
  brokenRule,
  maxObjectURLLength,
  objectURLRules,
  objectURLTemplateRules,
  regionPattern,
  type URLErrorKind,
  type URLRule,
} from "./url_rules.ts";

export type { URLErrorKind } from "./url_rules.ts";

/** An object in an S3-compatible store, with everything the client needs to reach it. */
export interface S3Location {
  readonly kind: "s3";
  readonly bucket: string;
  readonly key: string;
  /** `undefined` means AWS itself, found from the region. */
  readonly endpoint: string | undefined;
  readonly region: string;
  readonly forcePathStyle: boolean;
}

/** An object in Google Cloud Storage or an emulator of it. */
export interface GcsLocation {
  readonly kind: "gs";
  readonly bucket: string;
  readonly key: string;
  /** Our extension for emulators; `undefined` means `STORAGE_EMULATOR_HOST` or real GCS. */
  readonly endpoint: string | undefined;
}

export type ObjectLocation = S3Location | GcsLocation;

export interface URLError {
  readonly kind: URLErrorKind;
  readonly message: string;
}

export type URLResult =
  | { readonly ok: true; readonly value: ObjectLocation }
  | { readonly ok: false; readonly error: URLError };

/** Reads one environment variable; injected so parsing stays testable without touching Deno.env. */
export type EnvironmentLookup = (name: string) => string | undefined;

const defaultRegion = "us-east-1";

/**
 * Parses an object URL. The grammar (url_rules.ts) decides what is accepted, exactly as the CRDs'
 * CEL rules do; this only takes the accepted text apart. Keys may contain slashes and `%XX`
 * escapes, which are decoded. A missing region comes from `AWS_REGION`, then
 * `AWS_DEFAULT_REGION`, then `us-east-1`.
 */
export function parseObjectURL(
  text: string,
  environment: EnvironmentLookup = (name) => Deno.env.get(name),
): URLResult {
  const refusal = checkAgainst(objectURLRules, text);
  if (refusal) return { ok: false, error: refusal };
  // Split by hand rather than with `URL`: WHATWG parsing would resolve `.`/`..` segments in the
  // key, and the grammar above has already said where each part ends.
  const [, scheme, bucket, path, query = ""] = /^(s3|gs):\/\/([^/?]*)\/([^?]*)(?:\?(.*))?$/
    .exec(text) ?? [];
  const key = decodeURIComponent(path);
  const parameters = new Map(
    query === "" ? [] : query.split("&").map((parameter) => {
      const equals = parameter.indexOf("=");
      return [parameter.slice(0, equals), parameter.slice(equals + 1)] as const;
    }),
  );
  const endpoint = parameters.get("endpoint")?.replace(/\/$/, "");
  if (scheme === "gs") return { ok: true, value: { kind: "gs", bucket, key, endpoint } };
  const region = parameters.get("region") ??
    (environment("AWS_REGION") || environment("AWS_DEFAULT_REGION") || defaultRegion);
  if (!new RegExp(`^${regionPattern}$`).test(region)) {
    return fail(
      "invalidRegion",
      `region ${quote(region)} from the environment is not a region name like eu-west-2`,
    );
  }
  const forcePathStyle = parameters.get("forcePathStyle");
  return {
    ok: true,
    value: {
      kind: "s3",
      bucket,
      key,
      endpoint,
      region,
      // S3-compatible stores (MinIO, Ceph) rarely serve virtual-host buckets; AWS prefers them.
      forcePathStyle: forcePathStyle === undefined
        ? endpoint !== undefined
        : forcePathStyle === "true",
    },
  };
}

/**
 * Checks an EtcdBackup's objectURLTemplate before it is rendered, by the rules the CRD applies;
 * the rendered URL is then parsed with `parseObjectURL` (a field's value can still make it too
 * long).
 */
export function checkObjectURLTemplate(template: string): URLError | undefined {
  return checkAgainst(objectURLTemplateRules, template);
}

function checkAgainst(rules: readonly URLRule[], text: string): URLError | undefined {
  // Counted in code points, as the apiserver counts maxLength.
  if ([...text].length > maxObjectURLLength) {
    return {
      kind: "tooLong",
      message: `the URL must be at most ${maxObjectURLLength} characters long`,
    };
  }
  const rule = brokenRule(rules, text);
  return rule && { kind: rule.kind, message: rule.message };
}

/** A canonical URL for logs, Events and status: never credentials, query in a fixed order. */
export function formatObjectURL(location: ObjectLocation): string {
  const query: [string, string][] = [];
  if (location.endpoint !== undefined) query.push(["endpoint", location.endpoint]);
  if (location.kind === "s3") {
    query.push(["region", location.region]);
    // Only when it differs from what the endpoint implies, so the usual URL stays short.
    if (location.forcePathStyle !== (location.endpoint !== undefined)) {
      query.push(["forcePathStyle", String(location.forcePathStyle)]);
    }
  }
  // Written by hand so an endpoint reads as http://host:9000 rather than http%3A%2F%2F…
  const search = query.map(([name, value]) =>
    `${name}=${value.replace(/[%&#+ ]/g, encodeURIComponent)}`
  );
  return `${location.kind}://${location.bucket}/${encodeKey(location.key)}` +
    (search.length > 0 ? `?${search.join("&")}` : "");
}

function fail(kind: URLErrorKind, message: string): { ok: false; error: URLError } {
  return { ok: false, error: { kind, message } };
}

function quote(text: string): string {
  return JSON.stringify(text);
}

/** Escapes only what would change how the key parses back, so keys stay readable in logs. */
function encodeKey(key: string): string {
  return encodeURI(key).replace(/[?#]/g, encodeURIComponent);
}
