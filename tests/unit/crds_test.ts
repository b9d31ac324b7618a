// The CRDs in crds/ as data: names, subresources, documented schemas and consistent copies.
import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import {
  celRule as cronCelRule,
  rangeRule as cronRangeRule,
} from "../../actors/schedule/cron_rules.ts";
import {
  celRule,
  maxObjectURLLength,
  objectURLRules,
  objectURLTemplateRules,
  type URLRule,
} from "../../objectstore/url_rules.ts";

type Schema = {
  readonly description?: string;
  readonly type?: string;
  readonly properties?: Readonly<Record<string, Schema>>;
  readonly items?: Schema;
  readonly additionalProperties?: Schema | boolean;
  readonly required?: readonly string[];
  readonly "x-kubernetes-preserve-unknown-fields"?: boolean;
  readonly "x-kubernetes-int-or-string"?: boolean;
  readonly "x-kubernetes-validations"?: readonly Rule[];
};

type Rule = {
  readonly rule: string;
  readonly message?: string;
  readonly messageExpression?: string;
  readonly fieldPath?: string;
};

interface PrinterColumn {
  readonly name: string;
  readonly type: string;
  readonly jsonPath: string;
  readonly description?: string;
}

interface Crd {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string };
  readonly spec: {
    readonly group: string;
    readonly scope: string;
    readonly names: {
      readonly kind: string;
      readonly listKind: string;
      readonly plural: string;
      readonly singular: string;
      readonly shortNames?: readonly string[];
      readonly categories?: readonly string[];
    };
    readonly versions: readonly {
      readonly name: string;
      readonly served: boolean;
      readonly storage: boolean;
      readonly subresources?: {
        readonly status?: Record<string, never>;
        readonly scale?: {
          readonly specReplicasPath: string;
          readonly statusReplicasPath: string;
          readonly labelSelectorPath?: string;
        };
      };
      readonly additionalPrinterColumns?: readonly PrinterColumn[];
      readonly schema: { readonly openAPIV3Schema: Schema };
    }[];
  };
}

const crdDir = new URL("../../crds/", import.meta.url);

function loadCrds(): Map<string, Crd> {
  const crds = new Map<string, Crd>();
  for (const entry of Deno.readDirSync(crdDir)) {
    if (!entry.name.endsWith(".yaml")) continue;
    const documents = parseAllDocuments(Deno.readTextFileSync(new URL(entry.name, crdDir)));
    assert.ok(Array.isArray(documents), `${entry.name} does not parse`);
    assert.equal(documents.length, 1, `${entry.name} should hold exactly one CRD`);
    assert.deepEqual(documents[0].errors, [], `${entry.name} has YAML errors`);
    const crd = documents[0].toJS() as Crd;
    assert.equal(entry.name, `${crd.spec.group}_${crd.spec.names.plural}.yaml`);
    crds.set(crd.spec.names.kind, crd);
  }
  return crds;
}

const crds = loadCrds();
const kinds = ["EtcdCluster", "EtcdPeer", "EtcdBackup", "EtcdBackupSchedule", "EtcdRestore"];

function crdOf(kind: string): Crd {
  const crd = crds.get(kind);
  assert.ok(crd, `no CRD for ${kind} in crds/`);
  return crd;
}

function version(kind: string) {
  const [only] = crdOf(kind).spec.versions;
  return only;
}

function rootSchema(kind: string): Schema {
  return version(kind).schema.openAPIV3Schema;
}

/** The schema at a dotted path of property names, `[]` stepping into array items. */
function schemaAt(kind: string, path: string): Schema {
  let schema = rootSchema(kind);
  for (const step of path.split(".")) {
    const next = step === "[]" ? schema.items : schema.properties?.[step];
    assert.ok(next, `${kind} has no schema at ${path} (stopped at ${step})`);
    schema = next;
  }
  return schema;
}

const propertyNames = (kind: string, path: string) =>
  Object.keys(schemaAt(kind, path).properties ?? {}).sort();

/** Every schema node with its path, depth first. */
function* walk(schema: Schema, path: string): Generator<[string, Schema]> {
  yield [path, schema];
  for (const [name, child] of Object.entries(schema.properties ?? {})) {
    yield* walk(child, `${path}.${name}`);
  }
  if (schema.items) yield* walk(schema.items, `${path}[]`);
  if (typeof schema.additionalProperties === "object") {
    yield* walk(schema.additionalProperties, `${path}{}`);
  }
}

/** A copy without the rules that compare with oldSelf and without descriptions. */
function withoutTransitionRulesAndDescriptions(schema: Schema): unknown {
  return JSON.parse(JSON.stringify(schema, (key, value) => {
    if (key === "description") return undefined;
    if (key === "x-kubernetes-validations") {
      const kept = (value as Rule[]).filter((rule) => !rule.rule.includes("oldSelf"));
      return kept.length > 0 ? kept : undefined;
    }
    return value;
  }));
}

Deno.test("crds/ holds exactly one CRD for each of the five kinds", () => {
  assert.deepEqual([...crds.keys()].sort(), [...kinds].sort());
});

for (const kind of kinds) {
  Deno.test(`the ${kind} CRD is namespaced etcd.improbable.io/v1alpha1 in the etcd category`, () => {
    const crd = crdOf(kind);
    assert.equal(crd.apiVersion, "apiextensions.k8s.io/v1");
    assert.equal(crd.kind, "CustomResourceDefinition");
    assert.equal(crd.spec.group, "etcd.improbable.io");
    assert.equal(crd.spec.scope, "Namespaced");
    const names = crd.spec.names;
    assert.equal(names.plural, `${kind.toLowerCase()}s`);
    assert.equal(names.singular, kind.toLowerCase());
    assert.equal(names.listKind, `${kind}List`);
    assert.equal(crd.metadata.name, `${names.plural}.etcd.improbable.io`);
    assert.deepEqual(names.categories, ["etcd"]);
    assert.ok((names.shortNames ?? []).length > 0, `${kind} has no short names`);
    assert.equal(crd.spec.versions.length, 1);
    const [v1alpha1] = crd.spec.versions;
    assert.equal(v1alpha1.name, "v1alpha1");
    assert.equal(v1alpha1.served, true);
    assert.equal(v1alpha1.storage, true);
  });

  Deno.test(`the ${kind} CRD has a status subresource and a required spec`, () => {
    assert.deepEqual(version(kind).subresources?.status, {});
    assert.ok(rootSchema(kind).required?.includes("spec"));
    assert.ok(rootSchema(kind).properties?.status, `${kind} has no status schema`);
  });

  Deno.test(`every field of ${kind} has a description, for kubectl explain`, () => {
    const undocumented: string[] = [];
    for (const [path, schema] of walk(rootSchema(kind), kind)) {
      const isProperty = !path.endsWith("[]") && !path.endsWith("{}");
      // The apiserver forbids anything but name and generateName under metadata.
      if (path === `${kind}.metadata`) continue;
      if (isProperty && !schema.description?.trim()) undocumented.push(path);
    }
    assert.deepEqual(undocumented, []);
  });

  Deno.test(`every object in the ${kind} schema is structural`, () => {
    for (const [path, schema] of walk(rootSchema(kind), kind)) {
      if (schema["x-kubernetes-int-or-string"]) continue;
      assert.ok(schema.type, `${path} has no type`);
      if (schema.type === "object") {
        assert.ok(
          schema.properties || schema.additionalProperties ||
            schema["x-kubernetes-preserve-unknown-fields"] || path === `${kind}.metadata`,
          `${path} is an object with neither properties nor additionalProperties`,
        );
      }
      for (const required of schema.required ?? []) {
        assert.ok(
          schema.properties?.[required],
          `${path} requires ${required}, which it does not define`,
        );
      }
    }
  });

  Deno.test(`every CEL rule of ${kind} says what is wrong when it fails`, () => {
    for (const [path, schema] of walk(rootSchema(kind), kind)) {
      for (const rule of schema["x-kubernetes-validations"] ?? []) {
        // The apiserver requires a plain message as well when a rule spans lines.
        assert.ok(rule.message?.trim(), `a rule at ${path} has no message: ${rule.rule}`);
      }
    }
  });

  Deno.test(`the printer columns of ${kind} point at fields of its schema`, () => {
    const columns = version(kind).additionalPrinterColumns ?? [];
    assert.ok(columns.length >= 2, `${kind} has no printer columns`);
    assert.equal(columns[columns.length - 1].name, "Age");
    for (const column of columns) {
      assert.ok(column.description, `column ${column.name} has no description`);
      if (column.jsonPath.startsWith(".metadata.")) continue;
      const path = column.jsonPath.slice(1).replace(/\[\?\(.*\)\]/, ".[]");
      schemaAt(kind, path);
    }
  });
}

Deno.test("short names are unique and none is the category name, which kubectl would expand instead", () => {
  const shortNames = kinds.flatMap((kind) => crdOf(kind).spec.names.shortNames ?? []);
  assert.equal(new Set(shortNames).size, shortNames.length);
  assert.ok(!shortNames.includes("etcd"));
});

Deno.test("EtcdCluster has a scale subresource on spec.replicas, status.replicas and status.selector", () => {
  assert.deepEqual(version("EtcdCluster").subresources?.scale, {
    specReplicasPath: ".spec.replicas",
    statusReplicasPath: ".status.replicas",
    labelSelectorPath: ".status.selector",
  });
  assert.equal(schemaAt("EtcdCluster", "status.selector").type, "string");
  assert.equal(schemaAt("EtcdCluster", "status.replicas").type, "integer");
});

Deno.test("EtcdCluster printer columns are replicas, ready, version, cluster version, available, age", () => {
  const columns = (version("EtcdCluster").additionalPrinterColumns ?? []).filter((column) =>
    !("priority" in column)
  );
  assert.deepEqual(columns.map((column) => [column.name, column.jsonPath]), [
    ["Replicas", ".spec.replicas"],
    ["Ready", ".status.readyReplicas"],
    ["Version", ".spec.version"],
    ["Cluster Version", ".status.clusterVersion"],
    ["Available", '.status.conditions[?(@.type=="Available")].status'],
    ["Age", ".metadata.creationTimestamp"],
  ]);
});

Deno.test("the field names are those of DESIGN.md §1", () => {
  const expected: Record<string, Record<string, string[]>> = {
    EtcdCluster: {
      // `tls` and `quorumLossRecovery` are additive (issues 13 and 15).
      spec: ["podTemplate", "quorumLossRecovery", "replicas", "storage", "tls", "version"],
      status: [
        "clusterVersion",
        "conditions",
        "leader",
        "members",
        "observedGeneration",
        "readyReplicas",
        "replicas",
        "selector",
        "tls",
      ],
      "spec.tls": ["certificates", "client", "peer"],
      "spec.tls.client.userProvided": ["operatorSecretName", "serverSecretName"],
      "spec.tls.peer.userProvided": ["secretName"],
      "spec.tls.certificates": [
        "caRenewBefore",
        "caRotation",
        "caValidity",
        "renewBefore",
        "validity",
      ],
      "status.tls": ["caRotationPhase", "certificates"],
      "status.tls.certificates.[]": ["notAfter", "renewAt", "role", "secretName"],
      "status.members.[]": ["id", "name"],
      "spec.podTemplate": ["affinity", "metadata", "resources"],
      "spec.podTemplate.metadata": ["annotations"],
      "spec.podTemplate.resources": ["limits", "requests"],
      "spec.storage": ["volumeClaimTemplate"],
      "spec.storage.volumeClaimTemplate": [
        "accessModes",
        "resources",
        "selector",
        "storageClassName",
        "volumeMode",
      ],
      "status.conditions.[]": [
        "lastTransitionTime",
        "message",
        "observedGeneration",
        "reason",
        "status",
        "type",
      ],
    },
    EtcdPeer: {
      spec: ["bootstrap", "clusterName", "podTemplate", "storage", "tls", "version"],
      "spec.tls": ["client", "peer"],
      "spec.bootstrap": ["forceNewCluster", "initialClusterState", "static"],
      "spec.bootstrap.static": ["initialCluster"],
      "spec.bootstrap.static.initialCluster.[]": ["host", "name"],
      // `node` is additive (not in DESIGN.md): where the member runs, for the printer column.
      status: ["node", "serverVersion"],
    },
    EtcdBackup: {
      spec: ["credentialsSecretRef", "destination", "source"],
      "spec.source": ["clusterURL"],
      "spec.destination": ["objectURLTemplate"],
      "spec.credentialsSecretRef": ["name"],
      status: [
        "completionTime",
        "conditions",
        "objectURL",
        "phase",
        "revision",
        "sha256",
        "sizeBytes",
        "startTime",
      ],
    },
    EtcdBackupSchedule: {
      spec: [
        "backupTemplate",
        "failedBackupsHistoryLimit",
        "prunedBackupObjects",
        "schedule",
        "successfulBackupsHistoryLimit",
        "suspend",
      ],
      status: ["conditions", "lastScheduleTime", "lastSuccessfulTime"],
    },
    EtcdRestore: {
      spec: ["clusterTemplate", "credentialsSecretRef", "source"],
      "spec.source": ["objectURL"],
      "spec.clusterTemplate": ["clusterName", "spec"],
      status: ["conditions", "phase", "snapshot"],
      "status.snapshot": ["backupName", "backupUID", "sha256"],
    },
  };
  for (const [kind, paths] of Object.entries(expected)) {
    for (const [path, names] of Object.entries(paths)) {
      assert.deepEqual(propertyNames(kind, path), names, `${kind} ${path}`);
    }
  }
});

Deno.test("the phases are the ones the operator writes", () => {
  assert.deepEqual(
    (schemaAt("EtcdBackup", "status.phase") as { enum?: string[] }).enum,
    ["BackingUp", "Completed", "Failed"],
  );
  assert.deepEqual(
    (schemaAt("EtcdRestore", "status.phase") as { enum?: string[] }).enum,
    ["Pending", "Restoring", "Completed", "Failed"],
  );
  assert.deepEqual(
    (schemaAt("EtcdPeer", "spec.bootstrap.initialClusterState") as { enum?: string[] }).enum,
    ["New", "Existing"],
  );
});

Deno.test("an EtcdRestore's clusterTemplate.spec validates exactly like an EtcdCluster's spec, on creation", () => {
  assert.deepEqual(
    withoutTransitionRulesAndDescriptions(schemaAt("EtcdRestore", "spec.clusterTemplate.spec")),
    withoutTransitionRulesAndDescriptions(schemaAt("EtcdCluster", "spec")),
  );
});

Deno.test("an EtcdBackupSchedule's backupTemplate validates exactly like an EtcdBackup's spec, on creation", () => {
  assert.deepEqual(
    withoutTransitionRulesAndDescriptions(schemaAt("EtcdBackupSchedule", "spec.backupTemplate")),
    withoutTransitionRulesAndDescriptions(schemaAt("EtcdBackup", "spec")),
  );
});

Deno.test("an EtcdPeer's storage, podTemplate and version validate like its cluster's", () => {
  for (const field of ["storage", "podTemplate", "version"]) {
    assert.deepEqual(
      withoutTransitionRulesAndDescriptions(schemaAt("EtcdPeer", `spec.${field}`)),
      withoutTransitionRulesAndDescriptions(schemaAt("EtcdCluster", `spec.${field}`)),
      field,
    );
  }
});

Deno.test("only EtcdCluster's replicas, version and TLS certificate lifetimes may change: every other spec is guarded by oldSelf", () => {
  const transitionRules = (kind: string, path: string) =>
    (schemaAt(kind, path)["x-kubernetes-validations"] ?? []).filter((rule) =>
      rule.rule.includes("oldSelf")
    );
  assert.equal(transitionRules("EtcdCluster", "spec.storage").length, 1);
  assert.equal(
    transitionRules("EtcdCluster", "spec").length,
    2,
    "podTemplate, including add/remove; tls add/remove",
  );
  assert.equal(transitionRules("EtcdCluster", "spec.tls").length, 1, "client and peer");
  assert.deepEqual(
    transitionRules("EtcdCluster", "spec.tls.certificates.caRotation").map((rule) => rule.rule),
    ["self >= oldSelf"],
  );
  assert.equal(
    transitionRules("EtcdCluster", "spec.version").length,
    3,
    "major, minor jump, minor down",
  );
  assert.equal(transitionRules("EtcdCluster", "spec.replicas").length, 0);
  for (const kind of ["EtcdPeer", "EtcdBackup", "EtcdRestore"]) {
    assert.deepEqual(
      transitionRules(kind, "spec").map((rule) => rule.rule),
      ["self == oldSelf"],
      kind,
    );
  }
  assert.deepEqual(transitionRules("EtcdBackupSchedule", "spec"), []);
});

Deno.test("the EtcdBackupSchedule defaults are 3 successful and 1 failed backups kept, not suspended", () => {
  const defaults = (path: string) =>
    (schemaAt("EtcdBackupSchedule", path) as { default?: unknown }).default;
  assert.equal(defaults("spec.successfulBackupsHistoryLimit"), 3);
  assert.equal(defaults("spec.failedBackupsHistoryLimit"), 1);
  assert.equal(defaults("spec.suspend"), false);
  assert.deepEqual(
    (schemaAt("EtcdCluster", "spec.storage.volumeClaimTemplate.accessModes") as {
      default?: unknown;
    })
      .default,
    ["ReadWriteOnce"],
  );
});

Deno.test("podTemplate.affinity is typed all the way down, as the Pod's is", () => {
  const affinity = schemaAt("EtcdCluster", "spec.podTemplate.affinity");
  assert.deepEqual(Object.keys(affinity.properties ?? {}).sort(), [
    "nodeAffinity",
    "podAffinity",
    "podAntiAffinity",
  ]);
  const term = "podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution.[].podAffinityTerm";
  assert.ok(
    schemaAt("EtcdCluster", `spec.podTemplate.affinity.${term}`).required?.includes("topologyKey"),
  );
});

for (const kind of kinds) {
  Deno.test(`no field of a ${kind} spec escapes validation: no preserve-unknown-fields`, () => {
    for (const [path, schema] of walk(schemaAt(kind, "spec"), `${kind}.spec`)) {
      assert.notEqual(schema["x-kubernetes-preserve-unknown-fields"], true, path);
    }
  });

  Deno.test(`every ${kind} spec value is bounded: strings, lists, maps and integers`, () => {
    for (const [path, schema] of walk(schemaAt(kind, "spec"), `${kind}.spec`)) {
      const bounded = schema as Schema & {
        maxLength?: number;
        maxItems?: number;
        maxProperties?: number;
        maximum?: number;
        enum?: unknown[];
      };
      if (schema.type === "string" || schema["x-kubernetes-int-or-string"]) {
        assert.ok(bounded.maxLength !== undefined || bounded.enum, `${path} has no maxLength`);
      }
      if (schema.type === "array") assert.ok(bounded.maxItems !== undefined, `${path}: maxItems`);
      if (schema.type === "object" && schema.additionalProperties) {
        assert.ok(bounded.maxProperties !== undefined, `${path} has no maxProperties`);
      }
      if (schema.type === "integer") assert.ok(bounded.maximum !== undefined, `${path}: maximum`);
    }
  });
}

Deno.test("every label selector has the same rules, wherever it is", () => {
  const selectors: [string, string][] = [
    ["EtcdCluster", "spec.storage.volumeClaimTemplate.selector"],
    ...["podAffinity", "podAntiAffinity"].flatMap((kind) =>
      ["labelSelector", "namespaceSelector"].flatMap((field): [string, string][] => [
        [
          "EtcdCluster",
          `spec.podTemplate.affinity.${kind}.requiredDuringSchedulingIgnoredDuringExecution.[].${field}`,
        ],
        [
          "EtcdCluster",
          `spec.podTemplate.affinity.${kind}.preferredDuringSchedulingIgnoredDuringExecution.[].podAffinityTerm.${field}`,
        ],
      ])
    ),
  ];
  const [first, ...others] = selectors.map(([kind, path]) =>
    withoutTransitionRulesAndDescriptions(schemaAt(kind, path))
  );
  for (const [index, other] of others.entries()) {
    assert.deepEqual(other, first, selectors[index + 1][1]);
  }
});

Deno.test("every object URL field carries exactly the parser's rules (objectstore/url_rules.ts) as CEL", () => {
  const fields: [string, string, readonly URLRule[]][] = [
    ["EtcdRestore", "spec.source.objectURL", objectURLRules],
    ["EtcdBackup", "spec.destination.objectURLTemplate", objectURLTemplateRules],
    [
      "EtcdBackupSchedule",
      "spec.backupTemplate.destination.objectURLTemplate",
      objectURLTemplateRules,
    ],
  ];
  for (const [kind, path, rules] of fields) {
    const schema = schemaAt(kind, path) as Schema & { maxLength?: number };
    assert.equal(schema.maxLength, maxObjectURLLength, `${kind} ${path}`);
    assert.deepEqual(
      schema["x-kubernetes-validations"],
      rules.map((rule) => ({ rule: celRule(rule), message: rule.message })),
      `${kind} ${path}: paste what tools/crd_url_rules.ts prints`,
    );
  }
});

Deno.test("the schedule carries exactly the planner's cron grammar (actors/schedule/cron_rules.ts) as CEL", () => {
  const rules = (schemaAt("EtcdBackupSchedule", "spec.schedule") as Schema)[
    "x-kubernetes-validations"
  ] as { rule: string }[];
  assert.deepEqual(rules.map((rule) => rule.rule), [cronCelRule, cronRangeRule]);
});

Deno.test("the object URL patterns fit in a CEL raw string", () => {
  for (const rule of [...objectURLRules, ...objectURLTemplateRules]) {
    assert.doesNotMatch(`${rule.when ?? ""}${rule.pattern}`, /'/, rule.kind);
  }
});
