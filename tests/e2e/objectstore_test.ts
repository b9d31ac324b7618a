// Object stores end to end: streamed round trips and clear failures against real S3 and GCS stores.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { join } from "node:path";
import { ListMultipartUploadsCommand, S3Client } from "@aws-sdk/client-s3";
import {
  deleteObject,
  downloadObject,
  type ObjectLocation,
  type ObjectResult,
  parseObjectURL,
  type S3Credentials,
  type S3Location,
  statObject,
  type TransferOptions,
  uploadObject,
} from "../../objectstore/mod.ts";

const repoDir = new URL("../..", import.meta.url).pathname;
const mebibyte = 1024 * 1024;
/** Above the 5 MiB part size used below, so S3 goes multipart and GCS sends several chunks. */
const payloadBytes = 12 * mebibyte;
const partSizeBytes = 5 * mebibyte;

/** The store settings come only from the environment; a missing one fails the test by name. */
function required(name: string): string {
  const value = Deno.env.get(name);
  if (value === undefined || value === "") {
    throw new Error(
      `${name} is not set: the object-store e2e tests need E2E_S3_ENDPOINT, E2E_S3_BUCKET, ` +
        "E2E_S3_ACCESS_KEY, E2E_S3_SECRET_KEY, E2E_S3_REGION, E2E_GCS_ENDPOINT and " +
        "E2E_GCS_BUCKET (tests/run.ts sets them from the local environment)",
    );
  }
  return value;
}

interface Store {
  location(key: string, bucket?: string): ObjectLocation;
  readonly options: TransferOptions;
  /** What the command line needs in its environment to reach the store. */
  readonly cliEnvironment: Record<string, string>;
}

function s3Credentials(): S3Credentials {
  return {
    kind: "s3",
    accessKeyId: required("E2E_S3_ACCESS_KEY"),
    secretAccessKey: required("E2E_S3_SECRET_KEY"),
  };
}

function s3Store(): Store {
  const endpoint = required("E2E_S3_ENDPOINT");
  const region = required("E2E_S3_REGION");
  const credentials = s3Credentials();
  return {
    location: (key, bucket = required("E2E_S3_BUCKET")) =>
      parse(`s3://${bucket}/${key}?endpoint=${endpoint}&region=${region}`),
    options: { credentials },
    cliEnvironment: {
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    },
  };
}

function gcsStore(): Store {
  const endpoint = required("E2E_GCS_ENDPOINT");
  return {
    location: (key, bucket = required("E2E_GCS_BUCKET")) =>
      parse(`gs://${bucket}/${key}?endpoint=${endpoint}`),
    options: {},
    cliEnvironment: {},
  };
}

function parse(url: string): ObjectLocation {
  const parsed = parseObjectURL(url);
  if (!parsed.ok) throw new Error(parsed.error.message);
  return parsed.value;
}

/** Every test runs with Deno's op and resource sanitizers on (off by default since 2.8). */
function e2eTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, sanitizeOps: true, sanitizeResources: true, fn });
}

/** A unique key per run, so reruns against a long-lived store never see an old object. */
function freshKey(label: string): string {
  return `e2e/objectstore/${label}/${crypto.randomUUID()}.bin`;
}

interface TestBody {
  readonly stream: ReadableStream<Uint8Array>;
  wasCancelled(): boolean;
}

/** Hands out `bytes` in 64 KiB chunks of unknown total length, as an etcd snapshot does. */
function chunked(bytes: Uint8Array): TestBody {
  let offset = 0;
  let cancelled = false;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytes.byteLength) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + 64 * 1024));
      offset += 64 * 1024;
    },
    cancel() {
      cancelled = true;
    },
  }, { highWaterMark: 0 });
  return { stream, wasCancelled: () => cancelled };
}

/** Zeros without end: only a failure or an abort can stop an upload of this. */
function endless(onChunk: (sentBytes: number) => void = () => {}): TestBody {
  let sent = 0;
  let cancelled = false;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      controller.enqueue(new Uint8Array(64 * 1024));
      sent += 64 * 1024;
      onChunk(sent);
    },
    cancel() {
      cancelled = true;
    },
  }, { highWaterMark: 0 });
  return { stream, wasCancelled: () => cancelled };
}

function sha256Of(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function expectFailure<T>(result: ObjectResult<T>, kind: string, mentions: RegExp): void {
  assert.equal(result.ok, false, `expected a ${kind} failure, got success`);
  if (result.ok) return;
  assert.equal(result.error.kind, kind, result.error.message);
  assert.match(result.error.message, mentions);
}

for (const makeStore of [s3Store, gcsStore]) {
  const storeName = makeStore === s3Store ? "S3" : "GCS";
  const article = storeName === "S3" ? "an" : "a";

  e2eTest(`a 12 MiB stream round-trips through ${storeName} with its size and sha256`, async () => {
    const store = makeStore();
    const payload = new Uint8Array(randomBytes(payloadBytes));
    const location = store.location(freshKey("round-trip"));

    const uploaded = await uploadObject(location, chunked(payload).stream, {
      ...store.options,
      partSizeBytes,
      signal: AbortSignal.timeout(120_000),
    });
    assert.ok(uploaded.ok, uploaded.ok ? "" : uploaded.error.message);
    assert.deepEqual(uploaded.value, { sizeBytes: payloadBytes, sha256: sha256Of(payload) });

    const stat = await statObject(location, store.options);
    assert.deepEqual(stat, { ok: true, value: { sizeBytes: payloadBytes } });

    const downloaded = await downloadObject(location, store.options);
    assert.ok(downloaded.ok, downloaded.ok ? "" : downloaded.error.message);
    assert.equal(downloaded.value.sizeBytes, payloadBytes);
    const bytes = await readAll(downloaded.value.stream);
    assert.equal(bytes.byteLength, payloadBytes);
    assert.equal(sha256Of(bytes), sha256Of(payload));
  });

  e2eTest(
    `metadata given to a multipart upload to ${storeName} comes back with every download; a deleted object is gone`,
    async () => {
      const store = makeStore();
      const payload = new Uint8Array(randomBytes(payloadBytes));
      const location = store.location(freshKey("metadata"));
      const metadata = { "etcd-backup-uid": crypto.randomUUID(), "etcd-backup": "ns/name" };
      const uploaded = await uploadObject(location, chunked(payload).stream, {
        ...store.options,
        partSizeBytes,
        metadata,
        signal: AbortSignal.timeout(120_000),
      });
      assert.ok(uploaded.ok, uploaded.ok ? "" : uploaded.error.message);

      const downloaded = await downloadObject(location, store.options);
      assert.ok(downloaded.ok, downloaded.ok ? "" : downloaded.error.message);
      assert.deepEqual(downloaded.value.metadata, metadata);
      await downloaded.value.stream.cancel();

      assert.deepEqual(await deleteObject(location, store.options), { ok: true, value: undefined });
      assert.deepEqual(await deleteObject(location, store.options), { ok: true, value: undefined });
      expectFailure(await downloadObject(location, store.options), "objectNotFound", /not found/);
    },
  );

  e2eTest(`downloading a missing object from ${storeName} fails as objectNotFound`, async () => {
    const store = makeStore();
    const location = store.location(freshKey("missing"));
    const result = await downloadObject(location, store.options);
    expectFailure(result, "objectNotFound", /object not found/);
    assert.match(result.ok ? "" : result.error.message, new RegExp(`/e2e/objectstore/missing/`));
  });

  e2eTest(
    `uploading to ${article} ${storeName} bucket that does not exist fails as bucketNotFound and cancels the body`,
    async () => {
      const store = makeStore();
      const location = store.location(freshKey("no-bucket"), `no-such-bucket-${Date.now()}`);
      const body = endless();
      const result = await uploadObject(location, body.stream, { ...store.options, partSizeBytes });
      expectFailure(result, "bucketNotFound", /no-such-bucket-\d+.*bucket not found/);
      assert.ok(body.wasCancelled(), "the body was left open after the upload failed");
    },
  );
}

e2eTest("bad S3 credentials fail as accessDenied without echoing the secret", async () => {
  const store = s3Store();
  const credentials: S3Credentials = {
    kind: "s3",
    accessKeyId: "not-a-real-key",
    secretAccessKey: "wrong-secret-value",
  };
  const location = store.location(freshKey("bad-credentials"));
  const upload = await uploadObject(location, chunked(new Uint8Array(1024)).stream, {
    credentials,
  });
  expectFailure(upload, "accessDenied", /access denied/);
  const download = await downloadObject(location, { credentials });
  expectFailure(download, "accessDenied", /access denied/);
  for (const result of [upload, download]) {
    assert.doesNotMatch(result.ok ? "" : result.error.message, /wrong-secret-value/);
  }
});

for (const makeStore of [s3Store, gcsStore]) {
  const storeName = makeStore === s3Store ? "S3" : "GCS";
  const article = storeName === "S3" ? "an" : "a";

  e2eTest(
    `${article} ${storeName} upload aborted halfway leaves no object and cancels its body`,
    async () => {
      const store = makeStore();
      const location = store.location(freshKey("aborted"));
      const cancel = new AbortController();
      const body = endless((sentBytes) => {
        if (sentBytes >= 2 * partSizeBytes) cancel.abort();
      });
      const result = await uploadObject(location, body.stream, {
        ...store.options,
        partSizeBytes,
        signal: cancel.signal,
      });
      expectFailure(result, "aborted", /cancelled/);
      assert.ok(body.wasCancelled(), "the body was left open after the abort");
      expectFailure(await statObject(location, store.options), "objectNotFound", /not found/);
      if (location.kind === "s3") {
        assert.deepEqual(await pendingMultipartUploads(location), [], "parts were left behind");
      }
    },
  );
}

e2eTest("an S3 store nobody listens on fails as unreachable", async () => {
  const location = parse(`s3://bucket/${freshKey("unreachable")}?endpoint=http://127.0.0.1:9`);
  const result = await downloadObject(location, { credentials: s3Credentials() });
  expectFailure(result, "unreachable", /unreachable/);
});

/** Multipart uploads the store still holds open under the location's key. */
async function pendingMultipartUploads(location: S3Location): Promise<string[]> {
  const client = new S3Client({
    region: location.region,
    endpoint: location.endpoint,
    forcePathStyle: true,
    credentials: s3Credentials(),
  });
  try {
    const listing = await client.send(
      new ListMultipartUploadsCommand({ Bucket: location.bucket, Prefix: location.key }),
      { abortSignal: AbortSignal.timeout(10_000) },
    );
    return (listing.Uploads ?? []).map((upload) => upload.UploadId ?? "");
  } finally {
    client.destroy();
  }
}

/** Runs `etcd-operator object …` the way a restore pod does, in its own process. */
async function objectCommand(
  args: readonly string[],
  environment: Record<string, string>,
  stdin?: Uint8Array,
): Promise<{ code: number; stdout: Uint8Array; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(repoDir, "mod.ts"), "object", ...args],
    env: environment,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(stdin);
    await writer.close();
  }
  const output = await child.output();
  return {
    code: output.code,
    stdout: output.stdout,
    stderr: new TextDecoder().decode(output.stderr),
  };
}

for (const makeStore of [s3Store, gcsStore]) {
  const storeName = makeStore === s3Store ? "S3" : "GCS";

  e2eTest(
    `object put and get copy a file through ${storeName} and report size and sha256`,
    async () => {
      const store = makeStore();
      const url = formatForCli(store, freshKey("cli"));
      const payload = new Uint8Array(randomBytes(3 * mebibyte + 17));
      const directory = await Deno.makeTempDir({ prefix: "objectstore-e2e-" });
      try {
        const source = join(directory, "source.db");
        await Deno.writeFile(source, payload);
        const put = await objectCommand(["put", url, "--file", source], store.cliEnvironment);
        assert.equal(put.code, 0, put.stderr);
        const reported = JSON.parse(put.stderr.trim().split("\n").at(-1) ?? "");
        assert.deepEqual(
          { sizeBytes: reported.sizeBytes, sha256: reported.sha256 },
          { sizeBytes: payload.byteLength, sha256: sha256Of(payload) },
        );

        const target = join(directory, "restored.db");
        const get = await objectCommand(
          ["get", url, "--file", target, "--sha256", sha256Of(payload)],
          store.cliEnvironment,
        );
        assert.equal(get.code, 0, get.stderr);
        assert.equal(sha256Of(await Deno.readFile(target)), sha256Of(payload));

        const piped = await objectCommand(["get", url], store.cliEnvironment);
        assert.equal(piped.code, 0, piped.stderr);
        assert.equal(sha256Of(piped.stdout), sha256Of(payload));
      } finally {
        await Deno.remove(directory, { recursive: true });
      }
    },
  );
}

e2eTest("object get with the wrong --sha256 fails and leaves no file behind", async () => {
  const store = s3Store();
  const url = formatForCli(store, freshKey("cli-mismatch"));
  const directory = await Deno.makeTempDir({ prefix: "objectstore-e2e-" });
  try {
    const put = await objectCommand(["put", url], store.cliEnvironment, new Uint8Array(4096));
    assert.equal(put.code, 0, put.stderr);
    const target = join(directory, "restored.db");
    const get = await objectCommand(
      ["get", url, "--file", target, "--sha256", "0".repeat(64)],
      store.cliEnvironment,
    );
    assert.equal(get.code, 1);
    assert.match(get.stderr, /sha256 mismatch: expected 0{64}, got [0-9a-f]{64}/);
    assert.deepEqual([...Deno.readDirSync(directory)], [], "a partial or temporary file remained");
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
});

/** The URL a user would type for the store's test bucket. */
function formatForCli(store: Store, key: string): string {
  const location = store.location(key);
  const endpoint = location.endpoint ?? "";
  return location.kind === "s3"
    ? `s3://${location.bucket}/${key}?endpoint=${endpoint}&region=${location.region}`
    : `gs://${location.bucket}/${key}?endpoint=${endpoint}`;
}
