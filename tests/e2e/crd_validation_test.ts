// The CRDs as the apiserver enforces them: what `kubectl apply` accepts and rejects, and why.
//
// Everything here is checked at apply time by the schemas and CEL rules in crds/, with no operator
// and no webhook running. Rejections must name the field and say what is wrong with it.
import assert from "node:assert/strict";
import { parse } from "yaml";
import {
  objectURLRules,
  objectURLTemplateRules,
  type URLErrorKind,
  type URLRule,
} from "../../objectstore/url_rules.ts";
import { objectURLCases, objectURLTemplateCases, type URLCase } from "../shared/object_urls.ts";
import { type CommandResult, kubectl, kubectlOk, temporaryNamespace } from "./support/cluster.ts";

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
type Manifest = { [key: string]: Json };

const repoRoot = new URL("../../", import.meta.url);
const crdDir = new URL("crds/", repoRoot).pathname;

type Sample = "etcdcluster" | "etcdbackup" | "etcdbackupschedule" | "etcdrestore";

function sample(kind: Sample): Manifest {
  const path = new URL(`config/samples/etcd_v1alpha1_${kind}.yaml`, repoRoot);
  return parse(Deno.readTextFileSync(path)) as Manifest;
}

/** A change to a manifest: set the value at a path, or delete it when `value` is undefined. */
interface Edit {
  readonly path: readonly string[];
  readonly value?: Json;
}
const set = (path: string, value: Json): Edit => ({ path: path.split("."), value });
const unset = (path: string): Edit => ({ path: path.split(".") });

function edited(manifest: Manifest, edits: readonly Edit[]): Manifest {
  const copy = structuredClone(manifest);
  for (const { path, value } of edits) {
    let node = copy;
    for (const key of path.slice(0, -1)) {
      const child = node[key];
      if (typeof child !== "object" || child === null || Array.isArray(child)) node[key] = {};
      node = node[key] as Manifest;
    }
    const last = path[path.length - 1];
    if (value === undefined) delete node[last];
    else node[last] = value;
  }
  return copy;
}

/** A server-side dry-run create: full validation, nothing stored. Text is sent as written (YAML). */
function dryRunCreate(namespace: string, manifest: Manifest | string): Promise<CommandResult> {
  return kubectl(["create", "--dry-run=server", "-n", namespace, "-o", "json", "-f", "-"], {
    stdin: typeof manifest === "string" ? manifest : JSON.stringify(manifest),
  });
}

async function create(namespace: string, manifest: Manifest): Promise<void> {
  await kubectlOk(["create", "-n", namespace, "-f", "-"], { stdin: JSON.stringify(manifest) });
}

/** A server-side dry-run merge patch of a stored object: the update path, with oldSelf. */
function dryRunPatch(
  namespace: string,
  resource: string,
  patch: Manifest,
): Promise<CommandResult> {
  return kubectl([
    "patch",
    "-n",
    namespace,
    resource,
    "--type=merge",
    "--dry-run=server",
    "-p",
    JSON.stringify(patch),
  ]);
}

function assertRejected(result: CommandResult, field: string, message: RegExp): void {
  assert.equal(
    result.success,
    false,
    `expected a rejection naming ${field}, got:\n${result.stdout}`,
  );
  // Schema and CEL errors read "<field>: …"; strict decoding names a misspelt field in quotes.
  assert.ok(
    result.stderr.includes(`${field}:`) || result.stderr.includes(`unknown field "${field}"`),
    `the rejection should name ${field}:\n${result.stderr.slice(0, 4000)}`,
  );
  assert.match(result.stderr, message);
}

function assertAccepted(result: CommandResult): void {
  assert.equal(result.success, true, `expected the apiserver to accept it:\n${result.stderr}`);
}

Deno.test("the CRDs in crds/ are accepted by the apiserver and become established", async () => {
  await kubectlOk(["apply", "-f", crdDir]);
  const names = [...Deno.readDirSync(crdDir)]
    .filter((entry) => entry.name.endsWith(".yaml"))
    .map((entry) =>
      `crd/${
        entry.name.replace(/^etcd\.improbable\.io_/, "").replace(/\.yaml$/, "")
      }.etcd.improbable.io`
    );
  assert.equal(names.length, 5);
  await kubectlOk(["wait", "--for=condition=Established", "--timeout=60s", ...names]);
});

// ---------------------------------------------------------------------------------------------
// Creating objects: rejected, naming the field.

interface Rejection {
  readonly name: string;
  readonly sample: Sample;
  readonly edits: readonly Edit[];
  readonly field: string;
  readonly message: RegExp;
}

const annotations = "spec.podTemplate.metadata.annotations";
const claim = "spec.storage.volumeClaimTemplate";
const templateSpec = "spec.clusterTemplate.spec";

const rejectedAtCreation: readonly Rejection[] = [
  {
    name: 'an EtcdCluster with version "foo" is rejected as not a semantic version',
    sample: "etcdcluster",
    edits: [set("spec.version", "foo")],
    field: "spec.version",
    message: /version "foo" is not a semantic version X\.Y\.Z/,
  },
  {
    name: 'an EtcdCluster with version "3.5" is rejected as not a full X.Y.Z version',
    sample: "etcdcluster",
    edits: [set("spec.version", "3.5")],
    field: "spec.version",
    message: /version "3\.5" is not a semantic version X\.Y\.Z/,
  },
  {
    name:
      "an EtcdCluster with version 4.0.0 is rejected because only etcd major version 3 is supported",
    sample: "etcdcluster",
    edits: [set("spec.version", "4.0.0")],
    field: "spec.version",
    message: /only etcd major version 3 is supported/,
  },
  {
    name: "an EtcdCluster without a version is rejected",
    sample: "etcdcluster",
    edits: [unset("spec.version")],
    field: "spec.version",
    message: /Required value/,
  },
  {
    name: "an EtcdCluster with zero replicas is rejected",
    sample: "etcdcluster",
    edits: [set("spec.replicas", 0)],
    field: "spec.replicas",
    message: /greater than or equal to 1/,
  },
  {
    name: "an EtcdCluster without a storageClassName is rejected",
    sample: "etcdcluster",
    edits: [unset(`${claim}.storageClassName`)],
    field: `${claim}.storageClassName`,
    message: /Required value/,
  },
  {
    name: "an EtcdCluster without a storage request is rejected",
    sample: "etcdcluster",
    edits: [set(`${claim}.resources.requests`, {})],
    field: `${claim}.resources.requests.storage`,
    message: /Required value/,
  },
  {
    name: "an EtcdCluster asking for zero bytes of storage is rejected",
    sample: "etcdcluster",
    edits: [set(`${claim}.resources.requests.storage`, "0Mi")],
    field: `${claim}.resources.requests.storage`,
    message: /storage must be a positive quantity/,
  },
  {
    name:
      "an EtcdCluster with a pod annotation under the reserved etcd.improbable.io/ prefix is rejected",
    sample: "etcdcluster",
    edits: [{
      path: [...annotations.split("."), "etcd.improbable.io/cluster-name"],
      value: "other",
    }],
    field: annotations,
    message: /prefix etcd\.improbable\.io\/ are reserved for the operator/,
  },
  {
    name: "an EtcdCluster whose name is not a DNS label is rejected, since it names the Service",
    sample: "etcdcluster",
    edits: [set("metadata.name", "my.cluster")],
    field: "metadata.name",
    message: /name "my\.cluster" must be a DNS label/,
  },
  {
    name: "an EtcdBackup to an ftp:// destination is rejected: only s3:// and gs:// are supported",
    sample: "etcdbackup",
    edits: [set("spec.destination.objectURLTemplate", "ftp://backups/snapshot.db")],
    field: "spec.destination.objectURLTemplate",
    message: /must start with s3:\/\/ or gs:\/\//,
  },
  {
    name: "an EtcdBackup whose template uses an unknown field is rejected",
    sample: "etcdbackup",
    edits: [set("spec.destination.objectURLTemplate", "s3://backups/{{ .Labels }}.db")],
    field: "spec.destination.objectURLTemplate",
    message: /may only use the template fields \{\{ \.UID \}\}/,
  },
  {
    name: "an EtcdBackup whose clusterURL is not an http(s) URL is rejected",
    sample: "etcdbackup",
    edits: [set("spec.source.clusterURL", "my-cluster:2379")],
    field: "spec.source.clusterURL",
    message: /clusterURL must start with http:\/\/ or https:\/\//,
  },
  {
    name: "an EtcdBackup without a destination is rejected",
    sample: "etcdbackup",
    edits: [unset("spec.destination")],
    field: "spec.destination",
    message: /Required value/,
  },
  {
    name: "an EtcdBackupSchedule with a four-field cron schedule is rejected",
    sample: "etcdbackupschedule",
    edits: [set("spec.schedule", "* * * *")],
    field: "spec.schedule",
    message: /schedule "\* \* \* \*" is not a valid cron schedule/,
  },
  {
    name: "an EtcdBackupSchedule with minute 61 is rejected",
    sample: "etcdbackupschedule",
    edits: [set("spec.schedule", "61 * * * *")],
    field: "spec.schedule",
    message: /is not a valid cron schedule: use five fields \(minute 0-59/,
  },
  {
    name: "an EtcdBackupSchedule using @every, which the scheduler does not support, is rejected",
    sample: "etcdbackupschedule",
    edits: [set("spec.schedule", "@every 1h")],
    field: "spec.schedule",
    message: /not a valid cron schedule/,
  },
  {
    name:
      "an EtcdBackupSchedule whose cron range runs backwards (5-1), which croner refuses, is rejected",
    sample: "etcdbackupschedule",
    edits: [set("spec.schedule", "5-1 * * * *")],
    field: "spec.schedule",
    message: /schedule "5-1 \* \* \* \*" has a range that runs backwards/,
  },
  {
    name: "an EtcdBackupSchedule whose day-of-week range 6-0 runs backwards is rejected",
    sample: "etcdbackupschedule",
    edits: [set("spec.schedule", "0 0 * * 6-0")],
    field: "spec.schedule",
    message: /has a range that runs backwards/,
  },
  {
    name:
      "an EtcdBackupSchedule stepping from a single value (0/15), which croner refuses, is rejected",
    sample: "etcdbackupschedule",
    edits: [set("spec.schedule", "0/15 * * * *")],
    field: "spec.schedule",
    message: /is not a valid cron schedule: .*never a single value such as 0\/15/,
  },
  {
    name:
      "an EtcdBackupSchedule with a step beyond its field (*/61), which croner refuses, is rejected",
    sample: "etcdbackupschedule",
    edits: [set("spec.schedule", "*/61 * * * *")],
    field: "spec.schedule",
    message: /is not a valid cron schedule/,
  },
  {
    name: "an EtcdBackupSchedule with an unknown prunedBackupObjects is rejected",
    sample: "etcdbackupschedule",
    edits: [set("spec.prunedBackupObjects", "Sometimes")],
    field: "spec.prunedBackupObjects",
    message: /Unsupported value: "Sometimes"/,
  },
  {
    name: "an EtcdBackupSchedule with a negative history limit is rejected",
    sample: "etcdbackupschedule",
    edits: [set("spec.successfulBackupsHistoryLimit", -1)],
    field: "spec.successfulBackupsHistoryLimit",
    message: /greater than or equal to 0/,
  },
  {
    name: "an EtcdBackupSchedule whose backup template writes to ftp:// is rejected",
    sample: "etcdbackupschedule",
    edits: [set("spec.backupTemplate.destination.objectURLTemplate", "ftp://b/{{ .UID }}")],
    field: "spec.backupTemplate.destination.objectURLTemplate",
    message: /must start with s3:\/\/ or gs:\/\//,
  },
  {
    name: "an EtcdRestore whose cluster template has a bad version is rejected",
    sample: "etcdrestore",
    edits: [set(`${templateSpec}.version`, "3.x")],
    field: `${templateSpec}.version`,
    message: /version "3\.x" is not a semantic version/,
  },
  {
    name: "an EtcdRestore whose cluster template lacks a storageClassName is rejected",
    sample: "etcdrestore",
    edits: [unset(`${templateSpec}.storage.volumeClaimTemplate.storageClassName`)],
    field: `${templateSpec}.storage.volumeClaimTemplate.storageClassName`,
    message: /Required value/,
  },
  {
    name: "an EtcdRestore from an ftp:// source is rejected",
    sample: "etcdrestore",
    edits: [set("spec.source.objectURL", "ftp://backups/snapshot.db")],
    field: "spec.source.objectURL",
    message: /must start with s3:\/\/ or gs:\/\//,
  },
  {
    name: "an EtcdRestore from a bucket without an object key is rejected",
    sample: "etcdrestore",
    edits: [set("spec.source.objectURL", "s3://backups")],
    field: "spec.source.objectURL",
    message: /must name an object key after the bucket/,
  },
  {
    name: "an EtcdRestore into a cluster name that is not a DNS label is rejected",
    sample: "etcdrestore",
    edits: [set("spec.clusterTemplate.clusterName", "Restored_Cluster")],
    field: "spec.clusterTemplate.clusterName",
    message: /must be a DNS label/,
  },
];

for (const rejection of rejectedAtCreation) {
  Deno.test(rejection.name, async () => {
    const result = await dryRunCreate("default", edited(sample(rejection.sample), rejection.edits));
    assertRejected(result, rejection.field, rejection.message);
  });
}

// ---------------------------------------------------------------------------------------------
// Creating objects: accepted, with defaults filled in.

Deno.test("every sample manifest is accepted and listed under the etcd category", async () => {
  await using namespace = await temporaryNamespace("crd-samples");
  const kinds: Sample[] = ["etcdcluster", "etcdbackup", "etcdbackupschedule", "etcdrestore"];
  for (const kind of kinds) await create(namespace.name, sample(kind));
  const listed = await kubectlOk(["get", "etcd", "-n", namespace.name, "-o", "name"]);
  assert.deepEqual(listed.trim().split("\n").sort(), [
    "etcdbackup.etcd.improbable.io/etcdbackup-sample",
    "etcdbackupschedule.etcd.improbable.io/etcdbackupschedule-sample",
    "etcdcluster.etcd.improbable.io/my-cluster",
    "etcdrestore.etcd.improbable.io/etcdrestore-sample",
  ]);
});

Deno.test("kubectl get shows an EtcdCluster's replicas, version and availability columns", async () => {
  await using namespace = await temporaryNamespace("crd-columns");
  await create(namespace.name, sample("etcdcluster"));
  const table = await kubectlOk(["get", "etcdc", "-n", namespace.name]);
  const [header, row] = table.trim().split("\n");
  assert.match(header, /^NAME\s+REPLICAS\s+READY\s+VERSION\s+CLUSTER VERSION\s+AVAILABLE\s+AGE$/);
  assert.match(row, /^my-cluster\s+3\s+3\.4\.23\s+/);
});

Deno.test("an EtcdCluster without accessModes gets [ReadWriteOnce]", async () => {
  const result = await dryRunCreate("default", sample("etcdcluster"));
  assertAccepted(result);
  const stored = JSON.parse(result.stdout);
  assert.deepEqual(stored.spec.storage.volumeClaimTemplate.accessModes, ["ReadWriteOnce"]);
});

Deno.test("an EtcdBackupSchedule gets history limits 3 and 1 and is not suspended by default", async () => {
  const manifest = edited(sample("etcdbackupschedule"), [
    unset("spec.successfulBackupsHistoryLimit"),
    unset("spec.failedBackupsHistoryLimit"),
  ]);
  const result = await dryRunCreate("default", manifest);
  assertAccepted(result);
  const { spec } = JSON.parse(result.stdout);
  assert.equal(spec.successfulBackupsHistoryLimit, 3);
  assert.equal(spec.failedBackupsHistoryLimit, 1);
  assert.equal(spec.suspend, false);
});

const acceptedSchedules = [
  "@daily",
  "@midnight",
  "*/15 0-6,22-23 ? jan-mar MON-FRI",
  "0 3 * * 7",
  "0 3 * * SAT-SUN",
  "0-30/5 * * * *",
];
for (const schedule of acceptedSchedules) {
  Deno.test(`an EtcdBackupSchedule with the schedule "${schedule}" is accepted`, async () => {
    const manifest = edited(sample("etcdbackupschedule"), [set("spec.schedule", schedule)]);
    assertAccepted(await dryRunCreate("default", manifest));
  });
}

Deno.test("an EtcdBackup with gs:// and all four template fields is accepted", async () => {
  const url = "gs://backups/{{ .Namespace }}/{{ .Name }}/{{.UID}}-{{ .CreationTimestamp }}.db";
  const manifest = edited(sample("etcdbackup"), [
    set("spec.destination.objectURLTemplate", url),
    set("spec.credentialsSecretRef", { name: "gcs-key" }),
  ]);
  assertAccepted(await dryRunCreate("default", manifest));
});

Deno.test("kubectl explain describes EtcdCluster fields", async () => {
  const explained = await kubectlOk([
    "explain",
    "etcdcluster.spec.storage.volumeClaimTemplate.storageClassName",
  ]);
  assert.match(explained, /StorageClass/);
});

// ---------------------------------------------------------------------------------------------
// Changing an EtcdCluster: only replicas and version, and version only one minor step up.

interface ClusterUpdate {
  readonly name: string;
  readonly version?: string;
  /** What the operator recorded as running (status.clusterVersion) before the patch. */
  readonly clusterVersion?: string;
  readonly patch: Manifest;
  readonly rejected?: { readonly field: string; readonly message: RegExp };
}

const clusterUpdates: readonly ClusterUpdate[] = [
  {
    name: "an EtcdCluster's storage size cannot be changed",
    patch: {
      spec: { storage: { volumeClaimTemplate: { resources: { requests: { storage: "100Mi" } } } } },
    },
    rejected: { field: "spec.storage", message: /spec\.storage is immutable/ },
  },
  {
    name: "an EtcdCluster's storage class cannot be changed",
    patch: { spec: { storage: { volumeClaimTemplate: { storageClassName: "fast" } } } },
    rejected: { field: "spec.storage", message: /spec\.storage is immutable/ },
  },
  {
    name: "an EtcdCluster's pod template cannot be changed",
    patch: { spec: { podTemplate: { resources: { limits: { cpu: "500m" } } } } },
    rejected: { field: "spec.podTemplate", message: /spec\.podTemplate is immutable/ },
  },
  {
    name: "an EtcdCluster's pod template cannot be removed",
    patch: { spec: { podTemplate: null } },
    rejected: { field: "spec.podTemplate", message: /spec\.podTemplate is immutable/ },
  },
  {
    name: "an EtcdCluster cannot change major version (3.4.23 to 4.0.0)",
    patch: { spec: { version: "4.0.0" } },
    rejected: {
      field: "spec.version",
      message: /cannot change the major version \(3\.4\.23 to 4\.0\.0\)/,
    },
  },
  {
    name:
      "an EtcdCluster cannot skip a minor version (3.4.23 to 3.6.0): upgrades must be incremental",
    patch: { spec: { version: "3.6.0" } },
    rejected: {
      field: "spec.version",
      message: /upgrades must be incremental, one minor version at a time: 3\.4\.23 to 3\.6\.0/,
    },
  },
  {
    name: "an EtcdCluster cannot go down a minor version (3.5.21 to 3.4.23)",
    version: "3.5.21",
    patch: { spec: { version: "3.4.23" } },
    rejected: {
      field: "spec.version",
      message: /cannot go down a minor version \(3\.5\.21 to 3\.4\.23\)/,
    },
  },
  {
    name:
      "an EtcdCluster still running 3.4 cannot go on to 3.6.0 although its spec already says 3.5.21",
    version: "3.5.21",
    clusterVersion: "3.4.0",
    patch: { spec: { version: "3.6.0" } },
    rejected: {
      field: "spec.version",
      message: /spec\.version 3\.6\.0 skips a minor version: the cluster still runs 3\.4\.0/,
    },
  },
  {
    name: "an EtcdCluster whose members all run 3.5 can upgrade to 3.6.0",
    version: "3.5.21",
    clusterVersion: "3.5.0",
    patch: { spec: { version: "3.6.0" } },
  },
  {
    name: "an EtcdCluster still upgrading from 3.4 to 3.5 can change the 3.5 patch version",
    version: "3.5.21",
    clusterVersion: "3.4.0",
    patch: { spec: { version: "3.5.22" } },
  },
  {
    name: "an EtcdCluster whose spec already skips can still change its replicas",
    version: "3.5.21",
    clusterVersion: "3.4.0",
    patch: { spec: { replicas: 5 } },
  },
  {
    name: "an EtcdCluster cannot jump to a minor version of ten digits (3.4.23 to 3.1000000000.0)",
    patch: { spec: { version: "3.1000000000.0" } },
    rejected: {
      field: "spec.version",
      message:
        /"3\.1000000000\.0" is not a semantic version X\.Y\.Z of numbers with at most 9 digits/,
    },
  },
  {
    name: "an EtcdCluster cannot be changed to an invalid version",
    patch: { spec: { version: "latest" } },
    rejected: { field: "spec.version", message: /version "latest" is not a semantic version/ },
  },
  {
    name: "an EtcdCluster can upgrade one minor version (3.4.23 to 3.5.21)",
    patch: { spec: { version: "3.5.21" } },
  },
  {
    name: "an EtcdCluster can upgrade a patch version (3.4.23 to 3.4.24)",
    patch: { spec: { version: "3.4.24" } },
  },
  {
    name: "an EtcdCluster can go down a patch version (3.4.23 to 3.4.22)",
    patch: { spec: { version: "3.4.22" } },
  },
  { name: "an EtcdCluster can change its replicas", patch: { spec: { replicas: 1 } } },
];

for (const update of clusterUpdates) {
  Deno.test(update.name, async () => {
    await using namespace = await temporaryNamespace("crd-update");
    const cluster = edited(
      sample("etcdcluster"),
      update.version ? [set("spec.version", update.version)] : [],
    );
    await create(namespace.name, cluster);
    if (update.clusterVersion) {
      await kubectlOk([
        "patch",
        "-n",
        namespace.name,
        "etcdcluster/my-cluster",
        "--subresource=status",
        "--type=merge",
        "-p",
        JSON.stringify({ status: { clusterVersion: update.clusterVersion } }),
      ]);
    }
    const result = await dryRunPatch(namespace.name, "etcdcluster/my-cluster", update.patch);
    if (update.rejected) assertRejected(result, update.rejected.field, update.rejected.message);
    else assertAccepted(result);
  });
}

Deno.test("kubectl scale etcdcluster --replicas 5 changes spec.replicas through the scale subresource", async () => {
  await using namespace = await temporaryNamespace("crd-scale");
  await create(namespace.name, sample("etcdcluster"));
  await kubectlOk(["scale", "-n", namespace.name, "etcdcluster", "my-cluster", "--replicas", "5"]);
  const replicas = await kubectlOk([
    "get",
    "-n",
    namespace.name,
    "etcdcluster",
    "my-cluster",
    "-o",
    "jsonpath={.spec.replicas}",
  ]);
  assert.equal(replicas, "5");
});

Deno.test("the scale subresource reports the replicas and selector the operator writes to status", async () => {
  await using namespace = await temporaryNamespace("crd-scale-status");
  await create(namespace.name, sample("etcdcluster"));
  const selector = "app.kubernetes.io/name=etcd,etcd.improbable.io/cluster-name=my-cluster";
  await kubectlOk([
    "patch",
    "-n",
    namespace.name,
    "etcdcluster/my-cluster",
    "--subresource=status",
    "--type=merge",
    "-p",
    JSON.stringify({ status: { replicas: 3, readyReplicas: 3, selector } }),
  ]);
  const scale = JSON.parse(
    await kubectlOk([
      "get",
      "-n",
      namespace.name,
      "etcdcluster/my-cluster",
      "--subresource=scale",
      "-o",
      "json",
    ]),
  );
  assert.equal(scale.kind, "Scale");
  assert.equal(scale.spec.replicas, 3);
  assert.equal(scale.status.replicas, 3);
  assert.equal(scale.status.selector, selector);
});

// ---------------------------------------------------------------------------------------------
// The other kinds' specs are immutable, except a schedule's.

const peer: Manifest = {
  apiVersion: "etcd.improbable.io/v1alpha1",
  kind: "EtcdPeer",
  metadata: { name: "my-cluster-0" },
  spec: {
    clusterName: "my-cluster",
    version: "3.4.23",
    bootstrap: {
      static: { initialCluster: [{ name: "my-cluster-0", host: "my-cluster-0.my-cluster" }] },
      initialClusterState: "New",
    },
    storage: {
      volumeClaimTemplate: {
        storageClassName: "standard",
        resources: { requests: { storage: "50Mi" } },
      },
    },
  },
};

interface ImmutableSpec {
  readonly name: string;
  readonly manifest: () => Manifest;
  readonly resource: string;
  readonly patch: Manifest;
  readonly message: RegExp;
}

const immutableSpecs: readonly ImmutableSpec[] = [
  {
    name: "an EtcdPeer's spec cannot be changed",
    manifest: () => peer,
    resource: "etcdpeer/my-cluster-0",
    patch: { spec: { version: "3.4.24" } },
    message: /the EtcdPeer spec is immutable/,
  },
  {
    name: "an EtcdBackup's spec cannot be changed",
    manifest: () => sample("etcdbackup"),
    resource: "etcdbackup/etcdbackup-sample",
    patch: { spec: { source: { clusterURL: "http://my-cluster-1.my-cluster:2379" } } },
    message: /the EtcdBackup spec is immutable/,
  },
  {
    name: "an EtcdRestore's spec cannot be changed",
    manifest: () => sample("etcdrestore"),
    resource: "etcdrestore/etcdrestore-sample",
    patch: { spec: { clusterTemplate: { spec: { replicas: 5 } } } },
    message: /the EtcdRestore spec is immutable/,
  },
];

for (const immutable of immutableSpecs) {
  Deno.test(immutable.name, async () => {
    await using namespace = await temporaryNamespace("crd-immutable");
    await create(namespace.name, immutable.manifest());
    const result = await dryRunPatch(namespace.name, immutable.resource, immutable.patch);
    assertRejected(result, "spec", immutable.message);
  });
}

Deno.test("an EtcdPeer with an unknown initialClusterState is rejected", async () => {
  const manifest = edited(peer, [set("spec.bootstrap.initialClusterState", "Joining")]);
  const result = await dryRunCreate("default", manifest);
  assertRejected(
    result,
    "spec.bootstrap.initialClusterState",
    /supported values: "New", "Existing"/,
  );
});

Deno.test("an EtcdBackupSchedule's schedule, limits, suspension and object pruning can be edited", async () => {
  await using namespace = await temporaryNamespace("crd-schedule");
  await create(namespace.name, sample("etcdbackupschedule"));
  const result = await dryRunPatch(namespace.name, "etcdbackupschedule/etcdbackupschedule-sample", {
    spec: {
      schedule: "@daily",
      successfulBackupsHistoryLimit: 10,
      suspend: true,
      prunedBackupObjects: "Delete",
    },
  });
  assertAccepted(result);
});

// ---------------------------------------------------------------------------------------------
// Issue 11's categories as tables: each case is created with a server-side dry run, a few at a
// time (hundreds of kubectl processes one after another would take minutes), and reported as a
// step of its category.

interface TableCase {
  readonly name: string;
  /** A manifest, or YAML text for spellings JSON cannot carry (hex numbers). */
  readonly manifest: () => Manifest | string;
  /** `undefined`: accepted. */
  readonly refused?: { readonly field: string; readonly message: RegExp };
}

/** Starts every dry run at once but lets only `parallel` kubectl processes run at a time. */
function dryRunAll(
  manifests: readonly (Manifest | string)[],
  parallel = 4,
): Promise<CommandResult>[] {
  let running = 0;
  const waiting: (() => void)[] = [];
  const slot = async () => {
    while (running >= parallel) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
  };
  return manifests.map(async (manifest) => {
    await slot();
    try {
      return await dryRunCreate("default", manifest);
    } finally {
      running--;
      waiting.shift()?.();
    }
  });
}

function tableTest(title: string, cases: readonly TableCase[]): void {
  Deno.test(title, async (t) => {
    const results = dryRunAll(cases.map((tableCase) => tableCase.manifest()));
    for (const [index, tableCase] of cases.entries()) {
      await t.step(`${tableCase.refused ? "refused" : "accepted"}: ${tableCase.name}`, async () => {
        const result = await results[index];
        if (tableCase.refused) {
          assertRejected(result, tableCase.refused.field, tableCase.refused.message);
        } else {
          assertAccepted(result);
        }
      });
    }
  });
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** What the apiserver says for a URL case: the message of the rule the parser found broken. */
function urlRefusal(rules: readonly URLRule[], refused: URLErrorKind): RegExp {
  if (refused === "tooLong") return /Too long: may not be (more|longer) than 2048/;
  const messages = rules.filter((rule) => rule.kind === refused).map((rule) => rule.message);
  return new RegExp(messages.map(escapeRegExp).join("|"));
}

function urlCases(
  cases: readonly URLCase[],
  rules: readonly URLRule[],
  kind: Sample,
  field: string,
): TableCase[] {
  return cases.map(({ name, url, refused }) => ({
    name: `${name}: ${url.length > 100 ? `${url.slice(0, 100)}…` : url}`,
    manifest: () => edited(sample(kind), [set(field, url)]),
    refused: refused && { field, message: urlRefusal(rules, refused) },
  }));
}

tableTest(
  "object URLs: EtcdRestore's objectURL is judged by the apiserver exactly as the parser judges it",
  urlCases(objectURLCases, objectURLRules, "etcdrestore", "spec.source.objectURL"),
);

tableTest(
  "object URLs: EtcdBackup's objectURLTemplate is judged by the apiserver exactly as the parser judges it",
  urlCases(
    [...objectURLCases, ...objectURLTemplateCases],
    objectURLTemplateRules,
    "etcdbackup",
    "spec.destination.objectURLTemplate",
  ),
);

type Kind = Sample | "etcdpeer";

function base(kind: Kind): Manifest {
  return kind === "etcdpeer" ? structuredClone(peer) : sample(kind);
}

function accepted(name: string, kind: Kind, ...edits: Edit[]): TableCase {
  return { name, manifest: () => edited(base(kind), edits) };
}

function refused(
  name: string,
  kind: Kind,
  edits: Edit[],
  field: string,
  message: RegExp,
): TableCase {
  return { name, manifest: () => edited(base(kind), edits), refused: { field, message } };
}

const initialCluster = "spec.bootstrap.static.initialCluster";
const member = (name: string, host: string) => ({ name, host });

tableTest("names: EtcdPeer names, clusterNames and hosts are DNS names", [
  accepted("the peer my-cluster-10", "etcdpeer", set("metadata.name", "my-cluster-10")),
  ...[
    ["dots", "my.cluster-0"],
    ["upper case", "My-Cluster-0"],
    ["64 characters", `${"a".repeat(61)}-10`],
    ["a leading dash", "-my-cluster-0"],
    ["unicode", "clüster-0"],
  ].map(([what, name]) =>
    refused(
      `a peer name with ${what}`,
      "etcdpeer",
      [set("metadata.name", name)],
      "metadata.name",
      /must be a DNS label|Too long/,
    )
  ),
  ...[
    ["dots", "my.cluster"],
    ["upper case", "My-Cluster"],
    ["a space", "my cluster"],
    ["60 characters", "a".repeat(60)],
    ["a leading dash", "-my-cluster"],
    ["a leading digit", "0-cluster"],
    ["unicode", "clüster"],
  ].flatMap(([what, name]) => [
    refused(
      `a peer's clusterName with ${what}`,
      "etcdpeer",
      [set("spec.clusterName", name)],
      "spec.clusterName",
      /clusterName must be the name of an EtcdCluster|Too long/,
    ),
    refused(
      `a restore's clusterName with ${what}`,
      "etcdrestore",
      [set("spec.clusterTemplate.clusterName", name)],
      "spec.clusterTemplate.clusterName",
      /clusterName "[^"]*" must be a DNS label|Too long/,
    ),
  ]),
  refused(
    "an EtcdCluster named in unicode",
    "etcdcluster",
    [set("metadata.name", "clüster")],
    "metadata.name",
    /must be a DNS label/,
  ),
  refused(
    "an EtcdCluster named with 60 characters",
    "etcdcluster",
    [set("metadata.name", "a".repeat(60))],
    "metadata.name",
    /Too long/,
  ),
  accepted(
    "initial members reached by IP and by service name",
    "etcdpeer",
    set(initialCluster, [
      member("my-cluster-0", "my-cluster-0.my-cluster.default.svc"),
      member("my-cluster-1", "10.0.0.5"),
    ]),
  ),
  ...[
    ["empty", ""],
    ["a URL", "http://my-cluster-0.my-cluster:2380"],
    ["a port", "my-cluster-0.my-cluster:2380"],
    ["a space", "my-cluster-0 .my-cluster"],
    ["upper case", "My-Cluster-0.my-cluster"],
    ["unicode", "clüster-0.my-cluster"],
    ["254 characters", `${"a.".repeat(126)}aa`],
  ].map(([what, host]) =>
    refused(
      `a host that is ${what}`,
      "etcdpeer",
      [set(initialCluster, [member("my-cluster-0", host)])],
      `${initialCluster}[0].host`,
      /host must be a DNS name|Too long/,
    )
  ),
  refused(
    "an initial member whose name is not a peer name",
    "etcdpeer",
    [set(initialCluster, [member("my_cluster_0", "my-cluster-0.my-cluster")])],
    `${initialCluster}[0].name`,
    /a member's name is the name of its EtcdPeer/,
  ),
  refused(
    "an initial cluster naming a member twice",
    "etcdpeer",
    [set(initialCluster, [member("a-0", "a-0.a"), member("a-0", "a-1.a")])],
    initialCluster,
    /must name each member once/,
  ),
  refused(
    "an initial cluster of ten members",
    "etcdpeer",
    [set(initialCluster, [...Array(10).keys()].map((i) => member(`a-${i}`, `a-${i}.a`)))],
    initialCluster,
    /Too many: 10: must have at most 9 items/,
  ),
]);

const secretName = {
  etcdbackup: "spec.credentialsSecretRef.name",
  etcdbackupschedule: "spec.backupTemplate.credentialsSecretRef.name",
  etcdrestore: "spec.credentialsSecretRef.name",
} as const;

tableTest(
  "secret references: credentialsSecretRef names a Secret, never a path",
  (["etcdbackup", "etcdbackupschedule", "etcdrestore"] as const).flatMap((kind) => [
    accepted(`${kind}: minio`, kind, set(secretName[kind], "minio")),
    accepted(`${kind}: store-credentials.v2`, kind, set(secretName[kind], "store-credentials.v2")),
    ...[
      ["empty", ""],
      ["upper case", "Minio"],
      ["a slash", "minio/keys"],
      ["a parent path", "../minio"],
      ["two dots", "minio..v2"],
      ["a space", "minio keys"],
      ["unicode", "mïnio"],
      ["254 characters", "a".repeat(254)],
    ].map(([what, name]) =>
      refused(
        `${kind}: a Secret name with ${what}`,
        kind,
        [set(secretName[kind], name)],
        secretName[kind],
        /must name a Secret in the same namespace|Too long|at least 1 chars long/,
      )
    ),
  ]),
);

/** The sample's YAML with one line rewritten: how a user writes 1e9 or 0x3B9ACA00. */
function sampleText(kind: Sample, line: RegExp, replacement: string): () => string {
  return () => {
    const path = new URL(`config/samples/etcd_v1alpha1_${kind}.yaml`, repoRoot);
    const text = Deno.readTextFileSync(path);
    assert.match(text, line);
    return text.replace(line, replacement);
  };
}

const historyLimits = ["spec.successfulBackupsHistoryLimit", "spec.failedBackupsHistoryLimit"];

tableTest("integers: replicas and history limits have sensible upper bounds", [
  accepted("9 replicas", "etcdcluster", set("spec.replicas", 9)),
  accepted("9 replicas in a restore", "etcdrestore", set("spec.clusterTemplate.spec.replicas", 9)),
  ...[10, 2 ** 31 - 1, 10 ** 9].map((replicas) =>
    refused(
      `${replicas} replicas`,
      "etcdcluster",
      [set("spec.replicas", replicas)],
      "spec.replicas",
      /less than or equal to 9/,
    )
  ),
  refused(
    "10 replicas in a restore",
    "etcdrestore",
    [set("spec.clusterTemplate.spec.replicas", 10)],
    "spec.clusterTemplate.spec.replicas",
    /less than or equal to 9/,
  ),
  refused(
    "-1 replicas",
    "etcdcluster",
    [set("spec.replicas", -1)],
    "spec.replicas",
    /greater than or equal to 1/,
  ),
  ...["1e9", "0x3B9ACA00"].map((spelling) => ({
    name: `replicas written ${spelling}`,
    manifest: sampleText("etcdcluster", /^ {2}replicas: 3$/m, `  replicas: ${spelling}`),
    refused: { field: "spec.replicas", message: /less than or equal to 9/ },
  })),
  ...historyLimits.flatMap((field) => [
    accepted(`${field} 0`, "etcdbackupschedule", set(field, 0)),
    accepted(`${field} 1000`, "etcdbackupschedule", set(field, 1000)),
    ...[1001, 2 ** 31].map((limit) =>
      refused(
        `${field} ${limit}`,
        "etcdbackupschedule",
        [set(field, limit)],
        field,
        /less than or equal to 1000/,
      )
    ),
  ]),
  {
    name: "a history limit written 1e9",
    manifest: sampleText(
      "etcdbackupschedule",
      /^ {2}successfulBackupsHistoryLimit: 3$/m,
      "  successfulBackupsHistoryLimit: 1e9",
    ),
    refused: { field: "spec.successfulBackupsHistoryLimit", message: /less than or equal to 1000/ },
  },
]);

Deno.test("kubectl scale etcdcluster --replicas 10 is refused: at most 9 members", async () => {
  await using namespace = await temporaryNamespace("crd-scale-max");
  await create(namespace.name, sample("etcdcluster"));
  const result = await kubectl([
    "scale",
    "-n",
    namespace.name,
    "etcdcluster",
    "my-cluster",
    "--replicas",
    "10",
  ]);
  assertRejected(result, "spec.replicas", /less than or equal to 9/);
});

const clusterURLField = {
  etcdbackup: "spec.source.clusterURL",
  etcdbackupschedule: "spec.backupTemplate.source.clusterURL",
} as const;

tableTest(
  "cluster URLs: clusterURL is one member's http(s) URL: a host, a port and nothing more",
  (["etcdbackup", "etcdbackupschedule"] as const).flatMap((kind) => {
    const field = clusterURLField[kind];
    return [
      ...[
        "http://my-cluster-0.my-cluster:2379",
        "https://my-cluster-0.my-cluster.default.svc:2379/",
        "http://10.0.0.5:2379",
        "http://[fd00::5]:2379",
        "http://my-cluster-client",
      ].map((url) => accepted(`${kind}: ${url}`, kind, set(field, url))),
      ...[
        ["an empty host", "http://:2379", /must be scheme:\/\/host:port and nothing more/],
        ["port 99999", "http://my-cluster-0.my-cluster:99999", /port must be a number from 1/],
        ["port 0", "http://my-cluster-0.my-cluster:0", /port must be a number from 1/],
        ["credentials", "http://root:secret@my-cluster-0.my-cluster:2379", /credentials/],
        ["a fragment", "http://my-cluster-0.my-cluster:2379#leader", /and nothing more/],
        ["a comma list", "http://a.c:2379,http://b.c:2379", /one member's URL, not a list/],
        ["no scheme", "my-cluster:2379", /must start with http:\/\/ or https:\/\//],
        ["another scheme", "unix:///var/run/etcd.sock", /must start with http:\/\/ or https/],
        ["a path", "http://my-cluster-0.my-cluster:2379/v3/kv", /and nothing more/],
        ["a query", "http://my-cluster-0.my-cluster:2379?x=1", /and nothing more/],
        ["a space", "http://my cluster:2379", /and nothing more/],
        ["2049 characters", `http://${"a".repeat(2037)}.c:2379`, /Too long/],
      ].map(([what, url, message]) =>
        refused(`${kind}: ${what}`, kind, [set(field, url as string)], field, message as RegExp)
      ),
    ];
  }),
);

const selector = `${claim}.selector`;
const restoreClaim = "spec.clusterTemplate.spec.storage.volumeClaimTemplate";

tableTest("storage: storage class names are DNS subdomains and selectors are label selectors", [
  accepted(
    "the class fast-ssd.example.com",
    "etcdcluster",
    set(`${claim}.storageClassName`, "fast-ssd.example.com"),
  ),
  accepted(
    "a selector by zone label and by expression",
    "etcdcluster",
    set(selector, {
      matchLabels: { "topology.kubernetes.io/zone": "eu-west-1a", tier: "" },
      matchExpressions: [
        { key: "disk", operator: "In", values: ["ssd", "nvme"] },
        { key: "example.com/retired", operator: "DoesNotExist" },
      ],
    }),
  ),
  ...[
    ["upper case", "Fast"],
    ["an underscore", "fast_ssd"],
    ["a slash", "ssd/fast"],
    ["a space", "fast ssd"],
    ["unicode", "schnëll"],
    ["300 KiB", "a".repeat(300 * 1024)],
  ].flatMap(([what, name]) => [
    refused(
      `a class name with ${what}`,
      "etcdcluster",
      [set(`${claim}.storageClassName`, name)],
      `${claim}.storageClassName`,
      /storageClassName must name a StorageClass|Too long/,
    ),
    refused(
      `a restore's class name with ${what}`,
      "etcdrestore",
      [set(`${restoreClaim}.storageClassName`, name)],
      `${restoreClaim}.storageClassName`,
      /storageClassName must name a StorageClass|Too long/,
    ),
  ]),
  refused(
    "a peer's class name in upper case",
    "etcdpeer",
    [set(`${claim}.storageClassName`, "Fast")],
    `${claim}.storageClassName`,
    /storageClassName must name a StorageClass/,
  ),
  refused(
    "an unknown selector operator",
    "etcdcluster",
    [set(selector, { matchExpressions: [{ key: "disk", operator: "Equals", values: ["ssd"] }] })],
    `${selector}.matchExpressions[0].operator`,
    /Unsupported value: "Equals"/,
  ),
  refused(
    "In without values",
    "etcdcluster",
    [set(selector, { matchExpressions: [{ key: "disk", operator: "In" }] })],
    `${selector}.matchExpressions[0]`,
    /values must be given for the operators In and NotIn/,
  ),
  refused(
    "Exists with values",
    "etcdcluster",
    [set(selector, { matchExpressions: [{ key: "disk", operator: "Exists", values: ["x"] }] })],
    `${selector}.matchExpressions[0]`,
    /must be empty for Exists and DoesNotExist/,
  ),
  refused(
    "an expression key with a space",
    "etcdcluster",
    [set(selector, { matchExpressions: [{ key: "bad key", operator: "Exists" }] })],
    `${selector}.matchExpressions[0].key`,
    /key must be a Kubernetes qualified name/,
  ),
  refused(
    "a label value that is not one",
    "etcdcluster",
    [set(selector, { matchLabels: { disk: "not a value!" } })],
    `${selector}.matchLabels`,
    /label values have at most 63 letters/,
  ),
  refused(
    "a label key with a leading dash",
    "etcdrestore",
    [set(`${restoreClaim}.selector`, { matchLabels: { "-disk": "ssd" } })],
    `${restoreClaim}.selector.matchLabels`,
    /label keys must be Kubernetes qualified names/,
  ),
  refused(
    "a label key in unicode",
    "etcdcluster",
    [set(selector, { matchLabels: { "dïsk": "ssd" } })],
    `${selector}.matchLabels`,
    /label keys must be Kubernetes qualified names/,
  ),
  refused(
    "17 expressions",
    "etcdcluster",
    [
      set(selector, {
        matchExpressions: [...Array(17).keys()].map((i) => ({ key: `k${i}`, operator: "Exists" })),
      }),
    ],
    `${selector}.matchExpressions`,
    /Too many: 17: must have at most 16 items/,
  ),
  refused(
    "a selector field that does not exist",
    "etcdcluster",
    [set(selector, { matchLabel: { disk: "ssd" } })],
    `${selector}.matchLabel`,
    /unknown field/,
  ),
]);

/** A path whose last step is a key that may hold dots (an annotation or label key). */
const keyed = (path: string, key: string): Edit => ({ path: [...path.split("."), key] });
const setKey = (path: string, key: string, value: Json): Edit => ({ ...keyed(path, key), value });

const resourcesPath = "spec.podTemplate.resources";
const affinityPath = "spec.podTemplate.affinity";
const antiRequired =
  `${affinityPath}.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution`;
const antiPreferred =
  `${affinityPath}.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution`;
const nodeRequired = `${affinityPath}.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution`;
const nodePreferred =
  `${affinityPath}.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution`;
const byCluster = {
  matchExpressions: [{
    key: "etcd.improbable.io/cluster-name",
    operator: "In",
    values: ["my-cluster"],
  }],
};
const nodeTerm = (expression: Json) => ({
  nodeSelectorTerms: [{ matchExpressions: [expression] }],
});

tableTest("podTemplate: resources and affinity are refused as the Pod API would refuse them", [
  accepted(
    "limits and requests of cpu, memory and ephemeral-storage",
    "etcdcluster",
    set(resourcesPath, {
      limits: { cpu: 2, memory: "1Gi", "ephemeral-storage": "2Gi" },
      requests: { cpu: "500m", memory: "1Gi", "ephemeral-storage": "1Gi" },
    }),
  ),
  accepted("requests only", "etcdcluster", set(resourcesPath, { requests: { cpu: "100m" } })),
  refused(
    "a negative cpu limit",
    "etcdcluster",
    [set(`${resourcesPath}.limits.cpu`, "-1")],
    `${resourcesPath}.limits`,
    /may not be negative/,
  ),
  refused(
    "a negative integer cpu limit",
    "etcdcluster",
    [set(`${resourcesPath}.limits.cpu`, -1)],
    `${resourcesPath}.limits`,
    /may not be negative/,
  ),
  refused(
    "a negative memory request in a restore",
    "etcdrestore",
    [set(`spec.clusterTemplate.${resourcesPath}.requests.memory`, "-200Mi")],
    `spec.clusterTemplate.${resourcesPath}.requests`,
    /may not be negative/,
  ),
  refused(
    "a cpu request above the cpu limit",
    "etcdcluster",
    [set(`${resourcesPath}.requests.cpu`, "500m")],
    resourcesPath,
    /a request may not exceed its limit/,
  ),
  refused(
    "a memory request above the memory limit, in a peer",
    "etcdpeer",
    [set(resourcesPath, { limits: { memory: "512Mi" }, requests: { memory: "1Gi" } })],
    resourcesPath,
    /a request may not exceed its limit/,
  ),
  ...["gpu", "nvidia.com/gpu", "storage"].map((name) =>
    refused(
      `the resource ${name}`,
      "etcdcluster",
      [setKey(`${resourcesPath}.limits`, name, 1)],
      `${resourcesPath}.limits`,
      /can only be cpu, memory and ephemeral-storage/,
    )
  ),
  refused(
    "a quantity that is not one",
    "etcdcluster",
    [set(`${resourcesPath}.limits.cpu`, "lots")],
    `${resourcesPath}.limits.cpu`,
    /should match/,
  ),
  accepted(
    "required anti-affinity per host",
    "etcdcluster",
    set(antiRequired, [{ labelSelector: byCluster, topologyKey: "kubernetes.io/hostname" }]),
  ),
  accepted(
    "node affinity by label, by number and by name",
    "etcdcluster",
    set(`${affinityPath}.nodeAffinity`, {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [
          {
            matchExpressions: [
              { key: "node-role.kubernetes.io/etcd", operator: "Exists" },
              { key: "example.com/generation", operator: "Gt", values: ["3"] },
            ],
          },
          { matchFields: [{ key: "metadata.name", operator: "In", values: ["node-1"] }] },
        ],
      },
      preferredDuringSchedulingIgnoredDuringExecution: [{
        weight: 50,
        preference: { matchExpressions: [{ key: "disk", operator: "In", values: ["ssd"] }] },
      }],
    }),
  ),
  accepted(
    "pod affinity across namespaces, with matchLabelKeys",
    "etcdcluster",
    set(`${affinityPath}.podAffinity.requiredDuringSchedulingIgnoredDuringExecution`, [{
      labelSelector: { matchLabels: { app: "api" } },
      namespaces: ["team-a"],
      namespaceSelector: { matchLabels: { tier: "backend" } },
      topologyKey: "topology.kubernetes.io/zone",
      matchLabelKeys: ["pod-template-hash"],
    }]),
  ),
  refused(
    "anti-affinity without a topologyKey",
    "etcdcluster",
    [set(antiRequired, [{ labelSelector: byCluster }])],
    `${antiRequired}[0].topologyKey`,
    /Required value/,
  ),
  refused(
    "preferred anti-affinity without a topologyKey, in a restore",
    "etcdrestore",
    [
      set(`spec.clusterTemplate.${antiPreferred}`, [{
        weight: 100,
        podAffinityTerm: { labelSelector: byCluster },
      }]),
    ],
    `spec.clusterTemplate.${antiPreferred}[0].podAffinityTerm.topologyKey`,
    /Required value/,
  ),
  refused(
    "an empty topologyKey",
    "etcdpeer",
    [set(antiRequired, [{ labelSelector: byCluster, topologyKey: "" }])],
    `${antiRequired}[0].topologyKey`,
    /at least 1 chars long/,
  ),
  refused(
    "a topologyKey that is no label key",
    "etcdcluster",
    [set(antiRequired, [{ labelSelector: byCluster, topologyKey: "kubernetes io/hostname" }])],
    `${antiRequired}[0].topologyKey`,
    /topologyKey must be a node label key/,
  ),
  refused(
    "a pod affinity term selecting In without values",
    "etcdcluster",
    [
      set(antiRequired, [{
        labelSelector: { matchExpressions: [{ key: "app", operator: "In" }] },
        topologyKey: "kubernetes.io/hostname",
      }]),
    ],
    `${antiRequired}[0].labelSelector.matchExpressions[0]`,
    /values must be given for the operators In and NotIn/,
  ),
  refused(
    "a namespace that is not a DNS label",
    "etcdcluster",
    [set(antiRequired, [{ namespaces: ["Team_A"], topologyKey: "kubernetes.io/hostname" }])],
    `${antiRequired}[0].namespaces[0]`,
    /a namespace name is a DNS label/,
  ),
  refused(
    "matchLabelKeys without a labelSelector",
    "etcdcluster",
    [set(antiRequired, [{ matchLabelKeys: ["app"], topologyKey: "kubernetes.io/hostname" }])],
    `${antiRequired}[0]`,
    /can only be used with a labelSelector/,
  ),
  refused(
    "a key in both matchLabelKeys and mismatchLabelKeys",
    "etcdcluster",
    [
      set(antiRequired, [{
        labelSelector: byCluster,
        matchLabelKeys: ["app"],
        mismatchLabelKeys: ["app"],
        topologyKey: "kubernetes.io/hostname",
      }]),
    ],
    `${antiRequired}[0]`,
    /may not be in both matchLabelKeys and mismatchLabelKeys/,
  ),
  refused(
    "nine required anti-affinity terms",
    "etcdcluster",
    [
      set(
        antiRequired,
        [...Array(9).keys()].map(() => ({ topologyKey: "kubernetes.io/hostname" })),
      ),
    ],
    antiRequired,
    /Too many: 9: must have at most 8 items/,
  ),
  refused(
    "required node affinity without terms",
    "etcdcluster",
    [set(nodeRequired, { nodeSelectorTerms: [] })],
    `${nodeRequired}.nodeSelectorTerms`,
    /should have at least 1 items/,
  ),
  refused(
    "required node affinity with nodeSelectorTerms misspelt",
    "etcdcluster",
    [set(nodeRequired, { nodeSelectorTerm: [] })],
    `${nodeRequired}.nodeSelectorTerm`,
    /unknown field/,
  ),
  refused(
    "a node requirement with the operator Equals",
    "etcdcluster",
    [set(nodeRequired, nodeTerm({ key: "disk", operator: "Equals", values: ["ssd"] }))],
    `${nodeRequired}.nodeSelectorTerms[0].matchExpressions[0].operator`,
    /Unsupported value: "Equals"/,
  ),
  refused(
    "a node requirement In without values",
    "etcdcluster",
    [set(nodeRequired, nodeTerm({ key: "disk", operator: "In" }))],
    `${nodeRequired}.nodeSelectorTerms[0].matchExpressions[0]`,
    /values must be given for In and NotIn/,
  ),
  refused(
    "a node requirement Gt a word",
    "etcdcluster",
    [set(nodeRequired, nodeTerm({ key: "cores", operator: "Gt", values: ["three"] }))],
    `${nodeRequired}.nodeSelectorTerms[0].matchExpressions[0]`,
    /must be a single integer for Gt and Lt/,
  ),
  refused(
    "a node requirement Lt two numbers",
    "etcdcluster",
    [set(nodeRequired, nodeTerm({ key: "cores", operator: "Lt", values: ["3", "4"] }))],
    `${nodeRequired}.nodeSelectorTerms[0].matchExpressions[0]`,
    /must be a single integer for Gt and Lt/,
  ),
  refused(
    "a node field other than metadata.name",
    "etcdcluster",
    [
      set(nodeRequired, {
        nodeSelectorTerms: [{
          matchFields: [{ key: "metadata.labels", operator: "In", values: ["x"] }],
        }],
      }),
    ],
    `${nodeRequired}.nodeSelectorTerms[0].matchFields[0].key`,
    /Unsupported value: "metadata.labels"/,
  ),
  ...[0, 101].map((weight) =>
    refused(
      `a preference of weight ${weight}`,
      "etcdcluster",
      [set(nodePreferred, [{ weight, preference: {} }])],
      `${nodePreferred}[0].weight`,
      /(greater|less) than or equal to (1|100)/,
    )
  ),
  refused(
    "a node preference without its term",
    "etcdcluster",
    [set(nodePreferred, [{ weight: 10 }])],
    `${nodePreferred}[0].preference`,
    /Required value/,
  ),
]);

const podAnnotations = "spec.podTemplate.metadata.annotations";
const manyAnnotations = (count: number) =>
  Object.fromEntries([...Array(count).keys()].map((i) => [`example.com/a${i}`, "x"]));

tableTest("annotation keys and unicode: pod annotations are Kubernetes annotations", [
  accepted(
    "keys with a prefix, dots and underscores, and a unicode value",
    "etcdcluster",
    setKey(podAnnotations, "example.com/a_b.c", "x"),
    setKey(podAnnotations, "note", "ünïcödé ✓"),
  ),
  accepted("32 annotations", "etcdcluster", set(podAnnotations, manyAnnotations(32))),
  ...[
    ["a space", "bad key"],
    ["a leading dash", "-scrape"],
    ["unicode", "prométhée.io/scrape"],
    ["an upper-case prefix", "Example.COM/scrape"],
    ["two slashes", "example.com/a/b"],
    ["a name of 64 characters", `example.com/${"a".repeat(64)}`],
    ["a prefix of 254 characters", `${"a.".repeat(126)}aa/scrape`],
    ["300 characters", "a".repeat(300)],
  ].map(([what, key]) =>
    refused(
      `a key with ${what}`,
      "etcdcluster",
      [setKey(podAnnotations, key, "x")],
      podAnnotations,
      /annotation keys must be Kubernetes qualified names/,
    )
  ),
  refused(
    "a key in unicode in a peer",
    "etcdpeer",
    [setKey(podAnnotations, "prométhée", "x")],
    podAnnotations,
    /annotation keys must be Kubernetes qualified names/,
  ),
  refused(
    "a key in unicode in a restore",
    "etcdrestore",
    [setKey(`spec.clusterTemplate.${podAnnotations}`, "prométhée", "x")],
    `spec.clusterTemplate.${podAnnotations}`,
    /annotation keys must be Kubernetes qualified names/,
  ),
]);

tableTest("huge values: every string, list and map has a size limit", [
  accepted(
    "an annotation of 4096 characters",
    "etcdcluster",
    setKey(podAnnotations, "big", "a".repeat(4096)),
  ),
  refused(
    "an annotation of 4097 characters",
    "etcdcluster",
    [setKey(podAnnotations, "big", "a".repeat(4097))],
    `${podAnnotations}.big`,
    /Too long/,
  ),
  refused(
    "an annotation of 300 KiB",
    "etcdcluster",
    [setKey(podAnnotations, "big", "a".repeat(300 * 1024))],
    `${podAnnotations}.big`,
    /Too long/,
  ),
  refused(
    "33 annotations",
    "etcdcluster",
    [set(podAnnotations, manyAnnotations(33))],
    podAnnotations,
    /Too many: 33: must have at most 32 items/,
  ),
  refused(
    "10,000 annotations",
    "etcdcluster",
    [set(podAnnotations, manyAnnotations(10_000))],
    podAnnotations,
    /Too many: 10000: must have at most 32 items/,
  ),
  refused(
    "a storage class name of 300 KiB",
    "etcdcluster",
    [set(`${claim}.storageClassName`, "a".repeat(300 * 1024))],
    `${claim}.storageClassName`,
    /Too long/,
  ),
  refused(
    "a version of 300 KiB",
    "etcdcluster",
    [set("spec.version", `3.5.${"1".repeat(300 * 1024)}`)],
    "spec.version",
    /Too long/,
  ),
  refused(
    "a schedule of 300 KiB",
    "etcdbackupschedule",
    [set("spec.schedule", `0 * * * ${"*".repeat(300 * 1024)}`)],
    "spec.schedule",
    /Too long/,
  ),
  refused(
    "a topologyKey of 300 KiB",
    "etcdcluster",
    [set(antiRequired, [{ topologyKey: "a".repeat(300 * 1024) }])],
    `${antiRequired}[0].topologyKey`,
    /Too long/,
  ),
  refused(
    "a label value of 64 characters",
    "etcdcluster",
    [set(selector, { matchLabels: { disk: "a".repeat(64) } })],
    `${selector}.matchLabels.disk`,
    /Too long/,
  ),
]);
