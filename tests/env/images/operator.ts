// The operator's image: Deno, the working tree's sources under /app and a DENO_DIR filled on the host.
import { basename, dirname, join } from "node:path";
import { bin, repoDir, versions } from "../config.ts";
import { run } from "../processes.ts";
import { sha256Hex } from "./archive.ts";
import { fileStamp, type ImageRecipe, imagesDir } from "./build.ts";
import {
  addDirectories,
  addDynamicBinary,
  addNsswitch,
  addUsers,
  baseDirectories,
  exists,
  nonroot,
  root,
  sharedLibraries,
} from "./rootfs.ts";

export const operatorImageName = "etcd-operator.local/operator:dev";

/** Files copied to /app: paths relative to `root`. */
export interface AppSource {
  readonly root: string;
  readonly files: readonly string[];
}

/**
 * The paths .dockerignore keeps out of the image: the Dockerfile and this recipe share the file,
 * so they ship the same sources. Only plain paths are accepted, because a wildcard or `!` line
 * would mean something to Docker that this reading does not do.
 */
export async function notShipped(root: string): Promise<string[]> {
  const text = await Deno.readTextFile(join(root, ".dockerignore"));
  const paths = text.split("\n").map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  const unsupported = paths.filter((path) => /[*?[\]!\\]/.test(path));
  if (unsupported.length > 0) {
    throw new Error(`.dockerignore: use plain paths, not patterns: ${unsupported.join(", ")}`);
  }
  return paths.map((path) => path.replace(/^\/+|\/+$/g, ""));
}

/** Whether `file` (relative to the repository) is one of `excluded` or lies under one of them. */
export function isExcluded(file: string, excluded: readonly string[]): boolean {
  return excluded.some((path) => file === path || file.startsWith(`${path}/`));
}

/** The files git would commit from the working tree (tracked or new, not ignored) that ship. */
export async function repoSource(): Promise<AppSource> {
  const { stdout } = await run("git", [
    "-C",
    repoDir,
    "ls-files",
    "-z",
    "--cached",
    "--others",
    "--exclude-standard",
  ]);
  const excluded = await notShipped(repoDir);
  const listed = stdout.split("\0").filter((file) => file !== "" && !isExcluded(file, excluded));
  const files: string[] = [];
  // --cached still lists a tracked file deleted from the working tree.
  for (const file of listed) if (await exists(join(repoDir, file))) files.push(file);
  return { root: repoDir, files: files.sort() };
}

export function hasEntrypoint(source: AppSource): boolean {
  return source.files.includes("mod.ts");
}

/**
 * How the operator's Deno is started wherever it ships (this image, the Dockerfile's, the air-gapped
 * launcher). V8 lets the young generation grow to 32 MiB per semi-space with the allocation rate
 * and keeps it: at 30 clusters it sat at 14–54 MiB and the leader's RSS at 213–249 MiB, against
 * 4 MiB and 165–219 MiB with this flag, at the same idle CPU (bench/results/issue9-memory.md).
 */
export const operatorV8Flags = "--v8-flags=--max-semi-space-size=2";

export function operatorRecipe(source: AppSource): ImageRecipe {
  return {
    name: operatorImageName,
    config: {
      Entrypoint: [
        "/usr/local/bin/deno",
        "run",
        "--allow-net",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "--allow-sys",
        operatorV8Flags,
        // The DENO_DIR below holds every dependency: the container never downloads anything.
        "--cached-only",
        "/app/mod.ts",
      ],
      Env: [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "DENO_DIR=/deno-dir",
        "DENO_NO_UPDATE_CHECK=1",
        "HOME=/tmp",
      ],
      WorkingDir: "/app",
      User: `${nonroot.id}:${nonroot.id}`,
    },
    inputs: async () => [
      `deno ${versions.DENO_VERSION}`,
      await fileStamp(bin.deno()),
      ...await Promise.all((await sharedLibraries(bin.deno())).map(fileStamp)),
      await sourceDigest(source),
    ],
    stage: (workDir) => stageOperator(source, workDir),
  };
}

/**
 * Three layers, from least to most often changed: Deno and its libraries, the dependency cache,
 * the sources. Returns their directory trees.
 */
async function stageOperator(source: AppSource, workDir: string): Promise<string[]> {
  const runtime = join(workDir, "runtime");
  await addDynamicBinary(runtime, bin.deno(), "/usr/local/bin/deno");
  await addUsers(runtime, [root, nonroot]);
  await addDirectories(runtime, baseDirectories);
  await addNsswitch(runtime);
  const app = join(workDir, "app");
  await copySource(source, join(app, "app"));
  const dependencies = await dependencyLayer(source, join(app, "app"));
  // The operator runs as nonroot, and some npm tarballs (and checkouts) hold 0600 files.
  await run("chmod", ["-R", "u+rw,go=rX", join(app, "app"), join(dependencies, "deno-dir")]);
  return [runtime, dependencies, app];
}

/**
 * The /deno-dir layer. It outlives a build, keyed by deno.json and deno.lock: a change to the
 * sources alone then downloads nothing and gives a byte-identical layer, so rebuilding the image
 * takes seconds and containerd stores no new copy of the dependencies.
 */
async function dependencyLayer(source: AppSource, appDir: string): Promise<string> {
  const manifests = source.files.filter((file) => ["deno.json", "deno.lock"].includes(file));
  const contents = await Promise.all(
    manifests.map((file) => Deno.readTextFile(join(appDir, file))),
  );
  const key = (await sha256Hex(contents.join("\0"))).slice(0, 16);
  const layerRoot = join(imagesDir, `operator-dependencies-${key}`);
  for await (const entry of Deno.readDir(imagesDir)) {
    const stale = entry.name.startsWith("operator-dependencies-") &&
      entry.name !== basename(layerRoot);
    if (stale) await Deno.remove(join(imagesDir, entry.name), { recursive: true });
  }
  await cacheDependencies(appDir, join(layerRoot, "deno-dir"));
  return layerRoot;
}

/** A hash over every source file's name and content (small text files: cheap to hash). */
async function sourceDigest(source: AppSource): Promise<string> {
  const lines: string[] = [];
  for (const file of source.files) {
    lines.push(`${file} ${await sha256Hex(await Deno.readFile(join(source.root, file)))}`);
  }
  return `sources ${await sha256Hex(lines.join("\n"))}`;
}

export async function copySource(source: AppSource, appDir: string): Promise<void> {
  for (const file of source.files) {
    await Deno.mkdir(dirname(join(appDir, file)), { recursive: true });
    await Deno.copyFile(join(source.root, file), join(appDir, file));
  }
}

/**
 * Downloads every module mod.ts imports into `denoDir`, run from the staged /app so deno.json
 * (import map) and the lockfile it writes are the ones the container sees.
 */
export async function cacheDependencies(appDir: string, denoDir: string): Promise<void> {
  const output = await new Deno.Command(bin.deno(), {
    args: ["install", "--entrypoint", "mod.ts"],
    cwd: appDir,
    env: { DENO_DIR: denoDir, DENO_NO_UPDATE_CHECK: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    const stderr = new TextDecoder().decode(output.stderr);
    throw new Error(`deno install for the operator image failed: ${stderr.trim()}`);
  }
  await removeHostCaches(denoDir);
}

/**
 * Keeps what --cached-only needs (npm/, remote/, gen/ of remote modules) and drops caches keyed
 * by host paths the container never sees: the SQLite analysis caches (which also differ on every
 * build, so keeping them would change the layer each time) and transpiled local files.
 */
async function removeHostCaches(denoDir: string): Promise<void> {
  for await (const entry of Deno.readDir(denoDir)) {
    if (entry.isFile) await Deno.remove(join(denoDir, entry.name));
  }
  await Deno.remove(join(denoDir, "gen", "file"), { recursive: true }).catch(() => {});
}
