// Prints the x-kubernetes-validations list the CRDs carry for an object URL field, from the
// parser's own rules (objectstore/url_rules.ts): paste it under the field after changing a rule.
//   deno run tools/crd_url_rules.ts object     EtcdRestore spec.source.objectURL
//   deno run tools/crd_url_rules.ts template   EtcdBackup(Schedule) …objectURLTemplate
import { celRule, objectURLRules, objectURLTemplateRules } from "../objectstore/url_rules.ts";

const [variant] = Deno.args;
if (variant !== "object" && variant !== "template") {
  console.error("usage: deno run tools/crd_url_rules.ts object|template");
  Deno.exit(2);
}
const rules = variant === "object" ? objectURLRules : objectURLTemplateRules;
console.log("x-kubernetes-validations:");
for (const rule of rules) {
  // A block scalar, so the pattern's quotes and backslashes need no YAML escaping.
  console.log(`  - rule: |-\n      ${celRule(rule)}\n    message: ${JSON.stringify(rule.message)}`);
}
