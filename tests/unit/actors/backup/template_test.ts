// objectURLTemplate rendering as data: the four fields, Go-template spacing, no escaping, errors.
import assert from "node:assert/strict";
import { renderObjectURL, type TemplateFields } from "../../../../actors/backup/template.ts";

const fields: TemplateFields = {
  UID: "0b6f1c1e-5d2a-4c3b-9f7e-2a1d3c4b5e6f",
  Name: "nightly-20240102030400",
  Namespace: "prod",
  CreationTimestamp: "2024-01-02T03:04:05Z",
};

const rendered: readonly (readonly [string, string, string])[] = [
  ["a template without fields is returned unchanged", "s3://b/k.db", "s3://b/k.db"],
  [
    "every field renders",
    "gs://b/{{ .Namespace }}/{{ .Name }}/{{ .UID }}@{{ .CreationTimestamp }}.db",
    "gs://b/prod/nightly-20240102030400/0b6f1c1e-5d2a-4c3b-9f7e-2a1d3c4b5e6f@2024-01-02T03:04:05Z.db",
  ],
  [
    "no spaces inside the braces work as in Go",
    "s3://b/{{.Name}}.db",
    "s3://b/nightly-20240102030400.db",
  ],
  ["several spaces and tabs work", "s3://b/{{   .Name\t}}.db", "s3://b/nightly-20240102030400.db"],
  [
    "a field may repeat",
    "s3://b/{{ .Name }}/{{ .Name }}",
    "s3://b/nightly-20240102030400/nightly-20240102030400",
  ],
  [
    "query parameters with & and = are not HTML-escaped",
    "s3://b/{{ .UID }}.db?endpoint=http://minio:9000&region=us-east-1",
    "s3://b/0b6f1c1e-5d2a-4c3b-9f7e-2a1d3c4b5e6f.db?endpoint=http://minio:9000&region=us-east-1",
  ],
  ["a lone closing brace pair is plain text, as in Go", "s3://b/}}x", "s3://b/}}x"],
];

for (const [name, template, expected] of rendered) {
  Deno.test(`rendering: ${name}`, () => {
    assert.deepEqual(renderObjectURL(template, fields), { ok: true, value: expected });
  });
}

Deno.test("rendering: values are inserted verbatim, with no HTML escaping of <, > or &", () => {
  const result = renderObjectURL("s3://b/{{ .Name }}", { ...fields, Name: "a&b<c>'d\"" });
  assert.deepEqual(result, { ok: true, value: "s3://b/a&b<c>'d\"" });
});

const failures: readonly (readonly [string, string, string, RegExp])[] = [
  [
    "an unknown field is an error naming it",
    "s3://b/{{ .Bucket }}",
    "unknownField",
    /unknown field \.Bucket/,
  ],
  [
    "a field in the wrong case suggests the right one",
    "s3://b/{{ .name }}",
    "unknownField",
    /did you mean \{\{ \.Name \}\}/,
  ],
  ["an unclosed action is an error", "s3://b/{{ .Name", "unclosedAction", /without a closing/],
  [
    "a pipeline is not supported",
    's3://b/{{ .Name | printf "%s" }}',
    "unsupportedAction",
    /not supported/,
  ],
  ["a function call is not supported", "s3://b/{{ now }}", "unsupportedAction", /only the fields/],
  ["trim markers are not supported", "s3://b/{{- .Name }}", "unsupportedAction", /not supported/],
  ["an empty action is not supported", "s3://b/{{}}", "unsupportedAction", /not supported/],
];

for (const [name, template, kind, message] of failures) {
  Deno.test(`rendering: ${name}`, () => {
    const result = renderObjectURL(template, fields);
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.equal(result.error.kind, kind);
    assert.match(result.error.message, message);
  });
}

Deno.test("rendering: every error lists the fields that may be used", () => {
  const result = renderObjectURL("s3://b/{{ .Foo }}", fields);
  assert.ok(!result.ok);
  for (const field of ["UID", "Name", "Namespace", "CreationTimestamp"]) {
    assert.ok(result.error.message.includes(`{{ .${field} }}`), result.error.message);
  }
});
