// config/default's kustomizations list every file that `kubectl apply -f` of their folder applies.
import assert from "node:assert/strict";
import { parse } from "yaml";
import { repoDir } from "../env/config.ts";

for (const folder of ["crds", "config/rbac", "config/manager"]) {
  Deno.test(`${folder}/Kustomization lists every .yaml file of ${folder}/`, async () => {
    const kustomization = parse(
      await Deno.readTextFile(`${repoDir}/${folder}/Kustomization`),
    ) as { resources: string[] };
    const files = [...Deno.readDirSync(`${repoDir}/${folder}`)].map((entry) => entry.name)
      .filter((name) => name.endsWith(".yaml"));
    assert.deepEqual([...kustomization.resources].sort(), files.sort());
  });
}

Deno.test("config/default builds on the three folders the README's kubectl apply -f paths name", async () => {
  const kustomization = parse(
    await Deno.readTextFile(`${repoDir}/config/default/kustomization.yaml`),
  ) as { resources: string[] };
  assert.deepEqual(kustomization.resources, ["../../crds", "../rbac", "../manager"]);
});
