// Object URLs (s3://bucket/key?…, gs://bucket/key?…) parsed into locations, and shown back safely.

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

export type URLErrorKind =
  | "malformed"
  | "unknownScheme"
  | "credentialsInURL"
  | "missingBucket"
  | "missingKey"
  | "unknownParameter"
  | "repeatedParameter"
  | "invalidEndpoint"
  | "invalidRegion"
  | "invalidBoolean";

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

const parametersByScheme = {
  s3: ["endpoint", "region", "forcePathStyle"],
  gs: ["endpoint"],
} as const;

type Scheme = keyof typeof parametersByScheme;

/**
 * Splits by hand rather than with `URL`: for `s3:` and `gs:` WHATWG parsing would quietly resolve
 * `.`/`..` segments in the key and accept a port or user info, and we want none of that.
 */
const urlShape = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?(#.*)?$/;

/**
 * Parses an object URL. Keys may contain slashes; `%XX` escapes are decoded (write `?`, `#` and `%`
 * in a key as `%3F`, `%23`, `%25`). A missing region comes from `AWS_REGION`, then
 * `AWS_DEFAULT_REGION`, then `us-east-1`.
 */
export function parseObjectURL(
  text: string,
  environment: EnvironmentLookup = (name) => Deno.env.get(name),
): URLResult {
  const parts = urlShape.exec(text.trim());
  if (!parts) {
    return fail("malformed", "not an object URL: expected scheme://bucket/key");
  }
  const [, scheme, authority, path, query = "", fragment] = parts;
  const lowerScheme = scheme.toLowerCase();
  if (!isScheme(lowerScheme)) {
    return fail(
      "unknownScheme",
      `unknown scheme ${quote(`${scheme}://`)} in the object URL: use s3:// or gs://`,
    );
  }
  if (fragment !== undefined) {
    return fail("malformed", `the object URL has a "#" fragment: write "#" in a key as %23`);
  }
  const bucket = parseBucket(authority);
  if (!bucket.ok) return bucket;
  const key = parseKey(path);
  if (!key.ok) return key;
  const parameters = parseQuery(lowerScheme, query);
  if (!parameters.ok) return parameters;
  return lowerScheme === "s3"
    ? s3Location(bucket.value, key.value, parameters.value, environment)
    : gcsLocation(bucket.value, key.value, parameters.value);
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

function isScheme(scheme: string): scheme is Scheme {
  return Object.hasOwn(parametersByScheme, scheme);
}

type Parsed<T> = { readonly ok: true; readonly value: T } | {
  readonly ok: false;
  readonly error: URLError;
};

function fail(kind: URLErrorKind, message: string): { ok: false; error: URLError } {
  return { ok: false, error: { kind, message } };
}

function quote(text: string): string {
  return JSON.stringify(text);
}

function parseBucket(authority: string): Parsed<string> {
  if (authority.includes("@")) {
    return fail(
      "credentialsInURL",
      "the object URL carries credentials: put them in a Secret (credentialsSecretRef) " +
        "or the environment, never in the URL",
    );
  }
  if (authority === "") {
    return fail("missingBucket", "the object URL has no bucket: expected scheme://bucket/key");
  }
  if (authority.includes(":")) {
    return fail(
      "malformed",
      `the bucket ${quote(authority)} has a port: ` +
        "give the store's address as ?endpoint=http://host:port",
    );
  }
  return { ok: true, value: authority };
}

function parseKey(path: string): Parsed<string> {
  let key: string;
  try {
    key = decodeURIComponent(path.replace(/^\//, ""));
  } catch {
    return fail("malformed", "the object key has a broken %-escape");
  }
  if (key === "") {
    return fail("missingKey", "the object URL has no key: expected scheme://bucket/key");
  }
  return { ok: true, value: key };
}

type Parameters = ReadonlyMap<string, string>;

function parseQuery(scheme: Scheme, query: string): Parsed<Parameters> {
  const known: readonly string[] = parametersByScheme[scheme];
  const parameters = new Map<string, string>();
  for (const [name, value] of new URLSearchParams(query)) {
    if (!known.includes(name)) {
      return fail(
        "unknownParameter",
        `unknown parameter ${quote(name)} for ${scheme}:// URLs ` +
          `(known: ${known.join(", ")})`,
      );
    }
    if (parameters.has(name)) {
      return fail("repeatedParameter", `parameter ${quote(name)} is given twice`);
    }
    parameters.set(name, value);
  }
  return { ok: true, value: parameters };
}

function s3Location(
  bucket: string,
  key: string,
  parameters: Parameters,
  environment: EnvironmentLookup,
): URLResult {
  const endpoint = parseEndpoint(parameters.get("endpoint"));
  if (!endpoint.ok) return endpoint;
  const region = parameters.get("region") ??
    (environment("AWS_REGION") || environment("AWS_DEFAULT_REGION") || defaultRegion);
  if (!/^[a-z0-9][a-z0-9-]*$/.test(region)) {
    return fail("invalidRegion", `region ${quote(region)} is not a region name like eu-west-2`);
  }
  // S3-compatible stores (MinIO, Ceph) rarely serve virtual-host buckets; AWS prefers them.
  const forcePathStyle = parseBoolean("forcePathStyle", parameters.get("forcePathStyle"));
  if (!forcePathStyle.ok) return forcePathStyle;
  return {
    ok: true,
    value: {
      kind: "s3",
      bucket,
      key,
      endpoint: endpoint.value,
      region,
      forcePathStyle: forcePathStyle.value ?? endpoint.value !== undefined,
    },
  };
}

function gcsLocation(bucket: string, key: string, parameters: Parameters): URLResult {
  const endpoint = parseEndpoint(parameters.get("endpoint"));
  if (!endpoint.ok) return endpoint;
  return { ok: true, value: { kind: "gs", bucket, key, endpoint: endpoint.value } };
}

/** An http(s) origin, optionally with a path; no credentials, query or fragment. */
function parseEndpoint(text: string | undefined): Parsed<string | undefined> {
  if (text === undefined) return { ok: true, value: undefined };
  // Checked before anything quotes the endpoint, so a message never repeats a password.
  if (/^[^/?#]*\/\/[^/?#]*@/.test(text)) {
    return fail(
      "credentialsInURL",
      "the endpoint carries credentials: put them in a Secret or the environment instead",
    );
  }
  const invalid = (why: string) => fail("invalidEndpoint", `endpoint ${quote(text)} ${why}`);
  let endpoint: URL;
  try {
    endpoint = new URL(text);
  } catch {
    return invalid("is not a URL like http://host:9000");
  }
  if (endpoint.protocol !== "http:" && endpoint.protocol !== "https:") {
    return invalid("must start with http:// or https://");
  }
  if (endpoint.search !== "" || endpoint.hash !== "") {
    return invalid("must not have a query or fragment");
  }
  return { ok: true, value: endpoint.href.replace(/\/$/, "") };
}

function parseBoolean(name: string, text: string | undefined): Parsed<boolean | undefined> {
  if (text === undefined) return { ok: true, value: undefined };
  if (text === "true" || text === "false") return { ok: true, value: text === "true" };
  return fail("invalidBoolean", `${name} must be true or false, not ${quote(text)}`);
}

/** Escapes only what would change how the key parses back, so keys stay readable in logs. */
function encodeKey(key: string): string {
  return encodeURI(key).replace(/[?#]/g, encodeURIComponent);
}
