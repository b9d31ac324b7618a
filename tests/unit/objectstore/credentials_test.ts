// Reading object-store credentials out of Secret data and the environment, without leaking them.
import assert from "node:assert/strict";
import {
  credentialsFromEnvironment,
  credentialsFromSecret,
  decodeSecretData,
  describeCredentials,
} from "../../../objectstore/credentials.ts";
import type { ObjectLocation } from "../../../objectstore/url.ts";

const s3: ObjectLocation = {
  kind: "s3",
  bucket: "b",
  key: "k",
  endpoint: undefined,
  region: "us-east-1",
  forcePathStyle: false,
};
const gs: ObjectLocation = { kind: "gs", bucket: "b", key: "k", endpoint: undefined };
const serviceAccount = JSON.stringify({
  type: "service_account",
  client_email: "backup@project.iam.gserviceaccount.com",
  private_key: "-----BEGIN PRIVATE KEY-----\nsecret\n-----END PRIVATE KEY-----\n",
});

Deno.test("S3 keys come from the AWS_* keys of a Secret, trailing newlines trimmed", () => {
  const result = credentialsFromSecret(s3, {
    AWS_ACCESS_KEY_ID: "AKIAEXAMPLE\n",
    AWS_SECRET_ACCESS_KEY: "very-secret\n",
    AWS_SESSION_TOKEN: "token",
  });
  assert.deepEqual(result, {
    ok: true,
    value: {
      kind: "s3",
      accessKeyId: "AKIAEXAMPLE",
      secretAccessKey: "very-secret",
      sessionToken: "token",
    },
  });
});

Deno.test("a Secret without the secret access key names the missing key only", () => {
  const result = credentialsFromSecret(s3, { AWS_ACCESS_KEY_ID: "AKIAEXAMPLE" });
  assert.equal(result.ok, false);
  if (result.ok) return;
  assert.equal(result.error.kind, "invalidCredentials");
  assert.match(result.error.message, /no AWS_SECRET_ACCESS_KEY for S3/);
  assert.doesNotMatch(result.error.message, /AKIAEXAMPLE/);
});

Deno.test("GCS credentials come from GOOGLE_APPLICATION_CREDENTIALS_JSON or credentials.json", () => {
  for (const key of ["GOOGLE_APPLICATION_CREDENTIALS_JSON", "credentials.json"]) {
    const result = credentialsFromSecret(gs, { [key]: serviceAccount });
    assert.deepEqual(result, {
      ok: true,
      value: { kind: "gcs", serviceAccountJson: serviceAccount },
    });
  }
});

Deno.test("malformed GCS JSON is rejected by key name without quoting it", () => {
  const result = credentialsFromSecret(gs, { "credentials.json": "{private_key: oops" });
  assert.equal(result.ok, false);
  if (result.ok) return;
  assert.equal(result.error.kind, "invalidCredentials");
  assert.match(result.error.message, /credentials\.json is not valid JSON/);
  assert.doesNotMatch(result.error.message, /oops/);
});

Deno.test("a Secret holding only S3 keys does not satisfy a gs:// location", () => {
  const result = credentialsFromSecret(gs, { AWS_ACCESS_KEY_ID: "a", AWS_SECRET_ACCESS_KEY: "b" });
  assert.equal(result.ok, false);
});

Deno.test("the environment leaves S3 to the SDK and reads GCS JSON itself", () => {
  const environment = (name: string) =>
    ({ AWS_ACCESS_KEY_ID: "a", GOOGLE_APPLICATION_CREDENTIALS_JSON: serviceAccount })[name];
  assert.deepEqual(credentialsFromEnvironment(s3, environment), { ok: true, value: undefined });
  assert.deepEqual(credentialsFromEnvironment(gs, environment), {
    ok: true,
    value: { kind: "gcs", serviceAccountJson: serviceAccount },
  });
  assert.deepEqual(credentialsFromEnvironment(gs, () => undefined), { ok: true, value: undefined });
});

Deno.test("Secret data is decoded from base64", () => {
  assert.deepEqual(decodeSecretData({ AWS_ACCESS_KEY_ID: btoa("AKIAEXAMPLE") }), {
    AWS_ACCESS_KEY_ID: "AKIAEXAMPLE",
  });
});

Deno.test("describing credentials never shows a secret", () => {
  const s3Description = describeCredentials({
    kind: "s3",
    accessKeyId: "AKIAIOSFODNN7EXAMPLE",
    secretAccessKey: "wJalrXUtnFEMI",
    sessionToken: "session-token",
  });
  assert.doesNotMatch(s3Description, /wJalrXUtnFEMI|session-token|IOSFODNN7EXAMP/);
  const gcsDescription = describeCredentials({ kind: "gcs", serviceAccountJson: serviceAccount });
  assert.match(gcsDescription, /backup@project/);
  assert.doesNotMatch(gcsDescription, /PRIVATE KEY|secret/);
  assert.equal(describeCredentials(undefined), "credentials from the environment");
});
