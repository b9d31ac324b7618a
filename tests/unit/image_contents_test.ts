// The operator image ships every file mod.ts needs: the Dockerfile's and the local recipe's copies.
import assert from "node:assert/strict";
import { relative } from "node:path";
import { fileURLToPath } from "node:url";
import { repoDir } from "../env/config.ts";
import {
  isExcluded,
  notShipped,
  operatorRecipe,
  operatorV8Flags,
  repoSource,
} from "../env/images/operator.ts";
import { launcherScript } from "../../tools/airgap.ts";

interface ModuleGraph {
  readonly modules: readonly { readonly specifier: string }[];
}

/**
 * The repository files the operator reads when it starts: every local module in mod.ts's graph,
 * as Deno itself resolves it, plus the import map and lockfile that `--cached-only` runs with.
 */
async function neededFiles(): Promise<string[]> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "mod.ts"],
    cwd: repoDir,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(output.success, `deno info failed: ${new TextDecoder().decode(output.stderr)}`);
  const graph: ModuleGraph = JSON.parse(new TextDecoder().decode(output.stdout));
  const local = graph.modules
    .map((module) => module.specifier)
    .filter((specifier) => specifier.startsWith("file://"))
    .map((specifier) => relative(repoDir, fileURLToPath(specifier)));
  return ["deno.json", "deno.lock", ...local].sort();
}

/** The sources of the Dockerfile's `COPY` lines that copy from the build context. */
function dockerfileCopySources(dockerfile: string): string[] {
  const sources: string[] = [];
  for (const line of dockerfile.split("\n")) {
    const words = line.trim().split(/\s+/);
    if (words[0]?.toUpperCase() !== "COPY") continue;
    const operands = words.slice(1).filter((word) => !word.startsWith("--"));
    // Another stage's files, not the build context's.
    if (words.some((word) => word.startsWith("--from="))) continue;
    sources.push(...operands.slice(0, -1));
  }
  return sources;
}

/** Whether a COPY source (`.`, a directory, or a file) brings `file` into the image. */
function copiedBy(file: string, source: string): boolean {
  const path = source.replace(/^\.\/?/, "").replace(/\/+$/, "");
  return path === "" || file === path || file.startsWith(`${path}/`);
}

Deno.test("mod.ts's graph includes the folders it is made of, so the checks below have something to check", async () => {
  const needed = await neededFiles();
  for (const file of ["mod.ts", "observability/metrics.ts", "actors/manager.ts", "k8s/client.ts"]) {
    assert.ok(needed.includes(file), `${file} missing from deno info's graph: ${needed}`);
  }
});

Deno.test("the Dockerfile copies every file mod.ts needs and .dockerignore leaves none of them out", async () => {
  const needed = await neededFiles();
  const sources = dockerfileCopySources(await Deno.readTextFile(`${repoDir}/Dockerfile`));
  assert.ok(sources.length > 0, "no COPY from the build context in the Dockerfile");
  const excluded = await notShipped(repoDir);
  const missing = needed.filter((file) =>
    !sources.some((source) => copiedBy(file, source)) || isExcluded(file, excluded)
  );
  assert.deepEqual(missing, [], "files mod.ts needs that the Dockerfile's image would lack");
});

Deno.test("the local cluster's operator image ships every file mod.ts needs", async () => {
  const needed = await neededFiles();
  const shipped = new Set((await repoSource()).files);
  assert.deepEqual(needed.filter((file) => !shipped.has(file)), []);
});

Deno.test("a .dockerignore path leaves out itself and what lies under it, not a name it prefixes", () => {
  assert.ok(isExcluded("tests", ["tests"]));
  assert.ok(isExcluded("tests/unit/x_test.ts", ["tests"]));
  assert.ok(!isExcluded("tests.ts", ["tests"]));
  assert.ok(!isExcluded("actors/tests/x.ts", ["tests"]));
});

Deno.test("the Dockerfile, the local image and the air-gapped launcher start Deno with the same V8 flags", async () => {
  const dockerfile = await Deno.readTextFile(`${repoDir}/Dockerfile`);
  const entrypoint = dockerfile.split("\n").find((line) => line.startsWith("ENTRYPOINT"));
  assert.ok(entrypoint?.includes(`"${operatorV8Flags}"`), `Dockerfile: ${entrypoint}`);
  const recipe = operatorRecipe({ root: repoDir, files: ["mod.ts"] });
  assert.ok(recipe.config.Entrypoint?.includes(operatorV8Flags));
  assert.ok(launcherScript.includes(` ${operatorV8Flags} `), launcherScript);
});
