// The nodes of the local cluster: starting one, and the faults tests inflict on one (stop it as if
// it lost power, bring it back, drain it, lose its disks).
//
// A node is a kubelet with its own containerd, bridge and pod range. "Stopped" means its kubelet,
// containerd and every container are killed without any clean-up, and its pods' addresses stop
// answering (packets dropped, as for a host that is gone): the API server still lists its pods,
// running, until the node-lifecycle controller notices.
import { join } from "node:path";
import { bin, type EnvNode, files } from "./config.ts";
import {
  cniConfig,
  containerdConfig,
  daemonNames,
  kubeletConfig,
  nodeDaemons,
  nodePaths,
} from "./components.ts";
import type { ImageArchive } from "./images/build.ts";
import { importImages } from "./images/containerd.ts";
import { commentPrefix } from "./network.ts";
import { run, runningPid, startDaemon, waitFor } from "./processes.ts";

const kubectl = (args: readonly string[]) =>
  run(bin.kubernetes("kubectl"), ["--kubeconfig", files.adminKubeconfig, ...args], {
    allowFailure: true,
  });

async function writeFile(path: string, content: string): Promise<void> {
  await Deno.mkdir(join(path, ".."), { recursive: true });
  await Deno.writeTextFile(path, content);
}

export async function writeNodeConfigs(node: EnvNode): Promise<void> {
  const at = nodePaths(node);
  await writeFile(at.containerdConfig, containerdConfig(node));
  await writeFile(join(at.cniConfigDir, "10-etcd-env.conflist"), cniConfig(node));
  await writeFile(at.kubeletConfig, kubeletConfig(node));
  for (const dir of [at.cniIpamDir, at.podLogs, at.volumes]) {
    await Deno.mkdir(dir, { recursive: true });
  }
}

/** Starts the node's containerd and imports the images it lacks. */
export async function startRuntime(node: EnvNode, archives: readonly ImageArchive[]) {
  const at = nodePaths(node);
  if (runningPid(daemonNames.containerd(node)) === undefined) {
    // A killed containerd leaves its socket file behind: only a fresh one means it listens.
    await Deno.remove(at.containerdSocket).catch(() => {});
  }
  await startDaemon(nodeDaemons(node).containerd);
  await waitFor(
    `containerd of ${node.name}`,
    async () =>
      (await run("ctr", ["--address", at.containerdSocket, "version"], { allowFailure: true }))
        .success,
    30_000,
    daemonNames.containerd(node),
  );
  await importImages(at.containerdSocket, archives);
}

export async function nodeReady(node: EnvNode): Promise<boolean> {
  const jsonPath = '{.status.conditions[?(@.type=="Ready")].status}';
  const result = await kubectl(["get", "node", node.name, "-o", `jsonpath=${jsonPath}`]);
  return result.stdout.trim() === "True";
}

/** The rules that make a stopped node's pods unreachable; the node's own address stays up. */
function partitionRules(node: EnvNode): string[][] {
  const [a, b, c] = node.ip.split(".");
  const pods = `${a}.${b}.${c}.2-${a}.${b}.${c}.254`;
  const comment = ["-m", "comment", "--comment", `${commentPrefix} node ${node.name} stopped`];
  return [
    ["OUTPUT", "-m", "iprange", "--dst-range", pods, ...comment, "-j", "DROP"],
    ["INPUT", "-m", "iprange", "--src-range", pods, ...comment, "-j", "DROP"],
    ["FORWARD", "-m", "iprange", "--dst-range", pods, ...comment, "-j", "DROP"],
    ["FORWARD", "-m", "iprange", "--src-range", pods, ...comment, "-j", "DROP"],
  ];
}

function childrenOf(): Map<number, number[]> {
  const children = new Map<number, number[]>();
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(parent, [...children.get(parent) ?? [], Number(entry.name)]);
    } catch { /* exited while we looked */ }
  }
  return children;
}

function commandLine(pid: number): string {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).replaceAll("\0", " ");
  } catch {
    return "";
  }
}

/** The node's kubelet, containerd, shims and every container process, with all descendants. */
function nodeProcesses(node: EnvNode): number[] {
  const socket = nodePaths(node).containerdSocket;
  const roots = [
    runningPid(daemonNames.kubelet(node)),
    runningPid(daemonNames.containerd(node)),
  ].filter((pid): pid is number => pid !== undefined);
  const children = childrenOf();
  for (const [, pids] of children) {
    for (const pid of pids) if (commandLine(pid).includes(socket)) roots.push(pid);
  }
  const all = new Set<number>();
  const visit = (pid: number) => {
    if (all.has(pid)) return;
    all.add(pid);
    for (const child of children.get(pid) ?? []) visit(child);
  };
  roots.forEach(visit);
  return [...all];
}

/**
 * Stops the node as a power cut would: its pods' addresses stop answering, then the kubelet,
 * containerd and every container die by SIGKILL. Nothing is cleaned up; `startNode` brings it
 * back as a reboot would.
 */
export async function stopNode(node: EnvNode): Promise<void> {
  for (const rule of partitionRules(node)) {
    const present = await run("iptables", ["-C", ...rule], { allowFailure: true });
    if (!present.success) await run("iptables", ["-I", ...rule]);
  }
  for (let round = 0; round < 5; round++) {
    const pids = nodeProcesses(node);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* already gone */ }
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Brings a stopped node back: network, containerd (which finds its dead containers), kubelet. */
export async function startNode(node: EnvNode, archives: readonly ImageArchive[] = []) {
  for (const rule of partitionRules(node)) {
    while ((await run("iptables", ["-D", ...rule], { allowFailure: true })).success) {
      // a rule inserted twice is removed twice
    }
  }
  await startRuntime(node, archives);
  await startDaemon(nodeDaemons(node).kubelet);
  await waitFor(
    `node ${node.name} Ready`,
    () => nodeReady(node),
    120_000,
    daemonNames.kubelet(node),
  );
}

/**
 * The node's disks are lost and replaced by empty ones: every volume directory on it is emptied.
 * (The volumes' hostPath type recreates a missing directory, so pods start on nothing.)
 */
export async function loseDisks(node: EnvNode): Promise<void> {
  const dir = nodePaths(node).volumes;
  for await (const entry of Deno.readDir(dir)) {
    await Deno.remove(join(dir, entry.name), { recursive: true });
    await Deno.mkdir(join(dir, entry.name), { mode: 0o750 });
  }
}
