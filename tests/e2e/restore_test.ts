// The operations guide's restore section end to end: a MinIO backup of a 3-member cluster holding
// known keys is restored into new clusters (etcd 3.4 with etcdctl, 3.5 with etcdutl) that come up
// healthy and hold every key; restoring onto an existing cluster fails and touches nothing.
import assert from "node:assert/strict";
import { parse as parseYaml } from "yaml";
import { EtcdClient } from "../../etcd/client.ts";
import {
  apply,
  type Condition,
  e2e,
  eventually,
  getJson,
  kubectl,
  sampleCluster,
  sampleClusterIn,
  temporaryNamespace,
} from "./support/cluster.ts";
import { startOperator } from "./support/operator.ts";

interface Phased {
  readonly metadata: { readonly uid: string; readonly resourceVersion: string };
  readonly status?: { readonly phase?: string; readonly conditions?: readonly Condition[] };
}

async function clusterReady(namespace: string, name: string, replicas: number): Promise<boolean> {
  const cluster = await getJson<{ status?: { readyReplicas?: number; members?: unknown[] } }>(
    ["etcdcluster", "-n", namespace, name],
  );
  return cluster?.status?.readyReplicas === replicas &&
    cluster.status.members?.length === replicas;
}

async function endpoints(namespace: string, cluster: string): Promise<string[]> {
  const pods = await getJson<{ items: { status: { podIP?: string } }[] }>(
    ["pods", "-n", namespace, "-l", `etcd.improbable.io/cluster-name=${cluster}`],
  );
  return (pods?.items ?? []).flatMap((pod) =>
    pod.status.podIP ? [`http://${pod.status.podIP}:2379`] : []
  );
}

async function eventReasons(namespace: string, name: string): Promise<string[]> {
  const events = await getJson<{ items: { reason: string; message: string }[] }>([
    "events",
    "-n",
    namespace,
    "--field-selector",
    `involvedObject.kind=EtcdRestore,involvedObject.name=${name}`,
  ]);
  return (events?.items ?? []).map((event) => `${event.reason}: ${event.message}`);
}

function restoreManifest(
  namespace: string,
  name: string,
  objectURL: string,
  clusterName: string,
  clusterSpec: Record<string, unknown>,
): string {
  return JSON.stringify({
    apiVersion: "etcd.improbable.io/v1alpha1",
    kind: "EtcdRestore",
    metadata: { name, namespace },
    spec: {
      source: { objectURL },
      credentialsSecretRef: { name: "minio" },
      clusterTemplate: { clusterName, spec: clusterSpec },
    },
  });
}

function restore(namespace: string, name: string): Promise<Phased | undefined> {
  return getJson<Phased>(["etcdrestore", "-n", namespace, name]);
}

const finished = (item: Phased | undefined) =>
  item?.status?.phase === "Completed" || item?.status?.phase === "Failed";

const keys: Record<string, string> = {
  "restore-key-1": "one",
  "restore-key-2": "two",
  "/nested/restore-key-3": "three",
};

async function readKeys(namespace: string, cluster: string): Promise<Record<string, string>> {
  using client = new EtcdClient(await endpoints(namespace, cluster), { callTimeoutMs: 10_000 });
  const read: Record<string, string> = {};
  for (const key of Object.keys(keys)) read[key] = await client.etcd.get(key).string() ?? "";
  return read;
}

Deno.test("restore: a MinIO backup of a 3-member cluster restores into new 3.4 and 3.5 clusters holding every key; an existing cluster is refused untouched", async (t) => {
  const s3 = e2e.s3();
  await using namespace = await temporaryNamespace("restore");
  const ns = namespace.name;
  await using operator = startOperator(["--namespace", ns]);
  try {
    const source = parseYaml(sampleCluster) as { spec: Record<string, unknown> };
    await apply(sampleClusterIn(ns));
    await apply(JSON.stringify({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "minio", namespace: ns },
      stringData: { AWS_ACCESS_KEY_ID: s3.accessKey, AWS_SECRET_ACCESS_KEY: s3.secretKey },
    }));
    await eventually("3 healthy members", () => clusterReady(ns, "my-cluster", 3), Boolean, 240);
    {
      using client = new EtcdClient(await endpoints(ns, "my-cluster"), { callTimeoutMs: 10_000 });
      for (const [key, value] of Object.entries(keys)) await client.etcd.put(key).value(value);
    }
    const key = `${ns}/snapshot.db`;
    // The operator (on the host) writes through the host's endpoint, the pods read in-cluster.
    await apply(JSON.stringify({
      apiVersion: "etcd.improbable.io/v1alpha1",
      kind: "EtcdBackup",
      metadata: { name: "before", namespace: ns },
      spec: {
        source: { clusterURL: `http://my-cluster-0.my-cluster.${ns}.svc:2379` },
        destination: {
          objectURLTemplate: `s3://${s3.bucket}/${key}?endpoint=${s3.endpoint}&region=${s3.region}`,
        },
        credentialsSecretRef: { name: "minio" },
      },
    }));
    const backup = await eventually(
      "backup",
      () => getJson<Phased>(["etcdbackup", "-n", ns, "before"]),
      finished,
      90,
    );
    assert.equal(backup?.status?.phase, "Completed", JSON.stringify(backup?.status));
    const objectURL =
      `s3://${s3.bucket}/${key}?endpoint=${s3.inClusterEndpoint}&region=${s3.region}`;

    await t.step("restoring onto the existing cluster fails and touches nothing", async () => {
      const before = await getJson<Phased>(["etcdcluster", "-n", ns, "my-cluster"]);
      await apply(restoreManifest(ns, "onto-existing", objectURL, "my-cluster", source.spec));
      const item = await eventually("refusal", () => restore(ns, "onto-existing"), finished, 60);
      const condition = item?.status?.conditions?.[0];
      assert.equal(item?.status?.phase, "Failed", JSON.stringify(item?.status));
      assert.equal(condition?.reason, "ClusterExists");
      assert.match(condition?.message ?? "", /already exists.*touched nothing/);
      const events = await eventReasons(ns, "onto-existing");
      assert.ok(events.some((event) => event.startsWith("RestoreFailed:")), events.join("\n"));
      const pods = await getJson<{ items: unknown[] }>(
        ["pods", "-n", ns, "-l", "etcd.improbable.io/restore"],
      );
      assert.equal(pods?.items.length, 0, "no restore pod");
      const claims = await getJson<{ items: { metadata: { labels?: Record<string, string> } }[] }>(
        ["pvc", "-n", ns, "-l", "etcd.improbable.io/cluster-name=my-cluster"],
      );
      assert.equal(claims?.items.length, 3);
      assert.ok(
        claims?.items.every((claim) => !claim.metadata.labels?.["etcd.improbable.io/restore"]),
        "the cluster's PVCs are not relabelled",
      );
      const after = await getJson<Phased>(["etcdcluster", "-n", ns, "my-cluster"]);
      assert.equal(after?.metadata.uid, before?.metadata.uid);
    });

    await t.step("restores into new clusters complete and hold every key", async () => {
      await apply(restoreManifest(ns, "to-v34", objectURL, "restored", source.spec));
      await apply(
        restoreManifest(ns, "to-v35", objectURL, "restored-v35", {
          ...source.spec,
          replicas: 1,
          version: "3.5.21",
        }),
      );
      for (
        const [name, cluster, replicas] of [["to-v34", "restored", 3], [
          "to-v35",
          "restored-v35",
          1,
        ]] as const
      ) {
        const item = await eventually(`restore ${name}`, () => restore(ns, name), finished, 150);
        assert.equal(item?.status?.phase, "Completed", JSON.stringify(item?.status));
        const events = await eventReasons(ns, name);
        // The download is checked against the sha256 the backup recorded.
        const sha256 = (backup?.status as { sha256?: string } | undefined)?.sha256 ?? "none";
        assert.ok(
          events.some((event) => event.startsWith("RestoreStarted:") && event.includes(sha256)),
          events.join("\n"),
        );
        assert.ok(events.some((event) => event.startsWith("RestoreCompleted:")), events.join("\n"));
        await eventually(
          `${cluster}: ${replicas} healthy members`,
          () => clusterReady(ns, cluster, replicas),
          Boolean,
          150,
        );
        assert.deepEqual(await readKeys(ns, cluster), keys);
      }
    });

    await t.step(
      "a backup in fake-gcs-server restores into a new cluster holding every key",
      async () => {
        const gcs = e2e.gcs();
        const gcsKey = `${ns}/snapshot-gcs.db`;
        await apply(JSON.stringify({
          apiVersion: "etcd.improbable.io/v1alpha1",
          kind: "EtcdBackup",
          metadata: { name: "before-gcs", namespace: ns },
          spec: {
            source: { clusterURL: `http://my-cluster-0.my-cluster.${ns}.svc:2379` },
            destination: {
              objectURLTemplate: `gs://${gcs.bucket}/${gcsKey}?endpoint=${gcs.endpoint}`,
            },
          },
        }));
        const gcsBackup = await eventually(
          "GCS backup",
          () => getJson<Phased>(["etcdbackup", "-n", ns, "before-gcs"]),
          finished,
          90,
        );
        assert.equal(gcsBackup?.status?.phase, "Completed", JSON.stringify(gcsBackup?.status));
        const gcsURL = `gs://${gcs.bucket}/${gcsKey}?endpoint=${gcs.inClusterEndpoint}`;
        await apply(
          restoreManifest(ns, "from-gcs", gcsURL, "restored-gcs", source.spec),
        );
        const item = await eventually(
          "restore from-gcs",
          () => restore(ns, "from-gcs"),
          finished,
          150,
        );
        assert.equal(item?.status?.phase, "Completed", JSON.stringify(item?.status));
        await eventually(
          "restored-gcs: 3 healthy members",
          () => clusterReady(ns, "restored-gcs", 3),
          Boolean,
          150,
        );
        assert.deepEqual(await readKeys(ns, "restored-gcs"), keys);
      },
    );
  } catch (error) {
    console.error(operator.logs().split("\n").slice(-60).join("\n"));
    const pods = await kubectl(["get", "pods,pvc,etcdrestores", "-n", ns, "-o", "wide"]);
    console.error(pods.stdout);
    throw error;
  }
});
