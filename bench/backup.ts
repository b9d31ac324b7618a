// Backup throughput and memory: a ≥ 1 GiB etcd database streamed to MinIO the way EtcdBackup does
// it, against `etcdctl snapshot save` to local disk, in the same run. Needs the binaries that
// `deno task env:up` builds; starts its own etcd and MinIO on loopback and removes them after.
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { bin } from "../tests/env/config.ts";
import { EtcdClient } from "../etcd/client.ts";
import { streamSnapshot } from "../etcd/snapshot.ts";
import { uploadObject } from "../objectstore/mod.ts";
import { parseObjectURL } from "../objectstore/url.ts";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";

const targetBytes = Number(Deno.env.get("BACKUP_BENCH_BYTES") ?? 1.1 * 1024 ** 3);
const valueBytes = 1024 * 1024;
const etcdPort = 32379;
const minioPort = 39000;
const credentials = { accessKeyId: "bench-access", secretAccessKey: "bench-secret-0123456789" };

function start(
  command: string,
  args: string[],
  env: Record<string, string> = {},
): Deno.ChildProcess {
  return new Deno.Command(command, { args, env, stdout: "null", stderr: "null" }).spawn();
}

async function waitForHttp(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await response.body?.cancel();
      if (response.ok) return;
    } catch { /* not up yet */ }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${url} did not come up`);
}

async function fill(client: EtcdClient): Promise<void> {
  const value = Buffer.alloc(valueBytes);
  for (let i = 0; i * valueBytes < targetBytes; i++) {
    crypto.getRandomValues(value.subarray(0, 65536)); // incompressible enough, and cheap
    await client.etcd.put(`bench/${String(i).padStart(6, "0")}`).value(value);
  }
}

function mib(bytes: number): string {
  return `${(bytes / 1024 ** 2).toFixed(0)} MiB`;
}

const work = await Deno.makeTempDir({ prefix: "backup-bench-" });
const etcd = start(bin.etcd("etcd"), [
  "--data-dir",
  join(work, "etcd"),
  "--quota-backend-bytes",
  String(4 * 1024 ** 3),
  "--listen-client-urls",
  `http://127.0.0.1:${etcdPort}`,
  "--advertise-client-urls",
  `http://127.0.0.1:${etcdPort}`,
  "--listen-peer-urls",
  "http://127.0.0.1:32380",
  "--initial-advertise-peer-urls",
  "http://127.0.0.1:32380",
  "--initial-cluster",
  "default=http://127.0.0.1:32380",
  "--max-request-bytes",
  String(2 * valueBytes),
]); // deno-fmt-ignore
const minio = start(bin.minio(), ["server", join(work, "minio"), "--address", `127.0.0.1:${minioPort}`, "--quiet"], {
  MINIO_ROOT_USER: credentials.accessKeyId,
  MINIO_ROOT_PASSWORD: credentials.secretAccessKey,
  MINIO_BROWSER: "off",
  MINIO_UPDATE: "off",
});
try {
  await waitForHttp(`http://127.0.0.1:${etcdPort}/health`);
  await waitForHttp(`http://127.0.0.1:${minioPort}/minio/health/ready`);
  const s3 = new S3Client({
    endpoint: `http://127.0.0.1:${minioPort}`,
    region: "us-east-1",
    forcePathStyle: true,
    credentials,
  });
  await s3.send(new CreateBucketCommand({ Bucket: "bench" }));
  s3.destroy();
  {
    using client = new EtcdClient([`http://127.0.0.1:${etcdPort}`], { callTimeoutMs: 30_000 });
    const filled = performance.now();
    await fill(client);
    console.log(
      `filled ${mib(targetBytes)} in ${((performance.now() - filled) / 1000).toFixed(1)} s`,
    );
  }

  const saved = performance.now();
  const etcdctl = await new Deno.Command(bin.etcd("etcdctl"), {
    args: [`--endpoints=http://127.0.0.1:${etcdPort}`, "snapshot", "save", join(work, "local.db")],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!etcdctl.success) throw new Error(new TextDecoder().decode(etcdctl.stderr));
  const localSeconds = (performance.now() - saved) / 1000;
  const localBytes = (await Deno.stat(join(work, "local.db"))).size;

  const location = parseObjectURL(
    `s3://bench/snapshot.db?endpoint=http://127.0.0.1:${minioPort}&region=us-east-1`,
  );
  if (!location.ok) throw new Error(location.error.message);
  const rssBefore = Deno.memoryUsage().rss;
  let rssPeak = rssBefore;
  const sampler = setInterval(() => rssPeak = Math.max(rssPeak, Deno.memoryUsage().rss), 50);
  const streamed = performance.now();
  const snapshot = await streamSnapshot(
    `http://127.0.0.1:${etcdPort}`,
    AbortSignal.timeout(600_000),
  );
  if (!snapshot.ok) throw new Error(snapshot.error.message);
  const uploaded = await uploadObject(location.value, snapshot.value.stream, {
    credentials: { kind: "s3", ...credentials },
  });
  clearInterval(sampler);
  if (!uploaded.ok) throw new Error(uploaded.error.message);
  const streamSeconds = (performance.now() - streamed) / 1000;

  const rate = (bytes: number, seconds: number) =>
    `${(bytes / 1024 ** 2 / seconds).toFixed(0)} MiB/s`;
  console.log(
    `etcdctl snapshot save to disk: ${mib(localBytes)} in ${localSeconds.toFixed(1)} s (${
      rate(localBytes, localSeconds)
    })`,
  );
  console.log(
    `operator snapshot → MinIO:     ${mib(uploaded.value.sizeBytes)} in ${
      streamSeconds.toFixed(1)
    } s (${rate(uploaded.value.sizeBytes, streamSeconds)})`,
  );
  console.log(
    `operator RSS growth during the backup: ${mib(rssPeak - rssBefore)} (target ≤ 64 MiB; peak ${
      mib(rssPeak)
    })`,
  );
} finally {
  for (const child of [etcd, minio]) {
    try {
      child.kill("SIGTERM");
    } catch { /* exited */ }
    await child.status;
  }
  await Deno.remove(work, { recursive: true });
}
