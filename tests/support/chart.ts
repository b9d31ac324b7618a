// The Helm chart and the YAML users apply, rendered and parsed for the unit and e2e tests.
import { parseAllDocuments } from "yaml";
import { bin, repoDir } from "../env/config.ts";

export const chartDir = `${repoDir}/charts/etcd-operator`;

/** A Kubernetes object as the tests read it. */
export interface Manifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly labels?: Record<string, string>;
  };
  // Tests read deep into specs of many kinds; typing each kind's whole spec would dwarf the tests.
  // deno-lint-ignore no-explicit-any
  readonly [field: string]: any;
}

/** The helm that tests/env/build-binaries.sh builds (tests/run.ts builds it before the suites). */
export async function helmPath(): Promise<string> {
  const path = bin.helm();
  const built = await Deno.stat(path).then(() => true, () => false);
  if (!built) {
    throw new Error(`${path} is missing: run \`bash tests/env/build-binaries.sh helm\` first`);
  }
  return path;
}

export interface CommandOutput {
  readonly success: boolean;
  readonly stdout: string;
  readonly stderr: string;
}

export async function runCommand(
  command: string,
  args: readonly string[],
  stdin?: string,
): Promise<CommandOutput> {
  const child = new Deno.Command(command, {
    args: [...args],
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const output = await child.output();
  return {
    success: output.success,
    stdout: new TextDecoder().decode(output.stdout),
    stderr: new TextDecoder().decode(output.stderr),
  };
}

/** `helm <args>` that must succeed; the error carries helm's own message. */
export async function helm(args: readonly string[]): Promise<string> {
  const result = await runCommand(await helmPath(), args);
  if (!result.success) throw new Error(`helm ${args.join(" ")} failed: ${result.stderr.trim()}`);
  return result.stdout;
}

/** Values as `--set` would give them, plus string lists, which `--set` spells awkwardly. */
export interface ChartValues {
  readonly release?: string;
  readonly namespace?: string;
  readonly set?: Readonly<Record<string, string | boolean | number | readonly string[]>>;
}

/** `--set-json key=value` arguments: one form for strings, booleans, numbers and lists. */
export function valueArgs(values: ChartValues): string[] {
  return Object.entries(values.set ?? {})
    .flatMap(([key, value]) => ["--set-json", `${key}=${JSON.stringify(value)}`]);
}

/** `helm template` of the chart, CRDs included, as YAML text. */
export function renderChartText(values: ChartValues = {}): Promise<string> {
  return helm([
    "template",
    values.release ?? "etcd-operator",
    chartDir,
    "--namespace",
    values.namespace ?? "etcd-operator-system",
    "--include-crds",
    ...valueArgs(values),
  ]);
}

export async function renderChart(values: ChartValues = {}): Promise<Manifest[]> {
  return parseManifests(await renderChartText(values));
}

/** Every non-empty document of a multi-document YAML stream. */
export function parseManifests(text: string): Manifest[] {
  const documents = parseAllDocuments(text);
  if (!Array.isArray(documents)) throw new Error("not a YAML stream");
  for (const document of documents) {
    if (document.errors.length > 0) throw new Error(`YAML error: ${document.errors[0].message}`);
  }
  return documents.map((document) => document.toJS() as Manifest | null)
    .filter((manifest): manifest is Manifest => manifest !== null);
}

/** The objects of every .yaml file in a folder of the repository (what `kubectl apply -f` reads). */
export async function repoManifests(folder: string): Promise<Manifest[]> {
  const manifests: Manifest[] = [];
  const names = [...Deno.readDirSync(`${repoDir}/${folder}`)].map((entry) => entry.name)
    .filter((name) => name.endsWith(".yaml")).sort();
  for (const name of names) {
    manifests.push(...parseManifests(await Deno.readTextFile(`${repoDir}/${folder}/${name}`)));
  }
  return manifests;
}

/** `Kind namespace/name` of each object, sorted: what two ways of installing must agree on. */
export function objectKeys(manifests: readonly Manifest[]): string[] {
  return manifests.map((manifest) =>
    `${manifest.kind} ${manifest.metadata.namespace ?? ""}/${manifest.metadata.name}`
  ).sort();
}
