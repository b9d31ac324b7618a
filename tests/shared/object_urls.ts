// Object URLs and templates with the verdict both deciders must reach: the runtime parser (unit
// tests) and the apiserver's CEL rules (e2e), so the two can never drift apart unnoticed.
import type { URLErrorKind } from "../../objectstore/url_rules.ts";

export interface URLCase {
  readonly name: string;
  readonly url: string;
  /** `undefined`: accepted; otherwise the first rule it breaks. */
  readonly refused?: URLErrorKind;
}

const minio = "endpoint=http://minio.objectstores.svc:9000&region=us-east-1&forcePathStyle=true";

/** URLs of one object (EtcdRestore's objectURL); with no template fields they are templates too. */
export const objectURLCases: readonly URLCase[] = [
  { name: "the sample's MinIO URL", url: `s3://etcd-backups/my-cluster/snapshot.db?${minio}` },
  {
    name: "an AWS URL with slashes in the key",
    url: "s3://backups/etcd/prod/2024-01-01T00:00Z.db",
  },
  { name: "a gs URL", url: "gs://bucket/dir/snapshot.db" },
  { name: "a gs URL with an emulator", url: "gs://bucket/key?endpoint=http://127.0.0.1:4443" },
  {
    name: "parameters in any order, an https endpoint with a trailing slash",
    url: "s3://b/k?forcePathStyle=false&endpoint=https://s3.example.test/&region=eu-west-2",
  },
  { name: "an endpoint with a path", url: "s3://b/k?endpoint=https://store.example.test/s3/v1" },
  { name: "an IPv6 endpoint on the highest port", url: "s3://b/k?endpoint=http://[::1]:65535" },
  { name: "a bucket with dots, dashes and underscores", url: "gs://my.bucket_name-1/k" },
  { name: "escapes of ASCII in the key", url: "s3://b/a/../with%20space%3Fand%23hash%25" },
  { name: "escapes of UTF-8 in the key", url: "s3://b/caf%C3%A9/%E2%82%AC/%F0%9F%98%80.db" },
  { name: "non-ASCII characters in the key as they are", url: "s3://b/café/€/😀.db" },
  { name: "sub-delimiters in the key", url: "s3://b/k:a;b=c&d'e(f)*+,!$~@.db?region=eu-west-1" },

  { name: "an upper-case scheme", url: "S3://backups/snapshot.db", refused: "unknownScheme" },
  { name: "an ftp URL", url: "ftp://backups/snapshot.db", refused: "unknownScheme" },
  { name: "a path without a scheme", url: "backups/etcd.db", refused: "unknownScheme" },
  { name: "a leading space", url: " s3://b/k", refused: "unknownScheme" },
  {
    name: "credentials before the bucket",
    url: "s3://AKIA:secret@bucket/k",
    refused: "credentialsInURL",
  },
  {
    name: "credentials in the endpoint",
    url: "s3://b/k?endpoint=http://AKIA:secret@minio:9000",
    refused: "credentialsInURL",
  },
  { name: "a fragment", url: "s3://b/k#part", refused: "malformed" },
  { name: "no bucket", url: "s3:///key", refused: "invalidBucket" },
  { name: "a bucket with a port", url: "s3://minio:9000/k", refused: "invalidBucket" },
  { name: "an upper-case bucket", url: "s3://Backups/k", refused: "invalidBucket" },
  { name: "a bucket starting with a dash", url: "gs://-b/k", refused: "invalidBucket" },
  { name: "no key", url: "s3://bucket", refused: "missingKey" },
  { name: "an empty key", url: "s3://bucket/", refused: "missingKey" },
  { name: "no key before the query", url: "s3://bucket?region=eu-west-1", refused: "missingKey" },
  { name: "a broken escape", url: "s3://b/k%zz", refused: "invalidKey" },
  { name: "a cut-off escape", url: "s3://b/k%", refused: "invalidKey" },
  { name: "an escape that is not UTF-8", url: "s3://b/k%FF", refused: "invalidKey" },
  { name: "a cut-off UTF-8 sequence", url: "s3://b/k%C3.db", refused: "invalidKey" },
  { name: "an escaped control character", url: "s3://b/k%00", refused: "invalidKey" },
  { name: "a raw space in the key", url: "s3://b/my key.db", refused: "invalidKey" },
  { name: "braces in the key", url: "s3://b/a{b}", refused: "invalidKey" },
  { name: "an unknown parameter", url: "s3://b/k?colour=blue", refused: "unknownParameter" },
  {
    name: "an unknown parameter after known ones",
    url: "s3://b/k?endpoint=http://h:9000&token=abc",
    refused: "unknownParameter",
  },
  { name: "region on a gs URL", url: "gs://b/k?region=eu", refused: "unknownParameter" },
  {
    name: "forcePathStyle on a gs URL",
    url: "gs://b/k?forcePathStyle=true",
    refused: "unknownParameter",
  },
  { name: "an empty query", url: "s3://b/k?", refused: "unknownParameter" },
  { name: "a trailing &", url: "s3://b/k?region=eu-west-1&", refused: "unknownParameter" },
  { name: "a parameter without a value", url: "s3://b/k?region", refused: "unknownParameter" },
  { name: "a repeated region", url: "s3://b/k?region=a&region=b", refused: "repeatedParameter" },
  {
    name: "a repeated endpoint",
    url: "gs://b/k?endpoint=http://a:1&endpoint=http://b:2",
    refused: "repeatedParameter",
  },
  { name: "an ftp endpoint", url: "s3://b/k?endpoint=ftp://host", refused: "invalidEndpoint" },
  { name: "an empty endpoint", url: "s3://b/k?endpoint=", refused: "invalidEndpoint" },
  {
    name: "an endpoint without a scheme",
    url: "gs://b/k?endpoint=h:4443",
    refused: "invalidEndpoint",
  },
  {
    name: "an endpoint on port 99999",
    url: "s3://b/k?endpoint=http://h:99999",
    refused: "invalidEndpoint",
  },
  {
    name: "an endpoint with a query of its own",
    url: "s3://b/k?endpoint=http://h:9000?x=1",
    refused: "invalidEndpoint",
  },
  {
    name: "an endpoint with a space",
    url: "s3://b/k?endpoint=http://a b",
    refused: "invalidEndpoint",
  },
  { name: "forcePathStyle=yes", url: "s3://b/k?forcePathStyle=yes", refused: "invalidBoolean" },
  { name: "forcePathStyle=1", url: "s3://b/k?forcePathStyle=1", refused: "invalidBoolean" },
  { name: "forcePathStyle=TRUE", url: "s3://b/k?forcePathStyle=TRUE", refused: "invalidBoolean" },
  { name: "a region with a space", url: "s3://b/k?region=EU%20West", refused: "invalidRegion" },
  { name: "an empty region", url: "s3://b/k?region=", refused: "invalidRegion" },
  { name: "a region with underscores", url: "s3://b/k?region=us_east_1", refused: "invalidRegion" },
  { name: "a URL of 2048 characters", url: `s3://b/${"k".repeat(2048 - "s3://b/".length)}` },
  {
    name: "a URL of 2049 characters",
    url: `s3://b/${"k".repeat(2049 - "s3://b/".length)}`,
    refused: "tooLong",
  },
];

/** EtcdBackup objectURLTemplates: the fields in bucket and key. */
export const objectURLTemplateCases: readonly URLCase[] = [
  {
    name: "the sample's template",
    url: `s3://etcd-backups/{{ .Namespace }}/{{ .Name }}/snapshot.db?${minio}`,
  },
  {
    name: "all four fields, with and without blanks",
    url: "gs://backups/{{ .Namespace }}/{{ .Name }}/{{.UID}}-{{ .CreationTimestamp }}.db",
  },
  { name: "fields in the bucket name", url: "s3://{{ .Namespace }}-etcd.{{ .Name }}/snapshot.db" },
  { name: "a field between escapes", url: "s3://b/%F0%9F%93%A6{{ .UID }}%20.db" },

  { name: "an unknown field", url: "s3://backups/{{ .Labels }}.db", refused: "invalidTemplate" },
  { name: "a field in lower case", url: "s3://backups/{{ .uid }}.db", refused: "invalidTemplate" },
  { name: "an unclosed field", url: "s3://backups/{{ .UID }.db", refused: "invalidTemplate" },
  { name: "a pipeline", url: "s3://backups/{{ .Name | printf }}.db", refused: "invalidTemplate" },
  {
    name: "the creation time in a bucket name (it has capitals and colons)",
    url: "s3://b-{{ .CreationTimestamp }}/k",
    refused: "invalidBucket",
  },
  {
    name: "a field in the endpoint",
    url: "s3://b/k?endpoint=http://{{ .Namespace }}:9000",
    refused: "invalidEndpoint",
  },
  { name: "stray closing braces", url: "s3://b/k}}.db", refused: "invalidKey" },
];
