// The operations guide's TLS section, end to end: a cluster with operator-issued certificates on
// both ports, a client without a certificate refused, a leaf rotation and a full CA rotation under
// a writer that must see no write fail, then scaling and an upgrade over TLS.
import assert from "node:assert/strict";
import { request as httpsRequest } from "node:https";
import type { ClientTLS } from "../../etcd/client.ts";
import { tlsDigest } from "../../actors/tls/secrets.ts";
import {
  apply,
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
async function applicationTLS(namespace: string): Promise<ClientTLS> {
  const data = await secretText(namespace, `${clusterName}-tls-client`);
  return {
    ca: data["ca.crt"],
    cert: data["tls.crt"],
    key: data["tls.key"],
    serverName: `${clusterName}-client.${namespace}.svc`,
  };
}

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

Deno.test("TLS: operator-issued certificates, rotated under load, scaled and upgraded", async (t) => {
  await using namespace = await temporaryNamespace("e2e-tls");
  const ns = namespace.name;
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
  } catch (error) {
    console.log(operator.logs().split("\n").slice(-60).join("\n"));
    throw error;
  }
});
