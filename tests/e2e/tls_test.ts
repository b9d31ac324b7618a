// The operations guide's TLS section, end to end: a cluster with operator-issued certificates on
// both ports, a client without a certificate refused, a leaf rotation and a full CA rotation under
// a writer that must see no write fail, then scaling and an upgrade over TLS.
import assert from "node:assert/strict";
import { request as httpsRequest } from "node:https";
import type { ClientTLS } from "../../etcd/client.ts";
import { tlsDigest } from "../../actors/tls/secrets.ts";
import { applyCAStep, issueLeaf } from "../../actors/tls/issue.ts";
import { EtcdClient } from "../../etcd/client.ts";
import {
  apply,
  e2e,
  eventually,
  getJson,
  kubectlOk,
  sampleClusterIn,
  temporaryNamespace,
} from "./support/cluster.ts";
import { clusterName, clusterStatus, healthy, waitHealthy } from "./support/health.ts";
import { startOperator } from "./support/operator.ts";
import { clientServiceIP, startWriter } from "./support/writer.ts";

interface Secret {
  metadata: { annotations?: Record<string, string> };
  data?: Record<string, string>;
}

async function secretText(namespace: string, name: string): Promise<Record<string, string>> {
  const secret = await getJson<Secret>(["secret", "-n", namespace, name]);
  return Object.fromEntries(
    Object.entries(secret?.data ?? {}).map(([key, value]) => [key, atob(value)]),
  );
}

/** What an application mounts: the client certificate for the cluster, verifying by its name. */
async function applicationTLS(namespace: string, cluster = clusterName): Promise<ClientTLS> {
  const data = await secretText(namespace, `${cluster}-tls-client`);
  return {
    ca: data["ca.crt"],
    cert: data["tls.crt"],
    key: data["tls.key"],
    serverName: `${cluster}-client.${namespace}.svc`,
  };
}

/** A client for a cluster's client Service over TLS, with `tls` (an application's certificate). */
async function serviceClient(namespace: string, cluster: string, tls: ClientTLS) {
  const serviceIP = await clientServiceIP(namespace, cluster);
  return new EtcdClient([`https://${serviceIP}:2379`], { callTimeoutMs: 10_000, tls });
}

interface Phased {
  status?: { phase?: string; readyReplicas?: number; members?: unknown[] };
}

const finished = (item: Phased | undefined) =>
  item?.status?.phase === "Completed" || item?.status?.phase === "Failed";

/** `spec.tls` on the sample cluster: both ports, operator-managed. */
function tlsCluster(namespace: string): string {
  return sampleClusterIn(namespace).replace(
    "spec:\n  replicas: 3\n",
    "spec:\n  replicas: 3\n  tls:\n    client: {}\n    peer: {}\n",
  ).replace("prometheus.io/scheme: http", "prometheus.io/scheme: https");
}

interface Pod {
  metadata: { labels?: Record<string, string>; annotations?: Record<string, string> };
  status?: { containerStatuses?: { state?: { running?: unknown } }[] };
}

/** Every member's pod runs with the current content of its Secret (its digest matches). */
async function everyMemberRolled(namespace: string, replicas: number): Promise<boolean> {
  const pods = await getJson<{ items: Pod[] }>([
    "pods",
    "-n",
    namespace,
    "-l",
    `etcd.improbable.io/cluster-name=${clusterName}`,
  ]);
  const running = (pods?.items ?? []).filter((pod) =>
    pod.status?.containerStatuses?.every((container) => container.state?.running)
  );
  if (running.length !== replicas) return false;
  for (const pod of running) {
    const peerName = pod.metadata.labels?.["etcd.improbable.io/peer-name"];
    const data = await secretText(namespace, `${peerName}-tls`);
    const digest = await tlsDigest([data, data]);
    if (pod.metadata.annotations?.["etcd.improbable.io/tls-digest"] !== digest) return false;
  }
  return healthy(await clusterStatus(namespace), replicas);
}

/** GET /version over TLS with `tls` (a certificate or none); resolves with the status or an error. */
function getVersion(
  serviceIP: string,
  tls: { ca: string; cert?: string; key?: string; serverName?: string },
): Promise<string> {
  return new Promise((resolve) => {
    const request = httpsRequest({
      host: serviceIP,
      port: 2379,
      path: "/version",
      ca: tls.ca,
      ...(tls.cert ? { cert: tls.cert, key: tls.key } : {}),
      servername: tls.serverName,
      agent: false,
      timeout: 5_000,
    }, (response) => {
      response.resume();
      response.on("end", () => resolve(`HTTP ${response.statusCode}`));
    });
    request.on("timeout", () => request.destroy(new Error("timeout")));
    request.on("error", (error) => resolve(`error: ${error.message}`));
    request.end();
  });
}

async function patchCluster(namespace: string, patch: unknown): Promise<void> {
  await kubectlOk([
    "patch",
    "etcdcluster",
    "-n",
    namespace,
    clusterName,
    "--type",
    "merge",
    "-p",
    JSON.stringify(patch),
  ]);
}

/** Runs `body` under a TLS writer at 20 keys/s; prints and asserts its counts. */
async function underTLSWriter(namespace: string, label: string, body: () => Promise<void>) {
  const started = Date.now();
  const writer = startWriter(await clientServiceIP(namespace, clusterName), 20, {
    tls: { initial: await applicationTLS(namespace), read: () => applicationTLS(namespace) },
  });
  try {
    await body();
  } finally {
    const result = await writer.stop();
    console.log(
      `${label}: ${result.acknowledged.length} writes acknowledged, ${result.failed} failed, ` +
        `${result.missing.length} lost, ${result.reloads} certificate reloads, ` +
        `${((Date.now() - started) / 1000).toFixed(0)} s`,
    );
    assert.equal(result.failed, 0, `${label}: no write may fail`);
    assert.deepEqual(result.missing, [], `${label}: no acknowledged write may be lost`);
    assert.ok(result.acknowledged.length > 0);
  }
}

/**
 * The Secret rules config/rbac/role.yaml adds for TLS, granted in the test's namespace: the shared
 * cluster's ClusterRole is whichever tree applied it last, which may predate them.
 */
async function grantSecretRules(namespace: string): Promise<void> {
  const role = await Deno.readTextFile(new URL("../../config/rbac/role.yaml", import.meta.url));
  assert.match(
    role,
    /resources: \[secrets\]\n\s+verbs: \[get, list, watch, create, update, delete\]/,
  );
  await apply(JSON.stringify({
    apiVersion: "v1",
    kind: "List",
    items: [{
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: "etcd-operator-tls-secrets", namespace },
      rules: [{
        apiGroups: [""],
        resources: ["secrets"],
        verbs: ["get", "list", "watch", "create", "update", "delete"],
      }],
    }, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "etcd-operator-tls-secrets", namespace },
      roleRef: {
        apiGroup: "rbac.authorization.k8s.io",
        kind: "Role",
        name: "etcd-operator-tls-secrets",
      },
      subjects: [{
        kind: "ServiceAccount",
        name: "etcd-operator",
        namespace: "etcd-operator-system",
      }],
    }],
  }));
}

Deno.test("TLS: operator-issued certificates, rotated under load, scaled and upgraded", async (t) => {
  await using namespace = await temporaryNamespace("e2e-tls");
  const ns = namespace.name;
  await grantSecretRules(ns);
  await using operator = startOperator(["--namespace", ns]);
  try {
    await t.step("a TLS cluster is created", async () => {
      const started = Date.now();
      await apply(tlsCluster(ns));
      await waitHealthy(ns, 3, 300);
      console.log(`created in ${((Date.now() - started) / 1000).toFixed(0)} s`);
      const cluster = await getJson<{
        status?: { tls?: { certificates?: { role: string }[] } };
      }>(["etcdcluster", "-n", ns, clusterName]);
      assert.deepEqual(
        cluster?.status?.tls?.certificates?.map((c) => c.role).sort(),
        ["applicationClient", "ca", "member", "member", "member", "operatorClient"],
      );
      assert.doesNotMatch(JSON.stringify(cluster?.status), /PRIVATE KEY|BEGIN/);
    });

    await t.step("a client without a certificate is refused", async () => {
      const serviceIP = await clientServiceIP(ns, clusterName);
      const tls = await applicationTLS(ns);
      assert.equal(await getVersion(serviceIP, tls), "HTTP 200");
      const refused = await getVersion(serviceIP, { ca: tls.ca, serverName: tls.serverName });
      assert.match(refused, /^error/, `without a certificate: ${refused}`);
    });

    await t.step("a leaf rotation under a writer fails no write", async () => {
      const before = await Promise.all(
        [0, 1, 2].map((n) => secretText(ns, `${clusterName}-${n}-tls`)),
      );
      await underTLSWriter(ns, "leaf rotation", async () => {
        // Every leaf now lives longer than the validity allows: renewed once, members rolled.
        await patchCluster(ns, { spec: { tls: { certificates: { validity: "1000h" } } } });
        await eventually(
          "every member certificate renewed and every member rolled",
          async () => {
            const now = await Promise.all(
              [0, 1, 2].map((n) => secretText(ns, `${clusterName}-${n}-tls`)),
            );
            const renewed = now.every((data, n) => data["tls.crt"] !== before[n]["tls.crt"]);
            return renewed && await everyMemberRolled(ns, 3);
          },
          (done) => done,
          300,
        );
      });
    });

    await t.step("a CA rotation under a writer fails no write", async () => {
      const caBefore = (await secretText(ns, `${clusterName}-tls-ca`))["tls.crt"];
      await underTLSWriter(ns, "CA rotation", async () => {
        await patchCluster(ns, { spec: { tls: { certificates: { caRotation: 1 } } } });
        await eventually(
          "the CA rotated through its phases and every member rolled",
          async () => {
            const ca = await secretText(ns, `${clusterName}-tls-ca`);
            const cluster = await getJson<{ status?: { tls?: { caRotationPhase?: string } } }>([
              "etcdcluster",
              "-n",
              ns,
              clusterName,
            ]);
            return ca["tls.crt"] !== caBefore && !ca["next.crt"] && !ca["previous.crt"] &&
              cluster?.status?.tls?.caRotationPhase === undefined &&
              await everyMemberRolled(ns, 3);
          },
          (done) => done,
          600,
        );
      });
      const events = await kubectlOk([
        "get",
        "events",
        "-n",
        ns,
        "-o",
        'jsonpath={range .items[*]}{.reason}{"\\n"}{end}',
      ]);
      for (const reason of ["CARotationStarted", "CARotationPhase", "MemberRestartedForTLS"]) {
        assert.ok(events.includes(reason), `an Event ${reason}`);
      }
      assert.doesNotMatch(operator.logs(), /PRIVATE KEY/);
    });

    await t.step("scaled 3 → 5 → 3 over TLS", async () => {
      const started = Date.now();
      await kubectlOk(["scale", "etcdcluster", "-n", ns, clusterName, "--replicas", "5"]);
      await waitHealthy(ns, 5, 300);
      await kubectlOk(["scale", "etcdcluster", "-n", ns, clusterName, "--replicas", "3"]);
      await waitHealthy(ns, 3, 300);
      console.log(`scaled 3 → 5 → 3 in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    });

    await t.step("upgraded 3.4.23 → 3.5.21 over TLS", async () => {
      const started = Date.now();
      await patchCluster(ns, { spec: { version: "3.5.21" } });
      await eventually(
        "every member on 3.5.21",
        () => clusterStatus(ns),
        (status) =>
          healthy(status, 3) &&
          (status as { clusterVersion?: string }).clusterVersion === "3.5.0",
        400,
      );
      console.log(`upgraded in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    });

    await t.step("backed up to MinIO over TLS and restored into a new TLS cluster", async () => {
      const s3 = e2e.s3();
      const started = Date.now();
      await apply(JSON.stringify({
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "minio", namespace: ns },
        stringData: { AWS_ACCESS_KEY_ID: s3.accessKey, AWS_SECRET_ACCESS_KEY: s3.secretKey },
      }));
      {
        using client = await serviceClient(ns, clusterName, await applicationTLS(ns));
        await client.etcd.put("tls-restore-key").value("kept");
      }
      const key = `${ns}/tls-snapshot.db`;
      await apply(JSON.stringify({
        apiVersion: "etcd.improbable.io/v1alpha1",
        kind: "EtcdBackup",
        metadata: { name: "tls-backup", namespace: ns },
        spec: {
          source: { clusterURL: `https://${clusterName}-client.${ns}.svc:2379` },
          destination: {
            objectURLTemplate:
              `s3://${s3.bucket}/${key}?endpoint=${s3.endpoint}&region=${s3.region}`,
          },
          credentialsSecretRef: { name: "minio" },
        },
      }));
      const backup = await eventually(
        "the backup",
        () => getJson<Phased>(["etcdbackup", "-n", ns, "tls-backup"]),
        finished,
        120,
      );
      assert.equal(backup?.status?.phase, "Completed", JSON.stringify(backup?.status));
      console.log(`backed up in ${((Date.now() - started) / 1000).toFixed(0)} s`);
      const source = await getJson<{ spec: Record<string, unknown> }>([
        "etcdcluster",
        "-n",
        ns,
        clusterName,
      ]);
      await apply(JSON.stringify({
        apiVersion: "etcd.improbable.io/v1alpha1",
        kind: "EtcdRestore",
        metadata: { name: "tls-restore", namespace: ns },
        spec: {
          source: {
            objectURL:
              `s3://${s3.bucket}/${key}?endpoint=${s3.inClusterEndpoint}&region=${s3.region}`,
          },
          credentialsSecretRef: { name: "minio" },
          clusterTemplate: { clusterName: "restored", spec: source?.spec },
        },
      }));
      const restore = await eventually(
        "the restore",
        () => getJson<Phased>(["etcdrestore", "-n", ns, "tls-restore"]),
        finished,
        200,
      );
      assert.equal(restore?.status?.phase, "Completed", JSON.stringify(restore?.status));
      await eventually(
        "the restored cluster: 3 healthy members",
        () => getJson<Phased>(["etcdcluster", "-n", ns, "restored"]),
        (cluster) => cluster?.status?.readyReplicas === 3 && cluster.status.members?.length === 3,
        200,
      );
      using client = await serviceClient(ns, "restored", await applicationTLS(ns, "restored"));
      assert.equal(await client.etcd.get("tls-restore-key").string(), "kept");
      console.log(`backed up and restored in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    });

    await t.step("user-provided Secrets replaced by the user roll the members", async () => {
      const byo = "byo";
      const now = Date.now();
      const ca = await applyCAStep({
        kind: "issueCA",
        subject: { commonName: "user CA" },
        notBefore: new Date(now - 300_000),
        notAfter: new Date(now + 24 * 3_600_000),
        rotation: 0,
      }, undefined);
      const serving = (commonName: string) =>
        issueLeaf({
          secretName: "",
          role: "member",
          subject: { commonName },
          profile: {
            kind: "member",
            dnsNames: [0, 1, 2].map((n) => `${byo}-${n}.${byo}.${ns}.svc`).concat(
              `${byo}-client.${ns}.svc`,
            ),
          },
          notBefore: new Date(now - 300_000),
          notAfter: new Date(now + 12 * 3_600_000),
        }, ca.data);
      const client = await issueLeaf({
        secretName: "",
        role: "operatorClient",
        subject: { commonName: "etcd-operator" },
        profile: { kind: "client" },
        notBefore: new Date(now - 300_000),
        notAfter: new Date(now + 12 * 3_600_000),
      }, ca.data);
      const secret = (name: string, data: Record<string, string>) =>
        apply(JSON.stringify({
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name, namespace: ns },
          type: "kubernetes.io/tls",
          stringData: data,
        }));
      const first = await serving("byo first");
      await secret("byo-server", first);
      await secret("byo-peer", first);
      await secret("byo-operator", client);
      await apply(
        sampleClusterIn(ns).replaceAll("my-cluster", byo).replace(
          "spec:\n  replicas: 3\n",
          "spec:\n  replicas: 3\n  tls:\n    client:\n      userProvided: " +
            "{serverSecretName: byo-server, operatorSecretName: byo-operator}\n" +
            "    peer:\n      userProvided: {secretName: byo-peer}\n",
        ),
      );
      await eventually(
        "byo: 3 healthy members",
        () => getJson<Phased>(["etcdcluster", "-n", ns, byo]),
        (cluster) => cluster?.status?.readyReplicas === 3 && cluster.status.members?.length === 3,
        200,
      );
      // The user (or cert-manager) replaces the content of the same Secrets.
      const started = Date.now();
      const second = await serving("byo second");
      await secret("byo-server", second);
      await secret("byo-peer", second);
      const digest = await tlsDigest([second, second]);
      await eventually(
        "every byo member restarted onto the new certificate",
        async () => {
          const pods = await getJson<{ items: Pod[] }>([
            "pods",
            "-n",
            ns,
            "-l",
            `etcd.improbable.io/cluster-name=${byo}`,
          ]);
          const rolled = (pods?.items ?? []).filter((pod) =>
            pod.metadata.annotations?.["etcd.improbable.io/tls-digest"] === digest &&
            pod.status?.containerStatuses?.every((container) => container.state?.running)
          );
          const cluster = await getJson<Phased>(["etcdcluster", "-n", ns, byo]);
          return rolled.length === 3 && cluster?.status?.readyReplicas === 3;
        },
        Boolean,
        300,
      );
      console.log(
        `user-provided Secrets rolled in ${((Date.now() - started) / 1000).toFixed(0)} s`,
      );
    });
  } catch (error) {
    console.log(operator.logs().split("\n").slice(-60).join("\n"));
    throw error;
  }
});
