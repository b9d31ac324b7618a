// Every EtcdPeer a namespace has had, seen through a watch, so a peer created and gone is counted.
import { e2e } from "./cluster.ts";

export interface PeerSighting {
  readonly name: string;
  readonly uid: string;
  readonly initialClusterState: string;
  /** When the watch first reported this object (ms since the epoch). */
  readonly firstSeen: number;
}

export interface PeerWatch extends AsyncDisposable {
  /** One entry per distinct object (UID), in the order they were first seen. */
  sightings(): readonly PeerSighting[];
  /** False once kubectl exited: a watch that ended early would miss peers. */
  running(): boolean;
  /** What kubectl wrote to stderr, for failure messages. */
  errors(): string;
  stop(): Promise<void>;
}

/**
 * `kubectl get etcdpeers --watch`, one line per object version. A polling read could miss a peer
 * that is created and deleted between two reads; the watch reports every version of every peer.
 */
export function watchPeers(namespace: string): PeerWatch {
  const child = new Deno.Command(e2e.kubectl(), {
    args: [
      "--kubeconfig",
      e2e.adminKubeconfig(),
      "get",
      "etcdpeers",
      "-n",
      namespace,
      "--watch",
      "-o",
      "jsonpath={.metadata.name} {.metadata.uid} {.spec.bootstrap.initialClusterState}{'\\n'}",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const byUid = new Map<string, PeerSighting>();
  let exited = false;
  let pending = "";
  let errors = "";
  const decoder = new TextDecoder();
  const readLines = async () => {
    for await (const chunk of child.stdout) {
      pending += decoder.decode(chunk, { stream: true });
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        const [name, uid, initialClusterState = ""] = line.trim().split(" ");
        if (!name || !uid || byUid.has(uid)) continue;
        byUid.set(uid, { name, uid, initialClusterState, firstSeen: Date.now() });
      }
    }
  };
  const readErrors = async () => {
    for await (const chunk of child.stderr) errors += decoder.decode(chunk, { stream: true });
  };
  const collected = Promise.all([readLines(), readErrors()]);
  const status = child.status.then((result) => {
    exited = true;
    return result;
  });
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch { /* already exited */ }
      await status;
      await collected;
    })();
    return stopped;
  };
  return {
    sightings: () => [...byUid.values()],
    running: () => !exited,
    stop,
    [Symbol.asyncDispose]: stop,
    errors: () => errors,
  };
}
