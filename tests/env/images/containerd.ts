// Imports image archives into containerd's Kubernetes namespace, skipping those already imported.
import { basename } from "node:path";
import { run } from "../processes.ts";
import type { ImageArchive } from "./build.ts";

/** The namespace the kubelet's CRI plugin reads images from. */
const namespace = "k8s.io";
/** Set on an image after its import; its value names the archive (which names the inputs' hash). */
const archiveLabel = "etcd-operator.local/archive";

export async function importImages(
  containerdSocket: string,
  archives: readonly ImageArchive[],
): Promise<void> {
  for (const archive of archives) {
    if (await isImported(containerdSocket, archive)) continue;
    const started = Date.now();
    await ctr(containerdSocket, ["images", "import", archive.path]);
    // Labelled only after a complete import, so a failed import is retried on the next start.
    const label = `${archiveLabel}=${basename(archive.path)}`;
    await ctr(containerdSocket, ["images", "label", archive.name, label]);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    console.error(`[images] imported ${archive.name} in ${seconds} s`);
  }
}

/** True if containerd has the image under this name, imported from this very archive. */
async function isImported(containerdSocket: string, archive: ImageArchive): Promise<boolean> {
  const filter = `name==${JSON.stringify(archive.name)},` +
    `labels.${JSON.stringify(archiveLabel)}==${JSON.stringify(basename(archive.path))}`;
  const { stdout } = await ctr(containerdSocket, ["images", "list", "--quiet", filter]);
  return stdout.trim() !== "";
}

function ctr(containerdSocket: string, args: readonly string[]) {
  return run("ctr", ["--address", containerdSocket, "--namespace", namespace, ...args]);
}
