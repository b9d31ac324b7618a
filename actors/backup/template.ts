// Renders an EtcdBackup's objectURLTemplate ({{ .UID }}, {{ .Name }}, …) the way Go's text/template
// would for these four fields: plain text, no HTML escaping, an unknown field is an error. Pure.

/** The values a template may use, named as in the guide's operator (the EtcdBackup's metadata). */
export interface TemplateFields {
  readonly UID: string;
  readonly Name: string;
  readonly Namespace: string;
  /** RFC 3339 as the API server stores it, e.g. 2024-01-02T03:04:05Z (no spaces, unlike Go's). */
  readonly CreationTimestamp: string;
}

export const templateFieldNames: readonly (keyof TemplateFields)[] = [
  "UID",
  "Name",
  "Namespace",
  "CreationTimestamp",
];

export type TemplateErrorKind = "unknownField" | "unsupportedAction" | "unclosedAction";

export interface TemplateError {
  readonly kind: TemplateErrorKind;
  readonly message: string;
}

export type RenderResult =
  | { readonly ok: true; readonly value: string }
  | { readonly ok: false; readonly error: TemplateError };

const known = templateFieldNames.map((name) => `{{ .${name} }}`).join(", ");

/** `{{`, optional blanks, `.Field`, optional blanks, `}}`: the only action we accept. */
const fieldAction = /^\{\{[ \t\r\n]*\.([A-Za-z_][A-Za-z0-9_]*)[ \t\r\n]*\}\}$/;

export function renderObjectURL(template: string, fields: TemplateFields): RenderResult {
  let output = "";
  let rest = template;
  for (;;) {
    const open = rest.indexOf("{{");
    if (open < 0) return { ok: true, value: output + rest };
    output += rest.slice(0, open);
    const close = rest.indexOf("}}", open + 2);
    if (close < 0) {
      const position = template.length - rest.length + open + 1;
      return fail(
        "unclosedAction",
        `objectURLTemplate has a "{{" without a closing "}}" (character ${position})`,
      );
    }
    const action = rest.slice(open, close + 2);
    const value = fieldValue(action, fields);
    if (!value.ok) return value;
    output += value.value;
    rest = rest.slice(close + 2);
  }
}

function fieldValue(action: string, fields: TemplateFields): RenderResult {
  const match = fieldAction.exec(action);
  if (!match) {
    return fail(
      "unsupportedAction",
      `objectURLTemplate: ${quote(action)} is not supported: only the fields ${known} may be used`,
    );
  }
  const name = match[1];
  if (isFieldName(name)) return { ok: true, value: fields[name] };
  const near = templateFieldNames.find((candidate) =>
    candidate.toLowerCase() === name.toLowerCase()
  );
  const hint = near ? ` (did you mean {{ .${near} }}? field names are case-sensitive)` : "";
  return fail(
    "unknownField",
    `objectURLTemplate: unknown field .${name}${hint}: only ${known} are known`,
  );
}

function isFieldName(name: string): name is keyof TemplateFields {
  return (templateFieldNames as readonly string[]).includes(name);
}

function fail(kind: TemplateErrorKind, message: string): RenderResult {
  return { ok: false, error: { kind, message } };
}

function quote(text: string): string {
  return JSON.stringify(text);
}
