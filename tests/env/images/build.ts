// Builds an image from a recipe once per distinct set of inputs; unchanged images are reused as is.
import { join } from "node:path";
import { cacheDir, envDir } from "../config.ts";
import { type RunConfig, sha256Hex, writeImageArchive } from "./archive.ts";
import { exists } from "./rootfs.ts";

export interface ImageArchive {
  readonly name: string;
  readonly path: string;
}

export interface ImageRecipe {
  readonly name: string;
  readonly config: RunConfig;
  /**
   * Cheap fingerprints of what the image is made from (binary path, size and mtime; versions;
   * hashes of small sources). Hashing 100+ MB of binaries on every start would make a warm start
   * slow, so big files are fingerprinted by their metadata only.
   */
  readonly inputs: () => Promise<readonly string[]>;
  /** Stages the layers under `workDir` and returns one directory tree per layer, bottom first. */
  readonly stage: (workDir: string) => Promise<readonly string[]>;
}

export const imagesDir = join(cacheDir, "images");

/** `path:size:mtime` of a file (following symlinks): changes whenever the file is replaced. */
export async function fileStamp(path: string): Promise<string> {
  const info = await Deno.stat(path).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    throw new Error(`${path} is missing (built by tests/env/build-binaries.sh or from Debian)`);
  });
  return `${path}:${info.size}:${info.mtime?.getTime()}`;
}

/** Returns the recipe's archive, building it only if no archive with the same inputs exists. */
export async function buildImage(recipe: ImageRecipe): Promise<ImageArchive> {
  const slug = recipe.name.replace(/[^A-Za-z0-9.-]+/g, "_");
  const path = join(imagesDir, `${slug}-${await recipeKey(recipe)}.tar`);
  if (await exists(path)) return { name: recipe.name, path };
  const started = Date.now();
  const workDir = join(imagesDir, `.work-${slug}`);
  await Deno.remove(workDir, { recursive: true }).catch(ignoreNotFound);
  try {
    const layerRoots = await recipe.stage(join(workDir, "layers"));
    const content = { name: recipe.name, config: recipe.config, layerRoots };
    await writeImageArchive(content, workDir, `${path}.partial`);
    // Renamed only once complete, so an interrupted build never looks like a finished archive.
    await Deno.rename(`${path}.partial`, path);
  } finally {
    await Deno.remove(workDir, { recursive: true }).catch(ignoreNotFound);
  }
  await removeOlderArchives(slug, path);
  const megabytes = ((await Deno.stat(path)).size / 1e6).toFixed(0);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.error(`[images] built ${recipe.name} (${megabytes} MB) in ${seconds} s`);
  return { name: recipe.name, path };
}

/** A short hash of the recipe's inputs and of the builder's own code. */
async function recipeKey(recipe: ImageRecipe): Promise<string> {
  const inputs = await recipe.inputs();
  const builder = await builderFingerprint();
  const fingerprint = { name: recipe.name, config: recipe.config, inputs, builder };
  return (await sha256Hex(JSON.stringify(fingerprint))).slice(0, 16);
}

/** A hash of the builder's own source: a change to how images are made rebuilds them all. */
function builderFingerprint(): Promise<string> {
  const sources = [join(envDir, "images.ts"), ...builderModules()];
  return sha256Hex(sources.map((file) => Deno.readTextFileSync(file)).join("\0"));
}

function builderModules(): string[] {
  const folder = join(envDir, "images");
  return [...Deno.readDirSync(folder)]
    .filter((entry) => entry.isFile && entry.name.endsWith(".ts"))
    .map((entry) => join(folder, entry.name))
    .sort();
}

/** Keeps one archive per image name: older builds are never used again. */
async function removeOlderArchives(slug: string, current: string): Promise<void> {
  const pattern = new RegExp(`^${slug.replaceAll(".", "\\.")}-[0-9a-f]{16}\\.tar$`);
  for await (const entry of Deno.readDir(imagesDir)) {
    const path = join(imagesDir, entry.name);
    if (pattern.test(entry.name) && path !== current) await Deno.remove(path);
  }
}

function ignoreNotFound(error: unknown): void {
  if (!(error instanceof Deno.errors.NotFound)) throw error;
}
