// The test command: unit and/or e2e suites, then one plain `N passed, N failed` line for CI.
//
// e2e runs against the local cluster (started if needed) unless KUBECONFIG is set, in which case
// it uses that cluster and the E2E_* variables the caller provides (see README).
import { join } from "node:path";
import { files, repoDir } from "./env/config.ts";
import type { EnvironmentInfo } from "./env/main.ts";

type Suite = "unit" | "e2e";

interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

/** Starts the local cluster if needed and returns the E2E_* variables that point at it. */
export async function localClusterVariables(): Promise<Record<string, string>> {
  const up = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(repoDir, "tests", "env", "main.ts"), "up"],
    stdout: "inherit",
    stderr: "inherit",
  });
  if (!(await up.output()).success) throw new Error("the local test cluster did not come up");
  const info: EnvironmentInfo = JSON.parse(await Deno.readTextFile(files.envJson));
  return {
    E2E_ADMIN_KUBECONFIG: info.adminKubeconfig,
    E2E_OPERATOR_KUBECONFIG: info.operatorKubeconfig,
    E2E_KUBECTL: info.kubectl,
    E2E_S3_ENDPOINT: info.s3.endpoint,
    E2E_S3_INCLUSTER_ENDPOINT: info.s3.inClusterEndpoint,
    E2E_S3_BUCKET: info.s3.bucket,
    E2E_S3_ACCESS_KEY: info.s3.accessKey,
    E2E_S3_SECRET_KEY: info.s3.secretKey,
    E2E_S3_REGION: info.s3.region,
    E2E_GCS_ENDPOINT: info.gcs.endpoint,
    E2E_GCS_INCLUSTER_ENDPOINT: info.gcs.inClusterEndpoint,
    E2E_GCS_BUCKET: info.gcs.bucket,
  };
}

/**
 * Programs the suites run that are not part of the cluster: helm renders the chart in unit tests,
 * which run before (or without) the cluster that would otherwise build it. Cached after the first.
 */
async function buildTestTools(): Promise<void> {
  const build = new Deno.Command("bash", {
    args: [join(repoDir, "tests", "env", "build-binaries.sh"), "helm"],
    stdout: "inherit",
    stderr: "inherit",
  });
  if (!(await build.output()).success) throw new Error("building helm for the tests failed");
}

/** Counts test cases in Deno's JUnit report; a case with <failure> or <error> failed. */
export function countJunit(xml: string): Counts {
  const counts: Counts = { passed: 0, failed: 0, skipped: 0 };
  const cases = xml.match(/<testcase\b[\s\S]*?(?:\/>|<\/testcase>)/g) ?? [];
  for (const testCase of cases) {
    if (/<(failure|error)\b/.test(testCase)) counts.failed++;
    else if (/<skipped\b/.test(testCase)) counts.skipped++;
    else counts.passed++;
  }
  return counts;
}

async function runSuite(suite: Suite, env: Record<string, string>): Promise<Counts> {
  const junitPath = join(repoDir, `.tools/${suite}.junit.xml`);
  await Deno.mkdir(join(repoDir, ".tools"), { recursive: true });
  await Deno.remove(junitPath).catch(() => {});
  const status = await new Deno.Command(Deno.execPath(), {
    args: [
      "test",
      "-A",
      "--sanitize-ops",
      "--sanitize-resources",
      `--junit-path=${junitPath}`,
      join(repoDir, "tests", suite),
    ],
    env,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  let counts: Counts = { passed: 0, failed: 0, skipped: 0 };
  try {
    counts = countJunit(await Deno.readTextFile(junitPath));
  } catch { /* no report: the run itself failed (type error, crash) */ }
  // A crashed run (e.g. a type error) may report no cases at all: count it as a failure.
  if (!status.success && counts.failed === 0) counts.failed = 1;
  return counts;
}

if (import.meta.main) {
  const mode = Deno.args[0] ?? "all";
  const suites: Suite[] = mode === "all" ? ["unit", "e2e"] : [mode as Suite];
  const total: Counts = { passed: 0, failed: 0, skipped: 0 };
  for (const suite of suites) {
    let env: Record<string, string> = {};
    let counts: Counts;
    try {
      await buildTestTools();
      if (suite === "e2e" && !Deno.env.get("KUBECONFIG")) env = await localClusterVariables();
      counts = await runSuite(suite, env);
    } catch (error) {
      // The suite could not even start (the cluster did not come up): that is a failure too.
      console.error(`${suite}: ${error instanceof Error ? error.message : String(error)}`);
      counts = { passed: 0, failed: 1, skipped: 0 };
    }
    console.log(`${suite}: ${counts.passed} passed, ${counts.failed} failed`);
    total.passed += counts.passed;
    total.failed += counts.failed;
    total.skipped += counts.skipped;
  }
  const skipped = total.skipped ? `, ${total.skipped} skipped` : "";
  console.log(`${total.passed} passed, ${total.failed} failed${skipped}`);
  Deno.exit(total.failed === 0 && total.passed > 0 ? 0 : 1);
}
