// The container images of the local test cluster, built as archives (no registry) and imported.
import { basename, dirname, join } from "node:path";
import { bin, versions } from "./config.ts";
import { run } from "./processes.ts";
import { buildImage, fileStamp, type ImageArchive, type ImageRecipe } from "./images/build.ts";
import { importImages } from "./images/containerd.ts";
import {
  type AppSource,
  hasEntrypoint,
  operatorImageName,
  operatorRecipe,
  repoSource,
} from "./images/operator.ts";
import {
  addBusybox,
  addDirectories,
  addDynamicBinary,
  addFile,
  addNsswitch,
  addUsers,
  baseDirectories,
  exists,
  nonroot,
  root,
  sharedLibraries,
} from "./images/rootfs.ts";

export type { ImageArchive };
export { importImages };

const path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const etcdDataDirectories = [
  { path: "/var/etcd", mode: 0o755 },
  { path: "/var/lib/etcd", mode: 0o755 },
] as const;

/** Builds every image (reusing unchanged ones) into `${cacheDir}/images/`. */
export async function buildImages(): Promise<ImageArchive[]> {
  const archives: ImageArchive[] = [];
  // One at a time: staging copies large binaries, and the machine has few cores.
  for (const recipe of imageRecipes(await repoSource())) archives.push(await buildImage(recipe));
  return archives;
}

/** Every image; the operator's is made from `operatorSource` (the working tree, or a test's). */
export function imageRecipes(operatorSource: AppSource): ImageRecipe[] {
  const recipes = [pause(), etcd34(), etcd35(), etcdClient()];
  if (hasEntrypoint(operatorSource)) recipes.push(operatorRecipe(operatorSource));
  else console.error(`[images] no mod.ts in the working tree: ${operatorImageName} not built`);
  return recipes;
}

/** Recipes whose content is one directory tree. */
function singleLayer(fill: (rootfs: string) => Promise<void>): ImageRecipe["stage"] {
  return async (workDir) => {
    const rootfs = join(workDir, "rootfs");
    await Deno.mkdir(rootfs, { recursive: true });
    await fill(rootfs);
    return [rootfs];
  };
}

/**
 * The stamp of a program build-binaries.sh made; it marks a folder `.complete` when done, and a
 * binary still being written must not end up in an image.
 */
async function builtBinaryStamp(binary: string): Promise<string> {
  if (!await exists(join(dirname(binary), ".complete"))) {
    throw new Error(`${binary} is not built yet: run tests/env/build-binaries.sh first`);
  }
  return await fileStamp(binary);
}

/** The sandbox image the kubelet asks for: a static pause built by build-binaries.sh. */
function pause(): ImageRecipe {
  return {
    name: "registry.k8s.io/pause:3.10",
    config: { Entrypoint: ["/pause"] },
    inputs: async () => [await builtBinaryStamp(bin.pause())],
    stage: singleLayer((rootfs) => addFile(rootfs, bin.pause(), "/pause")),
  };
}

/** etcd 3.4 is Debian's build; its image, like the real Debian-based one, has a shell. */
function etcd34(): ImageRecipe {
  const binaries = ["/usr/bin/etcd", "/usr/bin/etcdctl"];
  return {
    name: `quay.io/coreos/etcd:v${versions.ETCD34_DEBIAN_VERSION}`,
    config: { Cmd: ["/usr/local/bin/etcd"], Env: [path] },
    inputs: async () => [
      await debianEtcdVersion(),
      await fileStamp("/usr/bin/busybox"),
      ...(await Promise.all(binaries.map(dynamicBinaryStamps))).flat(),
    ],
    stage: singleLayer(async (rootfs) => {
      for (const binary of binaries) {
        await addDynamicBinary(rootfs, binary, binary.replace("/usr/bin/", "/usr/local/bin/"));
      }
      await addBusybox(rootfs);
      await addUsers(rootfs, [root]);
      await addDirectories(rootfs, [...baseDirectories, ...etcdDataDirectories]);
      await addNsswitch(rootfs);
    }),
  };
}

/** The image tag promises a version: refuse to build it from a different Debian package. */
async function debianEtcdVersion(): Promise<string> {
  const { stdout } = await run("dpkg-query", ["--show", "--showformat=${Version}", "etcd-server"]);
  if (!stdout.startsWith(`${versions.ETCD34_DEBIAN_VERSION}-`)) {
    throw new Error(
      `etcd-server ${stdout} installed, versions.env wants ${versions.ETCD34_DEBIAN_VERSION}`,
    );
  }
  return `etcd-server ${stdout}`;
}

async function dynamicBinaryStamps(binary: string): Promise<string[]> {
  const libraries = await sharedLibraries(binary);
  return [await fileStamp(binary), ...await Promise.all(libraries.map(fileStamp))];
}

/** Like the real distroless 3.5 image: static binaries, no shell, a nonroot user. */
function etcd35(): ImageRecipe {
  const binaries = [bin.etcd("etcd"), bin.etcd("etcdctl"), bin.etcd("etcdutl")];
  return {
    name: `quay.io/coreos/etcd:${versions.ETCD_VERSION}`,
    config: { Cmd: ["/usr/local/bin/etcd"], Env: [path] },
    inputs: () => Promise.all(binaries.map(builtBinaryStamp)),
    stage: singleLayer(async (rootfs) => {
      for (const binary of binaries) await addFile(rootfs, binary, usrLocalBin(binary));
      await addUsers(rootfs, [root, nonroot]);
      await addDirectories(rootfs, [...baseDirectories, ...etcdDataDirectories]);
      await addNsswitch(rootfs);
    }),
  };
}

/** A client for tests to run in the cluster: etcdctl, etcdutl and busybox's network tools. */
function etcdClient(): ImageRecipe {
  const binaries = [bin.etcd("etcdctl"), bin.etcd("etcdutl")];
  return {
    name: `etcd-operator.local/etcdctl:${versions.ETCD_VERSION}`,
    config: { Cmd: ["/bin/sh"], Env: [path] },
    inputs: async () => [
      await fileStamp("/usr/bin/busybox"),
      ...await Promise.all(binaries.map(builtBinaryStamp)),
    ],
    stage: singleLayer(async (rootfs) => {
      for (const binary of binaries) await addFile(rootfs, binary, usrLocalBin(binary));
      await addBusybox(rootfs);
      await addUsers(rootfs, [root]);
      await addDirectories(rootfs, baseDirectories);
    }),
  };
}

function usrLocalBin(binary: string): string {
  return join("/usr/local/bin", basename(binary));
}

if (import.meta.main) {
  const [command, containerdSocket] = Deno.args;
  if (command === "build") {
    for (const archive of await buildImages()) console.log(archive.path);
  } else if (command === "import" && containerdSocket) {
    await importImages(containerdSocket, await buildImages());
  } else {
    console.error("usage: images.ts build | import <containerd socket>");
    Deno.exit(2);
  }
}
