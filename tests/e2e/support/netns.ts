// A network namespace for one process: it reaches only the given host addresses (the API server,
// the object store) through a veth pair, so pod and service IPs do not route from inside it.

export interface IsolatedNetwork extends AsyncDisposable {
  readonly name: string;
  /** Prefix for a command to run inside: `ip netns exec NAME`. */
  readonly wrap: readonly string[];
}

async function ip(args: readonly string[]): Promise<void> {
  const output = await new Deno.Command("ip", { args: [...args], stdout: "null", stderr: "piped" })
    .output();
  if (!output.success) {
    throw new Error(`ip ${args.join(" ")}: ${new TextDecoder().decode(output.stderr).trim()}`);
  }
}

/**
 * Creates namespace `etcdpf-<id>` with one veth to the host on 10.123.<n>.0/30 and a /32 route
 * for each of `hosts` (addresses of this machine): nothing else is reachable from inside.
 */
export async function isolatedNetwork(hosts: readonly string[]): Promise<IsolatedNetwork> {
  const id = crypto.randomUUID().slice(0, 6);
  const name = `etcdpf-${id}`;
  const hostSide = `pfh-${id}`;
  const inside = `pfn-${id}`;
  const subnet = `10.123.${crypto.getRandomValues(new Uint8Array(1))[0]}`;
  const remove = async () => {
    await ip(["netns", "del", name]).catch(() => {});
    await ip(["link", "del", hostSide]).catch(() => {});
  };
  try {
    await ip(["netns", "add", name]);
    await ip(["link", "add", hostSide, "type", "veth", "peer", "name", inside]);
    await ip(["link", "set", inside, "netns", name]);
    await ip(["addr", "add", `${subnet}.1/30`, "dev", hostSide]);
    await ip(["link", "set", hostSide, "up"]);
    const within = (args: string[]) => ip(["netns", "exec", name, "ip", ...args]);
    await within(["link", "set", "lo", "up"]);
    await within(["addr", "add", `${subnet}.2/30`, "dev", inside]);
    await within(["link", "set", inside, "up"]);
    for (const host of hosts) {
      await within(["route", "add", `${host}/32`, "via", `${subnet}.1`]);
    }
  } catch (error) {
    await remove();
    throw error;
  }
  return { name, wrap: ["ip", "netns", "exec", name], [Symbol.asyncDispose]: remove };
}
