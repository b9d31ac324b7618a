// Runs the operator from the working tree as the operator's own identity, for the tests that need it.
import { failpointExitCode } from "../../../actors/failpoints.ts";
import { terminate } from "./child.ts";
import { fileURLToPath } from "node:url";
import { e2e } from "./cluster.ts";

const modTs = fileURLToPath(new URL("../../../mod.ts", import.meta.url));

export interface RunningOperator extends AsyncDisposable {
  /** Everything it logged so far (JSON lines), for assertions and failure messages. */
  logs(): string;
  stop(): Promise<void>;
  /** SIGKILL: the operator gets no chance to finish anything, as in a node failure. */
  kill(): Promise<void>;
  /** Resolves with the exit code once the process has exited by itself or been stopped. */
  readonly exited: Promise<number>;
}

let inspected = 0;

/**
 * E2E_OPERATOR_LOG_DIR=<dir>: every stopped operator's log is written there (named after its
 * --namespace and a timestamp), for a failed run to be read afterwards.
 */
async function keepLog(args: readonly string[], output: string): Promise<void> {
  const dir = Deno.env.get("E2E_OPERATOR_LOG_DIR");
  if (!dir) return;
  const namespace = args[args.indexOf("--namespace") + 1] ?? "all";
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/${namespace}-${Date.now()}.log`, output);
}

/** E2E_OPERATOR_INSPECT=<port>: each started operator listens for a debugger on port, port+1, … */
function inspectFlag(): string[] {
  const base = Number(Deno.env.get("E2E_OPERATOR_INSPECT") ?? "");
  return base > 0 ? [`--inspect=127.0.0.1:${base + inspected++}`] : [];
}

/**
 * Starts `mod.ts run` with the operator kubeconfig (least privilege, like in production), so a
 * missing RBAC rule fails the test. Stopping sends SIGTERM and waits for a clean exit.
 */
export function startOperator(
  extraArgs: readonly string[] = [],
  options: {
    readonly env?: Readonly<Record<string, string>>;
    /** A command that runs the operator, e.g. `ip netns exec NAME` (which execs, keeping the pid). */
    readonly wrap?: readonly string[];
    /** What starts the operator instead of `deno run … mod.ts` (the air-gapped launcher). */
    readonly launch?: readonly string[];
    /** Only `env` and KUBECONFIG, nothing inherited: no cache or proxy of this machine leaks in. */
    readonly clearEnv?: boolean;
  } = {},
): RunningOperator {
  const launch = options.launch ?? [
    Deno.execPath(),
    "run",
    "--allow-net",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    "--allow-sys",
    ...inspectFlag(),
    modTs,
  ];
  const [program, ...args] = [...(options.wrap ?? []), ...launch];
  const child = new Deno.Command(program, {
    args: [...args, "run", "--metrics-addr", "0", ...extraArgs],
    clearEnv: options.clearEnv,
    env: { KUBECONFIG: e2e.operatorKubeconfig(), ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let output = "";
  const decoder = new TextDecoder();
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) output += decoder.decode(chunk, { stream: true });
  };
  const collected = Promise.all([collect(child.stdout), collect(child.stderr)]);
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      await terminate(child);
      await collected;
      await keepLog(extraArgs, output);
    })();
    return stopped;
  };
  const kill = async () => {
    try {
      child.kill("SIGKILL");
    } catch { /* already exited */ }
    await stop();
  };
  const exited = child.status.then((status) => status.code);
  return { logs: () => output, stop, kill, exited, [Symbol.asyncDispose]: stop };
}

/**
 * Runs one operator per point, each armed to exit right there (a failpoint: as SIGKILL would leave
 * it); fails if one never gets there. `args` are the operator's flags beyond `--namespace`.
 */
export async function killedAt(
  namespace: string,
  points: readonly string[],
  args: readonly string[] = [],
): Promise<void> {
  for (const point of points) {
    const operator = startOperator(["--namespace", namespace, ...args], {
      env: { ETCD_OPERATOR_FAILPOINTS: point },
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const code = await Promise.race([
      operator.exited,
      new Promise<string>((resolve) => timer = setTimeout(() => resolve("timeout"), 180_000)),
    ]);
    clearTimeout(timer);
    await operator.stop();
    if (code !== failpointExitCode) {
      throw new Error(`the operator did not stop at ${point} (${code}):\n${operator.logs()}`);
    }
  }
}
