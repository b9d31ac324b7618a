// A network namespace for one process: it reaches only the given host addresses (the API server,
// the object store) through a veth pair, so pod and service IPs do not route from inside it.
import assert from "node:assert/strict";
import { parse } from "yaml";
import { apply, e2e } from "./cluster.ts";

interface Rule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
}

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

/**
 * The repository's pods/portforward rule as a Role in the test's namespace, bound to the
 * operator's ServiceAccount: the shared local cluster's ClusterRole may predate the rule, and this
 * keeps the test on the rule config/rbac/role.yaml holds (drop it there and this test fails).
 */
export async function grantPortForward(namespace: string): Promise<void> {
  const role = parse(
    await Deno.readTextFile(new URL("../../../config/rbac/role.yaml", import.meta.url)),
  ) as { rules: Rule[] };
  const binding = parse(
    await Deno.readTextFile(new URL("../../../config/rbac/role_binding.yaml", import.meta.url)),
  ) as { subjects: unknown[] };
  const rules = role.rules.filter((rule) => rule.resources.includes("pods/portforward"));
  assert.equal(rules.length, 1, "config/rbac/role.yaml grants pods/portforward");
  await apply(JSON.stringify({
    apiVersion: "v1",
    kind: "List",
    items: [
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "Role",
        metadata: { name: "etcd-operator-port-forward", namespace },
        rules,
      },
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: { name: "etcd-operator-port-forward", namespace },
        roleRef: {
          apiGroup: "rbac.authorization.k8s.io",
          kind: "Role",
          name: "etcd-operator-port-forward",
        },
        subjects: binding.subjects,
      },
    ],
  }));
}

/** The API server's address (and MinIO's): all an isolated operator may reach. */
export async function reachableHosts(
  options: { readonly objectStore?: boolean } = {},
): Promise<string[]> {
  const kubeconfig = parse(await Deno.readTextFile(e2e.operatorKubeconfig())) as {
    clusters: { cluster: { server: string } }[];
  };
  const hosts = [
    ...kubeconfig.clusters.map((entry) => new URL(entry.cluster.server).hostname),
    ...(options.objectStore ? [new URL(e2e.s3().endpoint).hostname] : []),
  ];
  for (const host of hosts) {
    assert.match(
      host,
      /^\d+\.\d+\.\d+\.\d+$/,
      "the API server and MinIO are named by IPv4 address",
    );
  }
  return [...new Set(hosts)];
}
