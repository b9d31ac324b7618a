// The tenancy rules as tables: which sources a backup may read and which credentials it may use.
import assert from "node:assert/strict";
import {
  type CredentialsJudgement,
  isProviderEndpoint,
  judgeBackupSource,
  judgeCredentials,
  redactSecrets,
  strictTenancy,
  type TenancySettings,
} from "../../../actors/tenancy.ts";
import { parseObjectURL } from "../../../objectstore/mod.ts";

const external: TenancySettings = { ...strictTenancy, allowExternalBackupSources: true };
const ambient: TenancySettings = { ...strictTenancy, allowAmbientCredentials: true };
const ambientMinio: TenancySettings = {
  ...ambient,
  ambientCredentialsEndpoints: ["http://minio.storage.svc:9000"],
};

type SourceRow = readonly [
  name: string,
  url: string,
  expected: "inNamespace" | "external" | "SourceOutsideNamespace",
  settings?: TenancySettings,
];

const sources: readonly SourceRow[] = [
  ["a member's full name in the backup's namespace", "http://c-0.c.ns.svc:2379", "inNamespace"],
  ["with the cluster domain", "http://c-0.c.ns.svc.cluster.local:2379", "inNamespace"],
  ["a trailing dot and upper case", "http://C-0.C.NS.svc.:2379", "inNamespace"],
  ["the client Service", "http://c-client.ns.svc:2379", "inNamespace"],
  ["the guide's relative member form", "http://c-0.c:2379", "inNamespace"],
  ["a bare Service name, read here", "http://c-client:2379", "inNamespace"],
  ["another namespace's member", "http://c-0.c.other.svc:2379", "SourceOutsideNamespace"],
  ["another namespace's Service", "http://c.other.svc:2379", "SourceOutsideNamespace"],
  [
    "another namespace's Service, even with external sources allowed",
    "http://c.other.svc.cluster.local:2379",
    "SourceOutsideNamespace",
    external,
  ],
  ["a pod's DNS record", "http://10-1-2-3.other.pod.cluster.local:2379", "SourceOutsideNamespace"],
  [
    "a pod's DNS record, with external sources allowed",
    "http://10-1-2-3.ns.pod:2379",
    "SourceOutsideNamespace",
    external,
  ],
  ["a malformed .svc name", "http://a.svc:2379", "SourceOutsideNamespace"],
  ["an IP address", "http://10.0.0.5:2379", "SourceOutsideNamespace"],
  ["an IPv6 address", "http://[fd00::1]:2379", "SourceOutsideNamespace"],
  ["the API server", "https://kubernetes.default.svc:443", "SourceOutsideNamespace"],
  ["an outside name", "http://etcd.example.com:2379", "SourceOutsideNamespace"],
  ["an IP address, allowed", "http://10.0.0.5:2379", "external", external],
  ["an outside name, allowed", "http://etcd.example.com:2379", "external", external],
  ["a relative member form in another namespace", "http://c-0.c.other:2379", "external", external],
];

for (const [name, url, expected, settings = strictTenancy] of sources) {
  Deno.test(`backup source: ${name} → ${expected}`, () => {
    const judged = judgeBackupSource(url, "ns", settings);
    assert.equal(judged.kind === "refused" ? judged.reason : judged.kind, expected);
  });
}

Deno.test("backup source: the readings of a name, most specific first, always in the backup's namespace", () => {
  assert.deepEqual(judgeBackupSource("http://c-0.c:2379", "ns", strictTenancy), {
    kind: "inNamespace",
    readings: [{ clusterName: "c", peerName: "c-0" }],
  });
  // `x.ns` is member x of cluster ns here, or Service x of this namespace.
  assert.deepEqual(judgeBackupSource("http://c-client.ns:2379", "ns", strictTenancy), {
    kind: "inNamespace",
    readings: [{ clusterName: "ns", peerName: "c-client" }, { clusterName: "c-client" }, {
      clusterName: "c",
    }],
  });
  // `x.other` would resolve to Service x of namespace other: only the member reading remains.
  assert.deepEqual(judgeBackupSource("http://c.other:2379", "ns", external), {
    kind: "inNamespace",
    readings: [{ clusterName: "other", peerName: "c" }],
  });
});

Deno.test("backup source: a refusal names the field, the namespace and what to write instead", () => {
  const judged = judgeBackupSource("http://c-0.c.team-b.svc:2379", "team-a", strictTenancy);
  assert.equal(judged.kind, "refused");
  if (judged.kind !== "refused") return;
  assert.match(judged.message, /names namespace team-b/);
  assert.match(judged.message, /spec\.source\.clusterURL must name a member/);
  assert.match(judged.message, /http:\/\/my-cluster-0\.my-cluster\.team-a\.svc:2379/);
  assert.match(judged.message, /nothing was read or uploaded/);
});

function location(url: string) {
  const parsed = parseObjectURL(url, () => undefined);
  if (!parsed.ok) throw new Error(parsed.error.message);
  return parsed.value;
}

type CredentialsRow = readonly [
  name: string,
  url: string,
  secret: string | undefined,
  settings: TenancySettings,
  expected: CredentialsJudgement["kind"],
];

const credentialRows: readonly CredentialsRow[] = [
  ["a Secret, to AWS", "s3://b/k", "keys", strictTenancy, "secret"],
  [
    "a Secret, to the tenant's own endpoint",
    "s3://b/k?endpoint=http://x:9000",
    "keys",
    strictTenancy,
    "secret",
  ],
  ["no Secret, to AWS, by default", "s3://b/k", undefined, strictTenancy, "refused"],
  ["no Secret, to AWS, allowed", "s3://b/k", undefined, ambient, "ambient"],
  [
    "no Secret, to an AWS regional endpoint, allowed",
    "s3://b/k?endpoint=https://s3.eu-west-2.amazonaws.com",
    undefined,
    ambient,
    "ambient",
  ],
  [
    "no Secret, to a look-alike host, allowed or not",
    "s3://b/k?endpoint=https://s3.amazonaws.com.evil.example",
    undefined,
    ambient,
    "refused",
  ],
  [
    "no Secret, to an AWS host over http",
    "s3://b/k?endpoint=http://s3.amazonaws.com",
    undefined,
    ambient,
    "refused",
  ],
  [
    "no Secret, to a custom S3 endpoint, allowed for AWS only",
    "s3://b/k?endpoint=http://minio.storage.svc:9000",
    undefined,
    ambient,
    "refused",
  ],
  [
    "no Secret, to a custom S3 endpoint the administrator listed",
    "s3://b/k?endpoint=http://minio.storage.svc:9000",
    undefined,
    ambientMinio,
    "ambient",
  ],
  [
    "the listed endpoint is not enough without --allow-ambient-credentials",
    "s3://b/k?endpoint=http://minio.storage.svc:9000",
    undefined,
    { ...strictTenancy, ambientCredentialsEndpoints: ["http://minio.storage.svc:9000"] },
    "refused",
  ],
  ["no Secret, to Google, by default", "gs://b/k", undefined, strictTenancy, "refused"],
  ["no Secret, to Google, allowed", "gs://b/k", undefined, ambient, "ambient"],
  [
    "no Secret, to Google named explicitly, by default",
    "gs://b/k?endpoint=https://storage.googleapis.com",
    undefined,
    strictTenancy,
    "refused",
  ],
  [
    "no Secret, to an emulator: no credentials at all",
    "gs://b/k?endpoint=http://fake-gcs:4443",
    undefined,
    strictTenancy,
    "anonymous",
  ],
  [
    "no Secret, to an emulator, ambient allowed: still none of the operator's",
    "gs://b/k?endpoint=http://fake-gcs:4443",
    undefined,
    ambient,
    "anonymous",
  ],
];

for (const [name, url, secret, settings, expected] of credentialRows) {
  Deno.test(`credentials: ${name} → ${expected}`, () => {
    assert.equal(judgeCredentials(location(url), secret, "ns", settings).kind, expected);
  });
}

Deno.test("credentials: a refusal says which Secret to create, where, and which flag an administrator has", () => {
  const strict = judgeCredentials(location("s3://b/k"), undefined, "team-a", strictTenancy);
  assert.equal(strict.kind, "refused");
  if (strict.kind !== "refused") return;
  assert.equal(strict.reason, "AmbientCredentialsRefused");
  assert.match(strict.message, /--allow-ambient-credentials/);
  assert.match(strict.message, /namespace team-a with AWS_ACCESS_KEY_ID/);
  const custom = judgeCredentials(
    location("s3://b/k?endpoint=http://10.0.0.9:9000"),
    undefined,
    "team-a",
    ambient,
  );
  assert.match(custom.kind === "refused" ? custom.message : "", /never sent to an endpoint/);
});

Deno.test("provider endpoints: none, or the provider's own https hosts", () => {
  assert.equal(isProviderEndpoint(location("gs://b/k")), true);
  assert.equal(
    isProviderEndpoint(location("gs://b/k?endpoint=https://storage.googleapis.com")),
    true,
  );
  assert.equal(
    isProviderEndpoint(location("gs://b/k?endpoint=https://googleapis.com:8443")),
    false,
  );
  assert.equal(isProviderEndpoint(location("s3://b/k?endpoint=https://s3.amazonaws.com")), true);
  assert.equal(
    isProviderEndpoint(location("s3://b/k?endpoint=https://storage.googleapis.com")),
    false,
  );
});

Deno.test("redaction: signatures, upload sessions, tokens and URL passwords never reach a message", () => {
  const rows: readonly (readonly [string, string])[] = [
    [
      "PUT https://b.s3.amazonaws.com/k?X-Amz-Signature=abc123&X-Amz-Credential=AKIA/x failed",
      "PUT https://b.s3.amazonaws.com/k?X-Amz-Signature=[redacted]&X-Amz-Credential=[redacted] failed",
    ],
    [
      "POST http://gcs/upload/storage/v1/b/x/o?uploadType=resumable&upload_id=SESSION: 503",
      "POST http://gcs/upload/storage/v1/b/x/o?uploadType=resumable&upload_id=[redacted]: 503",
    ],
    [
      "dial http://user:hunter2@10.0.0.1:2379 failed",
      "dial http://[redacted]@10.0.0.1:2379 failed",
    ],
    ["Authorization: Bearer ya29.a0AfH6SM", "Authorization: Bearer [redacted]"],
    ["connect ECONNREFUSED 10.0.0.5:2379", "connect ECONNREFUSED 10.0.0.5:2379"],
  ];
  for (const [message, expected] of rows) assert.equal(redactSecrets(message), expected);
});
