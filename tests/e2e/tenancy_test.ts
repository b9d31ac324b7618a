// docs/tenancy.md end to end: a backup is refused (condition, Warning Event, nothing uploaded) when
// its source is outside its namespace or when it would need the operator's own credentials, and
// the administrator's flags allow exactly what they say.
import assert from "node:assert/strict";
import { type ObjectLocation, parseObjectURL, statObject } from "../../objectstore/mod.ts";
import {
  apply,
  type Condition,
  e2e,
  eventually,
  getJson,
  sampleClusterIn,
  temporaryNamespace,
} from "./support/cluster.ts";
import { startOperator } from "./support/operator.ts";

interface BackupItem {
  readonly status?: {
    readonly phase?: string;
    readonly objectURL?: string;
    readonly conditions?: readonly Condition[];
  };
}

function backupManifest(
  namespace: string,
  name: string,
  clusterURL: string,
  objectURLTemplate: string,
  secret?: string,
): string {
  return JSON.stringify({
    apiVersion: "etcd.improbable.io/v1alpha1",
    kind: "EtcdBackup",
    metadata: { name, namespace },
    spec: {
      source: { clusterURL },
      destination: { objectURLTemplate },
      ...(secret ? { credentialsSecretRef: { name: secret } } : {}),
    },
  });
}

async function finishedBackup(namespace: string, name: string): Promise<BackupItem> {
  const item = await eventually(
    `backup ${name}`,
    () => getJson<BackupItem>(["etcdbackup", "-n", namespace, name]),
    (found) => found?.status?.phase === "Completed" || found?.status?.phase === "Failed",
    180,
  );
  return item ?? {};
}

async function events(namespace: string, name: string): Promise<string[]> {
  const list = await getJson<{ items: { type: string; reason: string; message: string }[] }>([
    "events",
    "-n",
    namespace,
    "--field-selector",
    `involvedObject.kind=EtcdBackup,involvedObject.name=${name}`,
  ]);
  return (list?.items ?? []).map((event) => `${event.type} ${event.reason}: ${event.message}`);
}

function location(url: string): ObjectLocation {
  const parsed = parseObjectURL(url);
  if (!parsed.ok) throw new Error(parsed.error.message);
  return parsed.value;
}

/** Refused: Failed with `reason`, one Warning saying so, no upload started, no object stored. */
async function checkRefused(
  namespace: string,
  name: string,
  objectURL: string,
  reason: string,
  message: RegExp,
): Promise<void> {
  const item = await finishedBackup(namespace, name);
  const condition = item.status?.conditions?.[0];
  assert.equal(item.status?.phase, "Failed", JSON.stringify(item.status));
  assert.equal(condition?.reason, reason, condition?.message);
  assert.match(condition?.message ?? "", message);
  console.log(`${name}: ${condition?.reason}: ${condition?.message}`);
  const seen = await eventually(
    `the Warning of ${name}`,
    () => events(namespace, name),
    (list) => list.some((event) => event.startsWith("Warning BackupFailed: refused:")),
    30,
  );
  assert.ok(!seen.some((event) => /BackupStarted/.test(event)), seen.join("\n"));
  const s3 = e2e.s3();
  const stored = await statObject(location(objectURL), {
    credentials: { kind: "s3", accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey },
  });
  assert.equal(stored.ok ? "stored" : stored.error.kind, "objectNotFound", `${name}: uploaded`);
}

Deno.test("tenancy: a backup reads only its own namespace's clusters and never borrows the operator's credentials unless allowed", async (t) => {
  const s3 = e2e.s3();
  await using namespace = await temporaryNamespace("tenancy");
  const ns = namespace.name;
  const query = `endpoint=${s3.endpoint}&region=${s3.region}`;
  const urlOf = (name: string) => `s3://${s3.bucket}/${ns}/${name}.db?${query}`;
  const ownMember = `http://my-cluster-0.my-cluster.${ns}.svc:2379`;
  // The operator holds keys that would work: refusing must not depend on them failing.
  const operatorKeys = { AWS_ACCESS_KEY_ID: s3.accessKey, AWS_SECRET_ACCESS_KEY: s3.secretKey };

  {
    await using _operator = startOperator(["--namespace", ns], { env: operatorKeys });
    await apply(sampleClusterIn(ns).replace(/replicas: \d+/, "replicas: 1"));
    await eventually(
      "1 ready member",
      () =>
        getJson<{ status?: { readyReplicas?: number } }>(["etcdcluster", "-n", ns, "my-cluster"]),
      (cluster) => cluster?.status?.readyReplicas === 1,
      240,
    );
    await apply(JSON.stringify({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "minio", namespace: ns },
      stringData: operatorKeys,
    }));

    await t.step(
      "another namespace's etcd is refused, with its Secret, nothing uploaded",
      async () => {
        await apply(backupManifest(
          ns,
          "other-namespace",
          "http://my-cluster-0.my-cluster.team-b.svc:2379",
          urlOf("other-namespace"),
          "minio",
        ));
        await checkRefused(
          ns,
          "other-namespace",
          urlOf("other-namespace"),
          "SourceOutsideNamespace",
          /names namespace team-b/,
        );
      },
    );

    await t.step("an IP address (here the API server's) is refused without the flag", async () => {
      await apply(backupManifest(
        ns,
        "ip-source",
        "https://10.121.0.1:443",
        urlOf("ip-source"),
        "minio",
      ));
      await checkRefused(
        ns,
        "ip-source",
        urlOf("ip-source"),
        "SourceOutsideNamespace",
        /--allow-external-backup-sources/,
      );
    });

    await t.step("a backup without credentialsSecretRef is refused by default", async () => {
      await apply(backupManifest(ns, "no-secret", ownMember, urlOf("no-secret")));
      await checkRefused(
        ns,
        "no-secret",
        urlOf("no-secret"),
        "AmbientCredentialsRefused",
        new RegExp(`create a Secret in namespace ${ns}`),
      );
    });

    await t.step("the same source with the namespace's own Secret completes", async () => {
      await apply(backupManifest(ns, "own-secret", ownMember, urlOf("own-secret"), "minio"));
      const item = await finishedBackup(ns, "own-secret");
      assert.equal(item.status?.phase, "Completed", JSON.stringify(item.status));
    });
  }

  await t.step(
    "with --allow-ambient-credentials and the endpoint listed, the operator's own keys are used there, and only there",
    async () => {
      await using _operator = startOperator([
        "--namespace",
        ns,
        "--allow-ambient-credentials",
        "--ambient-credentials-endpoint",
        s3.endpoint,
      ], { env: operatorKeys });
      await apply(backupManifest(ns, "ambient-allowed", ownMember, urlOf("ambient-allowed")));
      const item = await finishedBackup(ns, "ambient-allowed");
      assert.equal(item.status?.phase, "Completed", JSON.stringify(item.status));
      // The same store under another name is an endpoint the administrator did not list.
      const unlisted = `s3://${s3.bucket}/${ns}/unlisted.db?endpoint=http://127.0.0.1:9000` +
        `&region=${s3.region}`;
      await apply(backupManifest(ns, "ambient-unlisted", ownMember, unlisted));
      await checkRefused(
        ns,
        "ambient-unlisted",
        urlOf("unlisted"),
        "AmbientCredentialsRefused",
        /never sent to an endpoint an object names/,
      );
    },
  );
});
