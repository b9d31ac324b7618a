// The host side of the test cluster's network: bridge, routes, sysctls, and iptables clean-up.
import { join } from "node:path";
import { type EnvNode, everyPossibleNode, network, stateDir } from "./config.ts";
import { run } from "./processes.ts";

/** Every iptables rule of ours carries a comment starting with this; `env:down` removes them. */
export const commentPrefix = "etcd-env:";
const guardComment = `${commentPrefix} pods never reach off the machine`;
const originalSysctlsFile = join(stateDir, "original-sysctls.json");
const sysctls = ["net/ipv4/ip_forward", "net/bridge/bridge-nf-call-iptables"] as const;

async function linkExists(name: string): Promise<boolean> {
  return (await run("ip", ["link", "show", name], { allowFailure: true })).success;
}

/** Creates each node's bridge with its address, and keeps every range of ours on the machine. */
export async function networkUp(nodes: readonly EnvNode[]): Promise<void> {
  await rememberSysctls();
  for (const node of nodes) {
    if (!await linkExists(node.bridge)) {
      await run("ip", ["link", "add", node.bridge, "type", "bridge"]);
    }
    await run("ip", ["addr", "replace", node.ipCidr, "dev", node.bridge]);
    await run("ip", ["link", "set", node.bridge, "up"]);
  }
  // Each node's /24 is routed to its bridge and the rest of the range is dropped here. Service
  // addresses only exist in kube-proxy's NAT rules, which the host's own connections meet after
  // the first route lookup: they need a real route, so a packet to an unknown service address
  // dies on a bridge instead of leaving through the default route.
  await run("ip", ["route", "replace", "blackhole", network.podSupernet]);
  await run("ip", ["route", "replace", network.serviceCidr, "dev", nodes[0].bridge]);
  for (const key of sysctls) await Deno.writeTextFile(`/proc/sys/${key}`, "1");
  await ensureGuardRule();
}

async function ensureGuardRule(): Promise<void> {
  const rule = [
    "FORWARD",
    "-s",
    network.podSupernet,
    "!",
    "-d",
    network.podSupernet,
    "-m",
    "comment",
    "--comment",
    guardComment,
    "-j",
    "DROP",
  ]; // deno-fmt-ignore
  const present = await run("iptables", ["-C", ...rule], { allowFailure: true });
  if (!present.success) await run("iptables", ["-I", ...rule]);
}

async function rememberSysctls(): Promise<void> {
  if (await Deno.stat(originalSysctlsFile).then(() => true, () => false)) return;
  const values: Record<string, string> = {};
  for (const key of sysctls) values[key] = (await Deno.readTextFile(`/proc/sys/${key}`)).trim();
  await Deno.mkdir(stateDir, { recursive: true });
  await Deno.writeTextFile(originalSysctlsFile, JSON.stringify(values));
}

/** Removes what networkUp, kube-proxy, the CNI plugins and node faults added; restores sysctls. */
export async function networkDown(kubeProxyBinary: string | undefined): Promise<void> {
  if (kubeProxyBinary && await Deno.stat(kubeProxyBinary).then(() => true, () => false)) {
    await run(kubeProxyBinary, ["--cleanup"], { allowFailure: true });
  }
  await removeIptablesChains(/^(KUBE-|CNI-)/, commentPrefix);
  await run("ip", ["route", "del", "blackhole", network.podSupernet], { allowFailure: true });
  await run("ip", ["route", "del", network.serviceCidr], { allowFailure: true });
  for (const node of everyPossibleNode()) {
    if (await linkExists(node.bridge)) await run("ip", ["link", "del", node.bridge]);
  }
  await restoreSysctls();
}

async function restoreSysctls(): Promise<void> {
  let values: Record<string, string>;
  try {
    values = JSON.parse(await Deno.readTextFile(originalSysctlsFile));
  } catch {
    return;
  }
  for (const [key, value] of Object.entries(values)) {
    await Deno.writeTextFile(`/proc/sys/${key}`, value).catch(() => {});
  }
}

/**
 * Rewrites each iptables table without the chains matching `chainPattern`, the rules jumping to
 * them, and the rules carrying `comment`; every other rule on the machine is left as it was.
 */
export async function removeIptablesChains(chainPattern: RegExp, comment: string): Promise<void> {
  // The kubelet and kube-proxy create chains for both address families.
  for (const family of ["iptables", "ip6tables"]) {
    for (const table of ["filter", "nat", "mangle"]) {
      await removeChainsFromTable(family, table, chainPattern, comment);
    }
  }
}

async function removeChainsFromTable(
  family: string,
  table: string,
  chainPattern: RegExp,
  comment: string,
): Promise<void> {
  const saved = (await run(`${family}-save`, ["-t", table], { allowFailure: true })).stdout;
  if (!saved) return;
  const kept = saved.split("\n").filter((line) => {
    const chainDeclaration = /^:(\S+)/.exec(line);
    if (chainDeclaration) return !chainPattern.test(chainDeclaration[1]);
    const rule = /^-A (\S+)(.*)$/.exec(line);
    if (!rule) return true;
    const jump = / -[jg] (\S+)/.exec(rule[2]);
    return !chainPattern.test(rule[1]) && !(jump && chainPattern.test(jump[1])) &&
      !line.includes(comment);
  });
  if (kept.length !== saved.split("\n").length) {
    await run(`${family}-restore`, [], { stdin: kept.join("\n") });
  }
}
