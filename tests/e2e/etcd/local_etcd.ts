// Real etcd processes on loopback for the etcd e2e tests: started in temp dirs, always removed.
import { join } from "node:path";
import type { EtcdErrorKind, EtcdResult } from "../../../etcd/errors.ts";

export const etcd34 = "/usr/bin/etcd";
export const etcdctl34 = "/usr/bin/etcdctl";

export interface LocalMember {
  readonly name: string;
  readonly clientURL: string;
  readonly peerURL: string;
  readonly dataDir: string;
}

interface RunningMember extends LocalMember {
  readonly process: Deno.ChildProcess;
}

/** The next port to try; each cluster takes two consecutive free ports per member. */
let nextPort = 22379 + (Deno.pid % 50) * 20;

function isFree(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    return true;
  } catch {
    return false;
  }
}

/** Two free loopback ports (client, peer); high and per-process so parallel runs rarely collide. */
function allocatePorts(): readonly [number, number] {
  while (nextPort < 65000) {
    const port = nextPort;
    nextPort += 2;
    if (isFree(port) && isFree(port + 1)) return [port, port + 1];
  }
  throw new Error("no free loopback ports left");
}

function describeMember(dir: string, name: string): LocalMember {
  const [clientPort, peerPort] = allocatePorts();
  return {
    name,
    clientURL: `http://127.0.0.1:${clientPort}`,
    peerURL: `http://127.0.0.1:${peerPort}`,
    dataDir: join(dir, name),
  };
}

function initialCluster(members: readonly LocalMember[]): string {
  return members.map((member) => `${member.name}=${member.peerURL}`).join(",");
}

/** Short heartbeats keep elections and catch-up fast enough for a sub-minute suite. */
function etcdArgs(member: LocalMember, cluster: string, state: "new" | "existing"): string[] {
  return [
    `--name=${member.name}`,
    `--data-dir=${member.dataDir}`,
    `--listen-client-urls=${member.clientURL}`,
    `--advertise-client-urls=${member.clientURL}`,
    `--listen-peer-urls=${member.peerURL}`,
    `--initial-advertise-peer-urls=${member.peerURL}`,
    `--initial-cluster=${cluster}`,
    `--initial-cluster-state=${state}`,
    "--initial-cluster-token=etcd-e2e",
    "--heartbeat-interval=50",
    "--election-timeout=500",
    "--logger=zap",
    `--log-outputs=${member.dataDir}.log`,
  ];
}

export class LocalCluster implements AsyncDisposable {
  readonly #members = new Map<string, RunningMember>();

  private constructor(readonly binary: string, readonly dir: string) {}

  /** Starts `size` members as a new cluster and waits until every one reports healthy. */
  static async start(binary: string, size: number): Promise<LocalCluster> {
    const dir = await Deno.makeTempDir({ prefix: "etcd-e2e-" });
    const cluster = new LocalCluster(binary, dir);
    try {
      const members = Array.from({ length: size }, (_, i) => describeMember(dir, `m${i}`));
      for (const member of members) cluster.#spawn(member, initialCluster(members), "new");
      await Promise.all(members.map((member) => waitHealthy(member.clientURL)));
      return cluster;
    } catch (error) {
      await cluster[Symbol.asyncDispose]();
      throw error;
    }
  }

  get members(): readonly LocalMember[] {
    return [...this.#members.values()];
  }

  get clientURLs(): readonly string[] {
    return this.members.map((member) => member.clientURL);
  }

  /** Ports and dirs for a member not yet started (the test adds it to the cluster first). */
  describeNewMember(name: string): LocalMember {
    return describeMember(this.dir, name);
  }

  /** Starts a member that was already added to the membership (initial-cluster-state existing). */
  startExisting(member: LocalMember): void {
    this.#spawn(member, initialCluster([...this.members, member]), "existing");
  }

  /** Stops one member gracefully (SIGTERM), as a pod being deleted would be. */
  async stop(name: string, signal: Deno.Signal = "SIGTERM"): Promise<void> {
    const member = this.#members.get(name);
    if (!member) return;
    this.#members.delete(name);
    await terminate(member.process, signal);
  }

  /**
   * SIGKILL: the data is thrown away anyway, and members stopped together gracefully wait seconds
   * for a quorum that is going away with them.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await Promise.all([...this.#members.keys()].map((name) => this.stop(name, "SIGKILL")));
    await Deno.remove(this.dir, { recursive: true });
  }

  #spawn(member: LocalMember, cluster: string, state: "new" | "existing"): void {
    const process = new Deno.Command(this.binary, {
      args: etcdArgs(member, cluster, state),
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    this.#members.set(member.name, { ...member, process });
  }
}

async function terminate(process: Deno.ChildProcess, signal: Deno.Signal): Promise<void> {
  try {
    process.kill(signal);
  } catch { /* already exited */ }
  const killLater = setTimeout(() => process.kill("SIGKILL"), 5_000);
  try {
    await process.status;
  } finally {
    clearTimeout(killLater);
  }
}

/** Polls `/health` until etcd says true; a fresh cluster needs an election first. */
export async function waitHealthy(clientURL: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await isHealthy(clientURL)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`etcd at ${clientURL} did not become healthy in ${timeoutMs} ms`);
}

async function isHealthy(clientURL: string): Promise<boolean> {
  try {
    const response = await fetch(`${clientURL}/health`, { signal: AbortSignal.timeout(1_000) });
    const body = await response.json() as { health?: string };
    return body.health === "true";
  } catch {
    return false;
  }
}

export interface CommandOutput {
  readonly success: boolean;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command line tool (etcdctl, etcdutl) and returns its output; never throws on failure. */
export async function run(
  command: string,
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
): Promise<CommandOutput> {
  const output = await new Deno.Command(command, {
    args: [...args],
    env,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const decoder = new TextDecoder();
  return {
    success: output.success,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** The version an etcd binary reports (`etcd --version`), e.g. "3.4.23". */
export async function binaryVersion(binary: string): Promise<string> {
  const output = await run(binary, ["--version"]);
  const match = /etcd Version: (\S+)/.exec(output.stdout);
  if (!match) throw new Error(`cannot read the version of ${binary}: ${output.stdout}`);
  return match[1];
}

/**
 * Repeats `step` while it fails with one of the `waitFor` kinds (a new cluster refuses membership
 * changes for its first 5 s; a learner needs time to catch up), and returns what it finally gave.
 * `seen` collects every kind it waited through, so a test can assert the wait happened.
 */
export async function retryWhile<T>(
  waitFor: readonly EtcdErrorKind[],
  step: () => Promise<EtcdResult<T>>,
  seen: EtcdErrorKind[] = [],
  timeoutMs = 20_000,
): Promise<EtcdResult<T>> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const result = await step();
    if (result.ok || !waitFor.includes(result.error.kind) || Date.now() > deadline) return result;
    seen.push(result.error.kind);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
