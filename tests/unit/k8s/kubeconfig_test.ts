// Finding the API server: in a pod from the service account's files (without client-node), and
// from a kubeconfig file through client-node.
import assert from "node:assert/strict";
import { dirname } from "node:path";
import { inClusterAccess, joinHostPort, runsInCluster } from "../../../k8s/in_cluster.ts";
import { loadApiServerAccess } from "../../../k8s/kubeconfig.ts";

const ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

function serviceAccountFiles(files: Record<string, string>): string {
  const dir = Deno.makeTempDirSync({ prefix: "sa-" });
  for (const [name, text] of Object.entries(files)) Deno.writeTextFileSync(`${dir}/${name}`, text);
  return dir;
}

/** A kubeconfig file with one cluster and user, written to a fresh directory; returns its path. */
function kubeconfigFile(
  cluster: Record<string, unknown>,
  user: Record<string, unknown>,
  contexts: Record<string, Record<string, unknown>>,
): string {
  const dir = Deno.makeTempDirSync({ prefix: "kubeconfig-" });
  Deno.writeTextFileSync(
    `${dir}/config`,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "c", cluster }],
      users: [{ name: "u", user }],
      contexts: Object.entries(contexts).map(([name, context]) => ({
        name,
        context: { cluster: "c", user: "u", ...context },
      })),
      "current-context": Object.keys(contexts)[0],
    }),
  );
  return `${dir}/config`;
}

const env = (vars: Record<string, string>) => (name: string) => vars[name];

Deno.test("joinHostPort brackets an IPv6 host, as net.JoinHostPort does", () => {
  const cases: [string, string, string][] = [
    ["10.96.0.1", "443", "10.96.0.1:443"],
    ["fd00::1", "443", "[fd00::1]:443"],
    ["[fd00::1]", "6443", "[fd00::1]:6443"],
    ["kubernetes.default.svc", "443", "kubernetes.default.svc:443"],
  ];
  for (const [host, port, joined] of cases) assert.equal(joinHostPort(host, port), joined);
});

Deno.test("in a pod: server from the Service variables, CA and namespace from the files", async () => {
  const dir = serviceAccountFiles({ token: "t1\n", "ca.crt": ca, namespace: "ops\n" });
  try {
    const vars = { KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "443" };
    assert.equal(runsInCluster(env(vars), dir), true);
    const access = inClusterAccess(env(vars), dir);
    assert.equal(access.server, "https://[fd00::1]:443");
    assert.equal(access.namespace, "ops");
    assert.equal(access.proxyUrl, undefined);
    assert.deepEqual(await access.tls(), { caCert: ca });
    assert.equal((await access.authHeaders()).get("authorization"), "Bearer t1");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("in a pod: a token the kubelet rotated is used from the next headers on", async () => {
  const dir = serviceAccountFiles({ token: "first", "ca.crt": ca });
  try {
    const vars = { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" };
    const access = inClusterAccess(env(vars), dir);
    assert.equal(access.namespace, undefined);
    assert.equal((await access.authHeaders()).get("authorization"), "Bearer first");
    Deno.writeTextFileSync(`${dir}/token`, "second");
    assert.equal((await access.authHeaders()).get("authorization"), "Bearer second");
    Deno.writeTextFileSync(`${dir}/token`, "");
    await assert.rejects(access.authHeaders(), /token is empty/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("not in a pod without both Service variables and the token file", () => {
  const dir = serviceAccountFiles({ "ca.crt": ca });
  try {
    const both = { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" };
    assert.equal(runsInCluster(env(both), dir), false, "no token file");
    Deno.writeTextFileSync(`${dir}/token`, "t");
    assert.equal(runsInCluster(env({ KUBERNETES_SERVICE_HOST: "10.96.0.1" }), dir), false);
    assert.equal(runsInCluster(env({}), dir), false);
    assert.equal(runsInCluster(env(both), dir), true);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a kubeconfig file: server, context namespace, CA and token, through client-node", async () => {
  const path = kubeconfigFile(
    { server: "https://10.0.0.1:6443/", "certificate-authority-data": btoa(ca) },
    { token: "secret-token" },
    { a: { namespace: "team-a" }, b: {} },
  );
  try {
    const access = await loadApiServerAccess({ path });
    assert.equal(access.server, "https://10.0.0.1:6443");
    assert.equal(access.namespace, "team-a");
    assert.equal((await access.tls()).caCert, ca);
    assert.equal((await access.authHeaders()).get("authorization"), "Bearer secret-token");
    const other = await loadApiServerAccess({ path, context: "b" });
    assert.equal(other.namespace, undefined);
  } finally {
    Deno.removeSync(dirname(path), { recursive: true });
  }
});

Deno.test("a kubeconfig that skips TLS verification is refused, not silently honoured", async () => {
  const path = kubeconfigFile({ server: "https://x:6443", "insecure-skip-tls-verify": true }, {}, {
    a: {},
  });
  try {
    await assert.rejects(loadApiServerAccess({ path }), /insecure-skip-tls-verify/);
  } finally {
    Deno.removeSync(dirname(path), { recursive: true });
  }
});
