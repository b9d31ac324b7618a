// `deno task dev`: runs the operator from the working tree against a cluster.
// Uses $KUBECONFIG when set (kind, any cluster); otherwise starts the local test cluster if needed
// and runs as the operator's ServiceAccount there, so missing RBAC rules show up at once.
import { join } from "node:path";
import { files, repoDir } from "../tests/env/config.ts";

let kubeconfig = Deno.env.get("KUBECONFIG");
if (!kubeconfig) {
  const up = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(repoDir, "tests", "env", "main.ts"), "up"],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!up.success) Deno.exit(1);
  kubeconfig = files.operatorKubeconfig;
}
const operator = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "--allow-net",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    "--allow-sys",
    join(repoDir, "mod.ts"),
    "run",
    ...Deno.args,
  ],
  env: { KUBECONFIG: kubeconfig },
  stdin: "inherit",
  stdout: "inherit",
  stderr: "inherit",
}).spawn();
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => operator.kill(signal));
}
Deno.exit((await operator.status).code);
