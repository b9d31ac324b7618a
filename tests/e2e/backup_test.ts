// The operations guide's backup sections end to end: one-off backups to MinIO and fake-gcs-server
// with size and sha256 checked against the stored object, clear failures, and scheduled backups.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { EtcdClient } from "../../etcd/client.ts";
import {
  downloadObject,
  formatObjectURL,
  type ObjectLocation,
  parseObjectURL,
  type TransferOptions,
} from "../../objectstore/mod.ts";
import {
  apply,
  type Condition,
  e2e,
  eventually,
  getJson,
  kubectlOk,
  sampleClusterIn,
  temporaryNamespace,
} from "./support/cluster.ts";
import { startOperator } from "./support/operator.ts";

interface BackupStatus {
  readonly phase?: string;
  readonly startTime?: string;
  readonly completionTime?: string;
  readonly objectURL?: string;
  readonly sizeBytes?: number;
  readonly revision?: number;
  readonly sha256?: string;
  readonly conditions?: readonly Condition[];
}

interface BackupItem {
  readonly metadata: {
    readonly name: string;
    readonly uid: string;
    readonly annotations?: Record<string, string>;
    readonly ownerReferences?: readonly { kind: string; name: string; controller?: boolean }[];
  };
  readonly status?: BackupStatus;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function clusterReady(namespace: string): Promise<boolean> {
  const cluster = await getJson<{ status?: { readyReplicas?: number; members?: unknown[] } }>(
    ["etcdcluster", "-n", namespace, "my-cluster"],
  );
  return cluster?.status?.readyReplicas === 3 && cluster.status.members?.length === 3;
}

async function podIPs(namespace: string): Promise<string[]> {
  const pods = await getJson<{ items: { status: { podIP?: string } }[] }>(
    ["pods", "-n", namespace, "-l", "etcd.improbable.io/cluster-name=my-cluster"],
  );
  return (pods?.items ?? []).flatMap((pod) => pod.status.podIP ? [pod.status.podIP] : []);
}

/** Known keys, written from the host to the members' pod IPs (the host routes pod IPs). */
async function putKeys(namespace: string, keys: Record<string, string>): Promise<void> {
  const endpoints = (await podIPs(namespace)).map((ip) => `http://${ip}:2379`);
  using client = new EtcdClient(endpoints, { callTimeoutMs: 10_000 });
  for (const [key, value] of Object.entries(keys)) await client.etcd.put(key).value(value);
}

function backupManifest(
  namespace: string,
  name: string,
  objectURLTemplate: string,
  options: { clusterURL?: string; secret?: string } = {},
): string {
  return JSON.stringify({
    apiVersion: "etcd.improbable.io/v1alpha1",
    kind: "EtcdBackup",
    metadata: { name, namespace },
    spec: {
      source: {
        clusterURL: options.clusterURL ??
          `http://my-cluster-0.my-cluster.${namespace}.svc:2379`,
      },
      destination: { objectURLTemplate },
      ...(options.secret ? { credentialsSecretRef: { name: options.secret } } : {}),
    },
  });
}

function secretManifest(namespace: string, name: string, id: string, key: string): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, namespace },
    stringData: { AWS_ACCESS_KEY_ID: id, AWS_SECRET_ACCESS_KEY: key },
  });
}

function backup(namespace: string, name: string): Promise<BackupItem | undefined> {
  return getJson<BackupItem>(["etcdbackup", "-n", namespace, name]);
}

function finished(item: BackupItem | undefined): boolean {
  return item?.status?.phase === "Completed" || item?.status?.phase === "Failed";
}

async function eventReasons(namespace: string, name: string): Promise<string[]> {
  const events = await getJson<{ items: { reason: string; message: string }[] }>([
    "events",
    "-n",
    namespace,
    "--field-selector",
    `involvedObject.kind=EtcdBackup,involvedObject.name=${name}`,
  ]);
  return (events?.items ?? []).map((event) => `${event.reason}: ${event.message}`);
}

/** Downloads the object and hashes it as it streams; also says whether `needle` is in it. */
async function digestOf(
  location: ObjectLocation,
  options: TransferOptions,
  needle: string,
): Promise<{ sizeBytes: number; sha256: string; containsNeedle: boolean }> {
  const download = await downloadObject(location, options);
  if (!download.ok) throw new Error(download.error.message);
  const hash = createHash("sha256");
  let sizeBytes = 0;
  let text = "";
  const decoder = new TextDecoder("latin1");
  for await (const chunk of download.value.stream) {
    hash.update(chunk);
    sizeBytes += chunk.byteLength;
    text += decoder.decode(chunk, { stream: true });
  }
  return { sizeBytes, sha256: hash.digest("hex"), containsNeedle: text.includes(needle) };
}

function location(url: string): ObjectLocation {
  const parsed = parseObjectURL(url);
  if (!parsed.ok) throw new Error(parsed.error.message);
  return parsed.value;
}

async function checkCompleted(
  namespace: string,
  name: string,
  expectedURL: string,
  options: TransferOptions,
): Promise<void> {
  const item = await eventually(
    `backup ${name}`,
    () => backup(namespace, name),
    finished,
  );
  const status = item?.status ?? {};
  assert.equal(status.phase, "Completed", JSON.stringify(status));
  assert.equal(status.objectURL, formatObjectURL(location(expectedURL)));
  assert.ok(status.startTime && status.completionTime, "start and completion times");
  assert.ok((status.revision ?? 0) > 1, `revision ${status.revision}`);
  assert.match(status.sha256 ?? "", /^[0-9a-f]{64}$/);
  assert.deepEqual(
    status.conditions?.map((c) => [c.type, c.status, c.reason]),
    [["Completed", "True", "Succeeded"]],
  );
  const stored = await digestOf(location(expectedURL), options, "backup-key-2");
  assert.equal(stored.sizeBytes, status.sizeBytes, "size in status = size stored");
  assert.equal(stored.sha256, status.sha256, "sha256 in status = sha256 of the stored object");
  assert.ok(stored.containsNeedle, "the snapshot holds the keys written before it");
  const events = await eventReasons(namespace, name);
  assert.ok(events.some((event) => event.startsWith("BackupSucceeded:")), events.join("\n"));
  assert.equal(item?.metadata.annotations?.["etcd.improbable.io/backup-attempts"], "1");
}

async function checkFailed(
  namespace: string,
  name: string,
  reason: string,
  message: RegExp,
): Promise<void> {
  const item = await eventually(
    `backup ${name}`,
    () => backup(namespace, name),
    finished,
  );
  const condition = item?.status?.conditions?.[0];
  assert.equal(item?.status?.phase, "Failed", JSON.stringify(item?.status));
  assert.equal(condition?.reason, reason, condition?.message);
  assert.match(condition?.message ?? "", message);
  console.log(`${name}: ${condition?.reason}: ${condition?.message}`);
  const events = await eventReasons(namespace, name);
  assert.ok(events.some((event) => event.startsWith("BackupFailed:")), events.join("\n"));
}

async function scheduledBackups(namespace: string, schedule: string): Promise<BackupItem[]> {
  const list = await getJson<{ items: BackupItem[] }>(
    ["etcdbackups", "-n", namespace, "-l", `etcd.improbable.io/backup-schedule=${schedule}`],
  );
  return list?.items ?? [];
}

Deno.test("backups and scheduled backups: snapshots of a 3-member cluster stream to MinIO and fake-gcs with size and sha256, failures say what to fix, a schedule creates and prunes", async (t) => {
  const s3 = e2e.s3();
  const gcs = e2e.gcs();
  await using namespace = await temporaryNamespace("backup");
  const ns = namespace.name;
  // Scoped to our namespace, so another test's operator elsewhere never shares our objects.
  // External sources allowed: "unreachable-etcd" below dials a loopback port, which a strict
  // operator refuses before dialling (tests/e2e/tenancy_test.ts covers that refusal).
  await using operator = startOperator(["--namespace", ns, "--allow-external-backup-sources"]);
  try {
    await apply(sampleClusterIn(ns));
    await eventually("3 healthy members", () => clusterReady(ns), (ready) => ready, 240);
    await putKeys(ns, { "backup-key-1": "one", "backup-key-2": "two" });
    await apply(secretManifest(ns, "minio", s3.accessKey, s3.secretKey));
    const s3Query = `endpoint=${s3.endpoint}&region=${s3.region}`;

    // The schedule ticks in the background while the one-off backups run.
    const scheduleStarted = Date.now();
    await apply(JSON.stringify({
      apiVersion: "etcd.improbable.io/v1alpha1",
      kind: "EtcdBackupSchedule",
      metadata: { name: "every-minute", namespace: ns },
      spec: {
        schedule: "*/1 * * * *",
        successfulBackupsHistoryLimit: 1,
        failedBackupsHistoryLimit: 1,
        backupTemplate: {
          source: { clusterURL: `http://my-cluster-1.my-cluster.${ns}.svc:2379` },
          destination: { objectURLTemplate: `s3://${s3.bucket}/${ns}/{{ .UID }}.db?${s3Query}` },
          credentialsSecretRef: { name: "minio" },
        },
      },
    }));

    await t.step("a backup to MinIO with credentials from a Secret completes", async () => {
      const template = `s3://${s3.bucket}/${ns}/{{ .Name }}.db?${s3Query}`;
      await apply(backupManifest(ns, "to-minio", template, { secret: "minio" }));
      await checkCompleted(ns, "to-minio", template.replace("{{ .Name }}", "to-minio"), {
        credentials: { kind: "s3", accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey },
      });
    });

    await t.step("a backup to fake-gcs-server named by its UID completes", async () => {
      const template = `gs://${gcs.bucket}/${ns}/{{ .UID }}.db?endpoint=${gcs.endpoint}`;
      await apply(backupManifest(ns, "to-gcs", template));
      const uid = (await backup(ns, "to-gcs"))?.metadata.uid ?? "";
      await checkCompleted(ns, "to-gcs", template.replace("{{ .UID }}", uid), {});
    });

    await t.step("failures end in Failed with a message that says what to fix", async () => {
      await apply(secretManifest(ns, "wrong", s3.accessKey, "not-the-secret-key"));
      const key = `${ns}/{{ .Name }}.db`;
      await apply(
        backupManifest(ns, "unknown-bucket", `s3://no-such-bucket-e2e/${key}?${s3Query}`, {
          secret: "minio",
        }),
      );
      await apply(
        backupManifest(ns, "bad-credentials", `s3://${s3.bucket}/${key}?${s3Query}`, {
          secret: "wrong",
        }),
      );
      await apply(
        backupManifest(ns, "unreachable-etcd", `s3://${s3.bucket}/${key}?${s3Query}`, {
          secret: "minio",
          // Loopback's discard port: nothing listens, and nothing leaves the machine.
          clusterURL: "http://127.0.0.1:9",
        }),
      );
      await apply(
        backupManifest(ns, "missing-secret", `s3://${s3.bucket}/${key}?${s3Query}`, {
          secret: "absent",
        }),
      );
      // The CRD refuses a malformed template at apply time (crd_validation_test.ts); what only
      // rendering shows is the length: this name is longer than "{{ .Name }}", which pushes a
      // template of exactly 2048 characters past the limit.
      const short = `s3://${s3.bucket}/{{ .Name }}/?${s3Query}`;
      const longTemplate = short.replace("/?", `/${"k".repeat(2048 - short.length)}?`);
      await apply(backupManifest(ns, "rendered-too-long", longTemplate));
      await checkFailed(ns, "unknown-bucket", "BucketNotFound", /create the bucket/);
      await checkFailed(ns, "bad-credentials", "AccessDenied", /check the credentials/);
      await checkFailed(ns, "unreachable-etcd", "EtcdUnreachable", /cannot reach etcd at/);
      await checkFailed(ns, "missing-secret", "SecretNotFound", /Secret .*absent.* does not exist/);
      await checkFailed(ns, "rendered-too-long", "InvalidObjectURL", /at most 2048 characters/);
      // No retry storm: a failed backup stays failed and is not attempted again.
      await sleep(3000);
      const after = await backup(ns, "unknown-bucket");
      assert.equal(after?.status?.phase, "Failed");
      assert.equal(after?.metadata.annotations?.["etcd.improbable.io/backup-attempts"], "1");
      const started = (await eventReasons(ns, "unknown-bucket"))
        .filter((event) => event.startsWith("BackupStarted"));
      assert.equal(started.length, 1, "started once");
    });

    await t.step(
      "the schedule creates a backup per minute and keeps only the newest success",
      async () => {
        const seen = new Set<string>();
        const settled = await eventually(
          "two ticks, the older backup pruned",
          async () => {
            const items = await scheduledBackups(ns, "every-minute");
            for (const item of items) seen.add(item.metadata.name);
            return items;
          },
          (items) => seen.size >= 2 && items.length === 1 && items[0].status?.phase === "Completed",
          200,
        );
        console.log(
          `two ticks and a prune: ${((Date.now() - scheduleStarted) / 1000).toFixed(0)} s`,
        );
        for (const name of seen) assert.match(name, /^every-minute-\d{12}00$/);
        const newest = [...seen].sort().at(-1);
        assert.equal(settled[0].metadata.name, newest, "the newest is kept");
        assert.deepEqual(
          settled[0].metadata.ownerReferences?.map((o) => [o.kind, o.name, o.controller]),
          [["EtcdBackupSchedule", "every-minute", true]],
        );
        const stamp = newest?.slice("every-minute-".length) ?? "";
        const tick = `${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T` +
          `${stamp.slice(8, 10)}:${stamp.slice(10, 12)}:00Z`;
        // The schedule's status follows the backup it created (a tick may land in between,
        // moving it on to a later minute, never back).
        const schedule = await eventually(
          `lastScheduleTime at ${tick} or later`,
          () =>
            getJson<{
              status?: { lastScheduleTime?: string; lastSuccessfulTime?: string };
            }>(["etcdbackupschedule", "-n", ns, "every-minute"]),
          (current) => (current?.status?.lastScheduleTime ?? "") >= tick,
          30,
        );
        assert.ok(schedule?.status?.lastSuccessfulTime, "lastSuccessfulTime is set");
      },
    );

    await t.step("deleting the schedule takes its backups with it", async () => {
      await kubectlOk(["delete", "etcdbackupschedule", "-n", ns, "every-minute"]);
      await eventually(
        "the schedule's backups garbage-collected",
        () => scheduledBackups(ns, "every-minute"),
        (items) => items.length === 0,
        60,
      );
    });
  } catch (error) {
    console.error(`operator logs:\n${operator.logs().slice(-20_000)}`);
    throw error;
  }
});
