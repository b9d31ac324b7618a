// Preparing a backup from its spec: what a template the CRD accepted can still get wrong.
import assert from "node:assert/strict";
import { prepareBackup } from "../../../../actors/backup/prepare.ts";
import type { EtcdBackupObject } from "../../../../actors/types.ts";
import { directAccess } from "../../../../actors/member_dialer.ts";

function backupNamed(name: string, objectURLTemplate: string): EtcdBackupObject {
  return {
    apiVersion: "etcd.improbable.io/v1alpha1",
    kind: "EtcdBackup",
    metadata: {
      name,
      namespace: "ns",
      uid: "uid-1",
      generation: 1,
      creationTimestamp: "2024-01-02T03:04:05Z",
    },
    spec: {
      source: { clusterURL: "http://10.0.0.5:2379" },
      destination: { objectURLTemplate },
    },
  };
}

const deps = {
  kube: { get: () => Promise.reject(new Error("no Secret is read without credentialsSecretRef")) },
  pods: [],
  memberAccess: directAccess("podIP"),
  // An IP source and the operator's own S3 keys: both only because the administrator allowed them.
  tenancy: {
    allowExternalBackupSources: true,
    allowAmbientCredentials: true,
    ambientCredentialsEndpoints: [],
  },
  environment: (name: string) => ({ AWS_ACCESS_KEY_ID: "id", AWS_SECRET_ACCESS_KEY: "key" })[name],
};

Deno.test("a template of 2048 characters whose name renders longer fails as InvalidObjectURL", async () => {
  const short = "s3://b/{{ .Name }}/?region=eu-west-2";
  const template = short.replace("/?", `/${"k".repeat(2048 - short.length)}?`);
  const prepared = await prepareBackup(backupNamed("rendered-too-long", template), deps);
  assert.equal(prepared.kind, "failed");
  if (prepared.kind !== "failed") return;
  assert.equal(prepared.failure.reason, "InvalidObjectURL");
  assert.match(prepared.failure.message, /at most 2048 characters/);
});

Deno.test("the same template with a short name is ready to stream", async () => {
  const short = "s3://b/{{ .Name }}/?region=eu-west-2";
  const template = short.replace("/?", `/${"k".repeat(2048 - short.length)}?`);
  const prepared = await prepareBackup(backupNamed("short", template), deps);
  assert.equal(prepared.kind, "ready");
});

Deno.test("an https clusterURL naming one of our TLS clusters dials with its operator certificate, verifying the client Service's name", async () => {
  const pem = (what: string) => `-----BEGIN ${what}-----\nAA==\n-----END ${what}-----\n`;
  const objects: Record<string, unknown> = {
    "etcdclusters/ns/my-cluster": {
      metadata: { name: "my-cluster", namespace: "ns" },
      spec: { tls: { client: {}, peer: {} } },
    },
    "secrets/ns/my-cluster-tls-operator": {
      metadata: { name: "my-cluster-tls-operator", namespace: "ns" },
      data: {
        "ca.crt": btoa(pem("CERTIFICATE")),
        "tls.crt": btoa(pem("CERTIFICATE")),
        "tls.key": btoa(pem("PRIVATE KEY")),
      },
    },
  };
  const read: string[] = [];
  const backup = backupNamed("tls", "s3://b/{{ .Name }}?region=eu-west-2");
  const prepared = await prepareBackup({
    ...backup,
    spec: { ...backup.spec, source: { clusterURL: "https://my-cluster-client:2379" } },
  }, {
    ...deps,
    kube: {
      get: (resource: { plural: string }, target: { namespace?: string; name: string }) => {
        const key = `${resource.plural}/${target.namespace}/${target.name}`;
        read.push(key);
        return Promise.resolve(
          objects[key]
            ? { ok: true, value: objects[key] }
            : { ok: false, error: { kind: "notFound", message: "not found" } },
        );
      },
    } as unknown as typeof deps.kube,
    pods: [{
      metadata: {
        name: "my-cluster-0-abc",
        namespace: "ns",
        uid: "p",
        labels: { "etcd.improbable.io/cluster-name": "my-cluster" },
      },
      status: { phase: "Running", podIP: "10.0.0.9" },
    }],
  });
  assert.equal(prepared.kind, "ready", JSON.stringify(prepared));
  if (prepared.kind !== "ready") return;
  // Dialled by its pod IP (never the name), verified by the name its certificate carries.
  assert.equal(prepared.backup.endpoint, "https://10.0.0.9:2379");
  assert.deepEqual(read, ["etcdclusters/ns/my-cluster", "secrets/ns/my-cluster-tls-operator"]);
  assert.equal(prepared.backup.tls?.serverName, "my-cluster-client.ns.svc");
  assert.equal(prepared.backup.tls?.key, pem("PRIVATE KEY"));
});
