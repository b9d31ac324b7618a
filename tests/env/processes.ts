// Long-running host processes of the test cluster: started detached, tracked by pid file, logged to file.
import { join } from "node:path";
import { runDir, stateDir } from "./config.ts";

export interface Daemon {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
}

const pidFile = (name: string) => join(runDir, "pids", `${name}.pid`);
export const logFile = (name: string) => join(stateDir, "logs", `${name}.log`);

/** The pid of a daemon if it is alive and still the program we started (pids get reused). */
export function runningPid(name: string): number | undefined {
  let pid: number;
  try {
    pid = Number(Deno.readTextFileSync(pidFile(name)).trim());
  } catch {
    return undefined;
  }
  return isAliveProgram(pid) ? pid : undefined;
}

function isAliveProgram(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Field 3 (after the parenthesised name) is the state; Z means it already exited.
    return !/\) Z /.test(stat);
  } catch {
    return false;
  }
}

/** Starts the daemon unless it already runs; returns its pid. */
export async function startDaemon(daemon: Daemon): Promise<number> {
  const existing = runningPid(daemon.name);
  if (existing !== undefined) return existing;
  await Deno.mkdir(join(runDir, "pids"), { recursive: true });
  await Deno.mkdir(join(stateDir, "logs"), { recursive: true });
  // setsid detaches it from our session so it outlives `env:up`; sh gives us its pid and the redirects.
  const script = 'setsid "$@" >>"$LOG" 2>&1 </dev/null & echo $!';
  const output = await new Deno.Command("sh", {
    args: ["-c", script, "sh", daemon.command, ...daemon.args],
    env: { ...daemon.env, LOG: logFile(daemon.name) },
    stdout: "piped",
  }).output();
  const pid = Number(new TextDecoder().decode(output.stdout).trim());
  if (!output.success || !Number.isInteger(pid) || pid <= 0) {
    throw new Error(`could not start ${daemon.name}`);
  }
  await Deno.writeTextFile(pidFile(daemon.name), `${pid}\n`);
  return pid;
}

/** SIGTERM, then SIGKILL after the grace period; returns once the process is gone. */
export async function stopDaemon(name: string, graceMs = 10_000): Promise<void> {
  const pid = runningPid(name);
  if (pid !== undefined) await terminate(pid, graceMs);
  await Deno.remove(pidFile(name)).catch(() => {});
}

export async function terminate(pid: number, graceMs: number): Promise<void> {
  try {
    Deno.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (isAliveProgram(pid) && Date.now() < deadline) await sleep(100);
  if (isAliveProgram(pid)) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch { /* already gone */ }
    while (isAliveProgram(pid)) await sleep(50);
  }
}

/** Pids of every process whose command line contains `needle` (for shims a daemon left behind). */
export function pidsMatching(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const cmdline = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).replaceAll("\0", " ");
      if (cmdline.includes(needle) && Number(entry.name) !== Deno.pid) {
        pids.push(Number(entry.name));
      }
    } catch { /* exited while we looked */ }
  }
  return pids;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` until it returns true or the deadline passes; the error names what we waited for. */
export async function waitFor(
  what: string,
  probe: () => Promise<boolean> | boolean,
  timeoutMs: number,
  logName?: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await Promise.resolve().then(probe).catch(() => false)) return;
    await sleep(250);
  }
  const hint = logName ? ` (see ${logFile(logName)})` : "";
  throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${hint}`);
}

/** Runs a command to completion; throws with its stderr when it fails. */
export async function run(
  command: string,
  args: readonly string[],
  options: { env?: Record<string, string>; stdin?: string; allowFailure?: boolean } = {},
): Promise<{ success: boolean; stdout: string; stderr: string }> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(command, {
      args: [...args],
      env: options.env,
      stdin: options.stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    // Not installed (yet): on a fresh machine `env:down` runs before anything is installed.
    if (!options.allowFailure) throw error;
    return { success: false, stdout: "", stderr: String(error) };
  }
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const output = await child.output();
  const result = {
    success: output.success,
    stdout: new TextDecoder().decode(output.stdout),
    stderr: new TextDecoder().decode(output.stderr),
  };
  if (!result.success && !options.allowFailure) {
    throw new Error(
      `${command} ${args.join(" ")} failed: ${result.stderr.trim() || result.stdout}`,
    );
  }
  return result;
}
