// Writes an image archive in `docker save` layout (manifest.json, config, layer tarballs) with GNU tar.
import { join } from "node:path";
import { run } from "../processes.ts";

/** How a container of the image runs: the `config` part of an OCI/Docker image config. */
export interface RunConfig {
  readonly Entrypoint?: readonly string[];
  readonly Cmd?: readonly string[];
  readonly Env?: readonly string[];
  readonly WorkingDir?: string;
  readonly User?: string;
}

/** What goes into one archive: a name, how it runs, and one staged directory tree per layer. */
export interface ImageContent {
  readonly name: string;
  readonly config: RunConfig;
  readonly layerRoots: readonly string[];
}

/**
 * Tar options that make an archive depend only on file names, contents and modes, so rebuilding
 * unchanged inputs gives the same layer digests (and containerd stores nothing new).
 */
const reproducibleTar = [
  "--sort=name",
  "--owner=0",
  "--group=0",
  "--numeric-owner",
  "--mtime=@0",
  "--format=gnu",
];

/** Hex sha256 of a file, computed by sha256sum so large layers are not read into memory. */
export async function sha256File(path: string): Promise<string> {
  const { stdout } = await run("sha256sum", ["--", path]);
  return stdout.split(" ")[0];
}

/** Hex sha256 of a string or of bytes already in memory. */
export async function sha256Hex(data: string | Uint8Array<ArrayBuffer>): Promise<string> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Tars a directory's contents; entries are named `etc/passwd`, not `./etc/passwd`, as Docker does. */
async function tarDirectory(directory: string, tarPath: string): Promise<void> {
  const entries = [...Deno.readDirSync(directory)].map((entry) => entry.name).sort();
  await run("tar", [
    "--create",
    ...reproducibleTar,
    "--file",
    tarPath,
    "--directory",
    directory,
    "--",
    ...entries,
  ]);
}

/** Writes one layer into the archive tree as `<digest>/layer.tar`; returns the digest. */
async function addLayer(archiveTree: string, layerRoot: string): Promise<string> {
  const pending = join(archiveTree, "layer.tar");
  await tarDirectory(layerRoot, pending);
  const digest = await sha256File(pending);
  await Deno.mkdir(join(archiveTree, digest), { recursive: true });
  await Deno.rename(pending, join(archiveTree, digest, "layer.tar"));
  return digest;
}

/** Builds the archive tree in `workDir` and tars it to `archivePath`. */
export async function writeImageArchive(
  image: ImageContent,
  workDir: string,
  archivePath: string,
): Promise<void> {
  const archiveTree = join(workDir, "archive");
  await Deno.mkdir(archiveTree, { recursive: true });
  const layerDigests: string[] = [];
  for (const layerRoot of image.layerRoots) {
    layerDigests.push(await addLayer(archiveTree, layerRoot));
  }
  const imageConfig = JSON.stringify({
    architecture: "amd64",
    os: "linux",
    created: "1970-01-01T00:00:00Z",
    config: image.config,
    rootfs: { type: "layers", diff_ids: layerDigests.map((digest) => `sha256:${digest}`) },
  });
  const configFile = `${await sha256Hex(imageConfig)}.json`;
  await Deno.writeTextFile(join(archiveTree, configFile), imageConfig);
  const manifest = [{
    Config: configFile,
    RepoTags: [image.name],
    Layers: layerDigests.map((digest) => `${digest}/layer.tar`),
  }];
  await Deno.writeTextFile(join(archiveTree, "manifest.json"), JSON.stringify(manifest));
  await tarDirectory(archiveTree, archivePath);
}
