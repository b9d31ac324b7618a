// The object URL grammar as ordered regex rules, shared by the parser and the CRDs' CEL rules.
//
// One grammar decides both: `parseObjectURL` runs these rules, and each CRD field holding an object
// URL carries the same rules as CEL (`celRule` below; tests/unit/crds_test.ts checks the YAML is
// exactly that), so the apiserver refuses at apply time precisely what the runtime would refuse
// later. The patterns are written in the common subset of RE2 (CEL's `matches`) and JavaScript:
// no lookaround, no back-references, no `\s` or `\d`, literal braces escaped, no `'` (CEL raw
// strings cannot hold one).

export type URLErrorKind =
  | "tooLong"
  | "malformed"
  | "unknownScheme"
  | "credentialsInURL"
  | "invalidBucket"
  | "missingKey"
  | "invalidKey"
  | "invalidTemplate"
  | "unknownParameter"
  | "repeatedParameter"
  | "invalidEndpoint"
  | "invalidRegion"
  | "invalidBoolean";

export interface URLRule {
  readonly kind: URLErrorKind;
  /** The rule only judges URLs that match this (CEL: `!self.matches(when) || …`). */
  readonly when?: string;
  readonly pattern: string;
  /** `true`: a good URL matches `pattern`; `false`: a good URL does not. */
  readonly mustMatch: boolean;
  /** Says what is allowed; never quotes the URL, which may be huge or carry a password. */
  readonly message: string;
}

/** The CRDs' `maxLength`; the parser refuses longer URLs too, so both count the same characters. */
export const maxObjectURLLength = 2048;

const hex = "[0-9A-Fa-f]";
const continuation = `%[89ABab]${hex}`;
/**
 * A %-escape of one printable ASCII character or of one whole UTF-8 encoded character, so every
 * accepted key decodes (`decodeURIComponent` refuses broken UTF-8) and holds no ASCII control
 * characters.
 */
const escape = "(" + [
  `%(2${hex}|[3-6]${hex}|7[0-9A-Ea-e])`,
  `%[Cc][2-9A-Fa-f]${continuation}`,
  `%[Dd]${hex}${continuation}`,
  `%[Ee]0%[ABab]${hex}${continuation}`,
  `%[Ee][1-9A-Ca-cEeFf]${continuation}${continuation}`,
  `%[Ee][Dd]%[89]${hex}${continuation}`,
  `%[Ff]0%[9ABab]${hex}${continuation}${continuation}`,
  `%[Ff][1-3]${continuation}${continuation}${continuation}`,
  `%[Ff]4%8${hex}${continuation}${continuation}`,
].join("|") + ")";
/**
 * A key character written as is: RFC 3986 path characters and anything beyond ASCII. Space, `%`,
 * `?`, `#`, braces, quotes and the like must be %-escaped (`formatObjectURL` writes them so).
 */
const keyCharacter = '[^\\x00-\\x20\\x7F"#%<>?\\[\\\\\\]^`{|}]';

const blank = "[ \\t\\r\\n]*";
const templateField = (names: string) => `\\{\\{${blank}\\.(${names})${blank}\\}\\}`;
/** The template fields an EtcdBackup may use, as `actors/backup/template.ts` renders them. */
const anyTemplateField = templateField("UID|Name|Namespace|CreationTimestamp");
/** Fields whose values (lower-case names, uids) are themselves valid in a bucket name. */
const bucketTemplateField = templateField("UID|Name|Namespace");

const bucketName = "[a-z0-9]([-a-z0-9._]{0,220}[a-z0-9])?";
const bucketEdge = `([a-z0-9]|${bucketTemplateField})`;
const templatedBucketName = `${bucketEdge}(([-a-z0-9._]|${bucketTemplateField})*${bucketEdge})?`;

const hostName =
  "[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*";
const port =
  "(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})";
const endpoint = `https?://(${hostName}|\\[[0-9A-Fa-f:.]+\\])(:${port})?(/[-A-Za-z0-9._~/]*)?`;
/** The same shape as the parser checks a region from AWS_REGION against. */
export const regionPattern = "[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?";

/** Everything up to the query, whatever the scheme, so each rule judges only its own part. */
const upToQuery = "^[^?#]*";
/** A position inside the query where a parameter starts. */
const atParameter = `${upToQuery}\\?([^&#]*&)*`;
const valueEnd = "(&|#|$)";
const anyScheme = "^[^:/?#]*://";

function parameters(names: string): string {
  const parameter = `(${names})=[^&#]*`;
  return `${upToQuery}(\\?${parameter}(&${parameter})*)?(#|$)`;
}

function twice(name: string): string {
  return `${name}=[^&#]*&([^&#]*&)*${name}=`;
}

function rules(templated: boolean): readonly URLRule[] {
  const key = templated
    ? `(${keyCharacter}|${escape}|${anyTemplateField})`
    : `(${keyCharacter}|${escape})`;
  const templateRules: URLRule[] = [{
    kind: "invalidTemplate",
    // Every "{{" opens one of the known fields; text around them is judged by the rules below.
    pattern: `^([^{]|\\{[^{]|${anyTemplateField})*\\{?$`,
    mustMatch: true,
    message:
      "the URL may only use the template fields {{ .UID }}, {{ .Name }}, {{ .Namespace }} and " +
      "{{ .CreationTimestamp }}",
  }];
  return [
    ...(templated ? templateRules : []),
    {
      kind: "unknownScheme",
      pattern: "^(s3|gs)://",
      mustMatch: true,
      message: "the URL must start with s3:// or gs:// (in lower case), for example " +
        "s3://bucket/snapshot.db?endpoint=http://minio:9000&region=us-east-1",
    },
    {
      kind: "credentialsInURL",
      pattern: `^[^/?#]*//[^/?#]*@|${atParameter}endpoint=[^&#]*@`,
      mustMatch: false,
      message:
        "the URL must not carry credentials (user:password@), neither before the bucket nor in " +
        "the endpoint: put them in a Secret named by credentialsSecretRef",
    },
    {
      kind: "malformed",
      pattern: "#",
      mustMatch: false,
      message: "the URL must not have a #fragment: write # in a key as %23",
    },
    {
      kind: "invalidBucket",
      pattern: `${anyScheme}${templated ? templatedBucketName : bucketName}([/?#]|$)`,
      mustMatch: true,
      message:
        "the URL must name a bucket after the scheme: lower-case letters, digits, '.', '-' and " +
        "'_', starting and ending with a letter or digit, at most 222 characters" +
        (templated
          ? " (the fields {{ .UID }}, {{ .Name }} and {{ .Namespace }} may be used)"
          : "") +
        "; a port belongs in ?endpoint=http://host:port",
    },
    {
      kind: "missingKey",
      pattern: `${anyScheme}[^/?#]*/[^?#]`,
      mustMatch: true,
      message: "the URL must name an object key after the bucket: scheme://bucket/key",
    },
    {
      kind: "invalidKey",
      pattern: `${anyScheme}[^/?#]*(/${key}*)?([?#]|$)`,
      mustMatch: true,
      message: "the object key has a character that must be %-escaped, or a broken %-escape: " +
        "a key may hold " +
        "letters, digits, non-ASCII characters and -._~!$&'()*+,;=:@/ as they are; write others " +
        "as the %-escapes of their UTF-8 bytes (space %20, % %25, ? %3F, # %23)" +
        (templated ? ", and may use the template fields" : ""),
    },
    {
      kind: "unknownParameter",
      when: "^s3:",
      pattern: parameters("endpoint|region|forcePathStyle"),
      mustMatch: true,
      message: "an s3:// URL takes only the query parameters endpoint, region and " +
        "forcePathStyle, as ?name=value&name=value",
    },
    {
      kind: "unknownParameter",
      when: "^gs:",
      pattern: parameters("endpoint"),
      mustMatch: true,
      message: "a gs:// URL takes only the query parameter endpoint, as ?endpoint=http://host:port",
    },
    {
      kind: "repeatedParameter",
      pattern: `${atParameter}(${twice("endpoint")}|${twice("region")}|${twice("forcePathStyle")})`,
      mustMatch: false,
      message: "each query parameter may be given at most once",
    },
    {
      kind: "invalidEndpoint",
      when: `${atParameter}endpoint=`,
      pattern: `${atParameter}endpoint=${endpoint}${valueEnd}`,
      mustMatch: true,
      message: "endpoint must be an http:// or https:// address: a host name or IP address, " +
        "an optional port from 1 to 65535 and an optional path, for example " +
        "http://minio.objectstores.svc:9000",
    },
    {
      kind: "invalidRegion",
      when: `${atParameter}region=`,
      pattern: `${atParameter}region=${regionPattern}${valueEnd}`,
      mustMatch: true,
      message: "region must be a region name such as eu-west-2: lower-case letters, digits and " +
        "'-', at most 63 characters",
    },
    {
      kind: "invalidBoolean",
      when: `${atParameter}forcePathStyle=`,
      pattern: `${atParameter}forcePathStyle=(true|false)${valueEnd}`,
      mustMatch: true,
      message: "forcePathStyle must be true or false",
    },
  ];
}

/** Rules for a URL naming one object (EtcdRestore's objectURL, the `object` command). */
export const objectURLRules: readonly URLRule[] = rules(false);

/** Rules for an EtcdBackup's objectURLTemplate: the same, with template fields in bucket and key. */
export const objectURLTemplateRules: readonly URLRule[] = rules(true);

/** The first rule `text` breaks, if any. */
export function brokenRule(rules: readonly URLRule[], text: string): URLRule | undefined {
  return rules.find((rule) =>
    (rule.when === undefined || new RegExp(rule.when).test(text)) &&
    new RegExp(rule.pattern).test(text) !== rule.mustMatch
  );
}

/** The rule as the CRDs write it in `x-kubernetes-validations[].rule`. */
export function celRule(rule: URLRule): string {
  const check = `${rule.mustMatch ? "" : "!"}self.matches(r'${rule.pattern}')`;
  return rule.when === undefined ? check : `!self.matches(r'${rule.when}') || ${check}`;
}
