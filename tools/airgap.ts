// `deno task airgap`: the operator as one archive for a machine without network: the pinned Deno,
// the sources the image ships (.dockerignore decides, as for the image) and every dependency in a
// DENO_DIR, started by `etcd-operator` with --cached-only, so it never downloads anything.
//
//   deno task airgap [--out DIR]    → DIR/etcd-operator-airgap/ and DIR/etcd-operator-airgap.tar.gz
//   tar xzf etcd-operator-airgap.tar.gz && etcd-operator-airgap/etcd-operator run --kubeconfig …
//
// The archive is for Linux x86-64 with glibc, like the Deno binary it carries.
import { parseArgs } from "node:util";
import { join, resolve } from "node:path";
import { bin, repoDir, versions } from "../tests/env/config.ts";
import { run } from "../tests/env/processes.ts";
import {
  cacheDependencies,
  copySource,
  operatorV8Flags,
  repoSource,
} from "../tests/env/images/operator.ts";

export const artifactName = "etcd-operator-airgap";

export const launcherScript = `#!/usr/bin/env bash
# etcd-operator without network: the bundled Deno runs the bundled sources with their dependencies
# from the bundled DENO_DIR (--cached-only: nothing is downloaded). Arguments go to mod.ts.
set -euo pipefail
here=$(cd "$(dirname "\${BASH_SOURCE[0]}")" && pwd)
export DENO_DIR="$here/deno-dir" DENO_NO_UPDATE_CHECK=1
exec "$here/bin/deno" run --cached-only --config "$here/app/deno.json" \\
  --allow-net --allow-read --allow-write --allow-env --allow-sys ${operatorV8Flags} \\
  "$here/app/mod.ts" "$@"
`;

/** Builds the directory and the archive under `outDir`; returns the archive's path. */
export async function buildAirgap(outDir: string): Promise<string> {
  const root = join(outDir, artifactName);
  await Deno.remove(root, { recursive: true }).catch(() => {});
  await Deno.mkdir(join(root, "bin"), { recursive: true });
  await copySource(await repoSource(), join(root, "app"));
  await cacheDependencies(join(root, "app"), join(root, "deno-dir"));
  await Deno.copyFile(bin.deno(), join(root, "bin", "deno"));
  await Deno.chmod(join(root, "bin", "deno"), 0o755);
  await Deno.writeTextFile(join(root, "etcd-operator"), launcherScript, { mode: 0o755 });
  await Deno.writeTextFile(
    join(root, "VERSIONS"),
    `deno ${versions.DENO_VERSION}\n` +
      `sources ${(await run("git", ["-C", repoDir, "rev-parse", "HEAD"])).stdout.trim()}\n`,
  );
  // npm tarballs may hold 0600 files; whoever unpacks it may run it as another user.
  await run("chmod", ["-R", "u+rw,go=rX", root]);
  const archive = join(outDir, `${artifactName}.tar.gz`);
  await run("tar", ["-czf", archive, "-C", outDir, artifactName]);
  return archive;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { out: { type: "string", default: join(repoDir, "dist") } },
    strict: true,
  });
  const started = performance.now();
  const archive = await buildAirgap(resolve(values.out));
  const sizeMiB = (await Deno.stat(archive)).size / 2 ** 20;
  console.log(
    `${archive}: ${sizeMiB.toFixed(0)} MiB, built in ${
      ((performance.now() - started) / 1000).toFixed(1)
    } s`,
  );
}
