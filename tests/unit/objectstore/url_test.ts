// Object URL parsing as data: URLs in, locations or specific errors out; no network, no env.
import assert from "node:assert/strict";
import { renderObjectURL } from "../../../actors/backup/template.ts";
import {
  checkObjectURLTemplate,
  formatObjectURL,
  type ObjectLocation,
  parseObjectURL,
} from "../../../objectstore/url.ts";
import { objectURLCases, objectURLTemplateCases } from "../../shared/object_urls.ts";

/** A fixed environment, so results do not depend on the machine running the tests. */
function environment(variables: Record<string, string> = {}) {
  return (name: string): string | undefined => variables[name];
}

const parses: readonly {
  name: string;
  url: string;
  env?: Record<string, string>;
  want: ObjectLocation;
}[] = [
  {
    name: "an s3 URL keeps every slash of its key",
    url: "s3://backups/etcd/prod/2024-01-01T00:00:00Z.db",
    want: {
      kind: "s3",
      bucket: "backups",
      key: "etcd/prod/2024-01-01T00:00:00Z.db",
      endpoint: undefined,
      region: "us-east-1",
      forcePathStyle: false,
    },
  },
  {
    name: "an endpoint implies path-style addressing",
    url: "s3://b/key/with/slashes?endpoint=http://host:9000&region=eu-west-2",
    want: {
      kind: "s3",
      bucket: "b",
      key: "key/with/slashes",
      endpoint: "http://host:9000",
      region: "eu-west-2",
      forcePathStyle: true,
    },
  },
  {
    name: "forcePathStyle=false overrides the endpoint's default",
    url: "s3://b/k?endpoint=https://s3.example.test/&forcePathStyle=false",
    want: {
      kind: "s3",
      bucket: "b",
      key: "k",
      endpoint: "https://s3.example.test",
      region: "us-east-1",
      forcePathStyle: false,
    },
  },
  {
    name: "forcePathStyle=true works without an endpoint",
    url: "s3://b/k?forcePathStyle=true",
    want: {
      kind: "s3",
      bucket: "b",
      key: "k",
      endpoint: undefined,
      region: "us-east-1",
      forcePathStyle: true,
    },
  },
  {
    name: "the region comes from AWS_REGION before AWS_DEFAULT_REGION",
    url: "s3://b/k",
    env: { AWS_REGION: "ap-south-1", AWS_DEFAULT_REGION: "eu-central-1" },
    want: {
      kind: "s3",
      bucket: "b",
      key: "k",
      endpoint: undefined,
      region: "ap-south-1",
      forcePathStyle: false,
    },
  },
  {
    name: "the region falls back to AWS_DEFAULT_REGION",
    url: "s3://b/k",
    env: { AWS_DEFAULT_REGION: "eu-central-1" },
    want: {
      kind: "s3",
      bucket: "b",
      key: "k",
      endpoint: undefined,
      region: "eu-central-1",
      forcePathStyle: false,
    },
  },
  {
    name: "a region in the URL beats the environment",
    url: "s3://b/k?region=us-west-2",
    env: { AWS_REGION: "ap-south-1" },
    want: {
      kind: "s3",
      bucket: "b",
      key: "k",
      endpoint: undefined,
      region: "us-west-2",
      forcePathStyle: false,
    },
  },
  {
    name: "percent escapes in the key are decoded and dot segments are kept as written",
    url: "s3://b/a/../with%20space%3Fand%23hash",
    want: {
      kind: "s3",
      bucket: "b",
      key: "a/../with space?and#hash",
      endpoint: undefined,
      region: "us-east-1",
      forcePathStyle: false,
    },
  },
  {
    name: "a gs URL with no endpoint leaves the choice to the library",
    url: "gs://bucket/dir/snapshot.db",
    want: { kind: "gs", bucket: "bucket", key: "dir/snapshot.db", endpoint: undefined },
  },
  {
    name: "a gs URL may name an emulator endpoint",
    url: "gs://bucket/key?endpoint=http://127.0.0.1:4443",
    want: { kind: "gs", bucket: "bucket", key: "key", endpoint: "http://127.0.0.1:4443" },
  },
];

for (const { name, url, env, want } of parses) {
  Deno.test(name, () => {
    const result = parseObjectURL(url, environment(env));
    assert.deepEqual(result, { ok: true, value: want });
  });
}

for (const { name, url, refused } of objectURLCases) {
  Deno.test(`the parser ${refused ? `refuses (${refused})` : "accepts"} ${name}`, () => {
    const result = parseObjectURL(url, environment());
    assert.equal(result.ok ? undefined : result.error.kind, refused, url);
  });
}

for (const { name, url, refused } of [...objectURLCases, ...objectURLTemplateCases]) {
  Deno.test(`the template check ${refused ? `refuses (${refused})` : "accepts"} ${name}`, () => {
    assert.equal(checkObjectURLTemplate(url)?.kind, refused, url);
  });
}

Deno.test("every template the check accepts renders to a URL the parser accepts", () => {
  const fields = {
    UID: "0b7f5a4e-3c1d-4f6e-9a8b-2c3d4e5f6a7b",
    Name: "nightly.backup-2024",
    Namespace: "team-a",
    CreationTimestamp: "2024-01-02T03:04:05Z",
  };
  const accepted = [...objectURLCases, ...objectURLTemplateCases].filter((c) => !c.refused);
  for (const { url } of accepted) {
    const rendered = renderObjectURL(url, fields);
    assert.ok(rendered.ok, url);
    const parsed = parseObjectURL(rendered.value, environment());
    assert.ok(parsed.ok, `${url} rendered as ${rendered.value}: ${JSON.stringify(parsed)}`);
  }
});

Deno.test("a refusal says what is allowed", () => {
  const result = parseObjectURL("s3://b/k?regoin=x", environment());
  assert.ok(!result.ok);
  assert.match(result.error.message, /endpoint, region and forcePathStyle/);
});

Deno.test("a region from the environment is checked like one in the URL", () => {
  const result = parseObjectURL("s3://b/k", environment({ AWS_REGION: "EU West" }));
  assert.ok(!result.ok);
  assert.equal(result.error.kind, "invalidRegion");
  assert.match(result.error.message, /"EU West" from the environment/);
});

Deno.test("credentials in the URL are rejected without repeating them", () => {
  for (const url of ["s3://AKIA:secret@bucket/k", "s3://b/k?endpoint=http://AKIA:secret@h:9000"]) {
    const result = parseObjectURL(url, environment());
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.equal(result.error.kind, "credentialsInURL");
    assert.doesNotMatch(result.error.message, /secret|AKIA/);
  }
});

Deno.test("other errors never quote the whole URL either", () => {
  const result = parseObjectURL("s3://b/k?endpoint=http://h:9000&token=abc", environment());
  assert.equal(result.ok, false);
  if (result.ok) return;
  assert.doesNotMatch(result.error.message, /abc/);
});

const displays: readonly { name: string; url: string; want: string }[] = [
  {
    name: "formatting an AWS URL adds the region it resolved",
    url: "s3://b/dir/k.db",
    want: "s3://b/dir/k.db?region=us-east-1",
  },
  {
    name: "formatting keeps the endpoint and drops the implied path style",
    url: "s3://b/k?forcePathStyle=true&endpoint=http://h:9000/",
    want: "s3://b/k?endpoint=http://h:9000&region=us-east-1",
  },
  {
    name: "formatting shows a path style that differs from the default",
    url: "s3://b/k?endpoint=http://h:9000&forcePathStyle=false",
    want: "s3://b/k?endpoint=http://h:9000&region=us-east-1&forcePathStyle=false",
  },
  {
    name: "formatting escapes only what would change the key",
    url: "gs://b/a%20b%3F%23:c",
    want: "gs://b/a%20b%3F%23:c",
  },
];

for (const { name, url, want } of displays) {
  Deno.test(name, () => {
    const parsed = parseObjectURL(url, environment());
    assert.ok(parsed.ok, url);
    assert.equal(formatObjectURL(parsed.value), want);
  });
}

Deno.test("a formatted URL parses back to the same location", () => {
  for (
    const url of [
      "s3://b/a/../x%25y?region=eu-west-2",
      "s3://b/k?endpoint=http://h:9000&forcePathStyle=false",
      "gs://b/deep/key%3Fwith?endpoint=http://127.0.0.1:4443",
    ]
  ) {
    const parsed = parseObjectURL(url, environment());
    assert.ok(parsed.ok, url);
    assert.deepEqual(parseObjectURL(formatObjectURL(parsed.value), environment()), parsed);
  }
});
