// The installed operator's leader killed mid-operation: the standby finishes it without re-bootstrapping.
import assert from "node:assert/strict";
import {
  apply,
  type Condition,
  eventually,
  getJson,
  kubectlOk,
  sampleClusterIn,
  temporaryNamespace,
} from "./support/cluster.ts";
import { deployOperator, killOperatorPod, leaderPod, operatorLogs } from "./support/deployment.ts";
import { type PeerWatch, watchPeers } from "./support/peers.ts";
import { clientServiceIP, startWriter, type Writer } from "./support/writer.ts";

const clusterName = "my-cluster";
const target = "3.5.21";
const peerName = (ordinal: number) => `${clusterName}-${ordinal}`;

interface ClusterStatus {
  readonly replicas?: number;
  readonly readyReplicas?: number;
  readonly members?: readonly { name: string }[];
  readonly clusterVersion?: string;
  readonly conditions?: readonly Condition[];
}

interface Peer {
  readonly metadata: { name: string; uid: string };
  readonly spec: { version: string; bootstrap: { initialClusterState: string } };
  readonly status?: { serverVersion?: string };
}

interface ClusterEvent {
  readonly reason: string;
  readonly message: string;
  /** Repeats of the same event are folded into one object's count (k8s/events.ts). */
  readonly count?: number;
}

async function clusterStatus(namespace: string): Promise<ClusterStatus> {
  const cluster = await getJson<{ status?: ClusterStatus }>([
    "etcdcluster",
    "-n",
    namespace,
    clusterName,
  ]);
  return cluster?.status ?? {};
}

const available = (status: ClusterStatus) =>
  status.conditions?.find((condition) => condition.type === "Available")?.status === "True";

/** `replicas` peers, every one a ready voting member, and the Available condition. */
function formed(replicas: number) {
  return (status: ClusterStatus) =>
    status.replicas === replicas && status.readyReplicas === replicas &&
    status.members?.length === replicas && available(status);
}

async function peers(namespace: string): Promise<Peer[]> {
  return (await getJson<{ items: Peer[] }>(["etcdpeers", "-n", namespace]))?.items ?? [];
}

async function clusterEvents(namespace: string): Promise<ClusterEvent[]> {
  const events = await getJson<{ items: ClusterEvent[] }>([
    "events",
    "-n",
    namespace,
    "--field-selector",
    "involvedObject.kind=EtcdCluster",
  ]);
  return events?.items ?? [];
}

/** How many times the operator recorded `reason`, counting folded repeats. */
function occurrences(events: readonly ClusterEvent[], reason: string): number {
  return events.filter((event) => event.reason === reason)
    .reduce((sum, event) => sum + (event.count ?? 1), 0);
}

/**
 * Each peer's PeerCreated occurrences, as the state its message names ("created peer my-cluster-3
 * (existing cluster)" → "existing"), sorted, so a repeat or a wrong state shows in a deepEqual.
 */
function peerCreations(events: readonly ClusterEvent[]): Record<string, string[]> {
  const created: Record<string, string[]> = {};
  for (const event of events.filter((event) => event.reason === "PeerCreated")) {
    const match = /^created peer (\S+) \((\w+) cluster\)$/.exec(event.message);
    const [name, state] = match ? [match[1], match[2]] : [event.message, "unparsed"];
    for (let i = 0; i < (event.count ?? 1); i++) (created[name] ??= []).push(state);
  }
  for (const states of Object.values(created)) states.sort();
  return created;
}

/** What the test saw, for a failure message: the reader cannot look at the cluster afterwards. */
async function diagnostics(namespace: string): Promise<string> {
  const events = (await clusterEvents(namespace)).map((event) =>
    `${event.reason} ×${event.count ?? 1}: ${event.message}`
  );
  const peerStates = (await peers(namespace)).map((peer) =>
    `${peer.metadata.name} ${peer.spec.bootstrap.initialClusterState} ${peer.spec.version} ` +
    `reported ${peer.status?.serverVersion ?? "nothing"}`
  );
  const logs = (await operatorLogs()).split("\n").slice(-60).join("\n");
  return [
    `status: ${JSON.stringify(await clusterStatus(namespace))}`,
    `peers:\n  ${peerStates.join("\n  ")}`,
    `events:\n  ${events.join("\n  ")}`,
    `operator logs (last 60 lines):\n${logs}`,
  ].join("\n");
}

/** Waits like `eventually`, but a timeout also says what the cluster and the operator were doing. */
async function waitOrExplain<T>(
  namespace: string,
  what: string,
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutSeconds: number,
  intervalMs = 1000,
): Promise<T> {
  try {
    return await eventually(what, read, done, timeoutSeconds, intervalMs);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`${message}\n${await diagnostics(namespace)}`);
  }
}

/** Creates the sample cluster and waits until it has formed; returns its peers' UIDs by name. */
async function formSampleCluster(namespace: string): Promise<Map<string, string>> {
  await apply(sampleClusterIn(namespace));
  await waitOrExplain(
    namespace,
    "3 ready members, Available, on etcd 3.4",
    () => clusterStatus(namespace),
    (status) => formed(3)(status) && status.clusterVersion === "3.4.0",
    150,
  );
  return new Map((await peers(namespace)).map((peer) => [peer.metadata.name, peer.metadata.uid]));
}

/**
 * Kills the pod holding the Lease and waits until another operator pod holds it; returns when the
 * kill happened, to time what follows.
 */
async function killLeader(namespace: string, after: string): Promise<number> {
  const leader = await leaderPod();
  assert.ok(leader, "an operator pod holds the Lease before the kill");
  const killedAt = Date.now();
  const { killedProcesses } = await killOperatorPod(leader);
  const how = killedProcesses > 0
    ? `SIGKILL to ${killedProcesses} process(es), then force-deleted`
    : "no process on this host: only force-deleted (the kubelet's SIGTERM)";
  // The dead leader's Lease expires after 15 s; a new leader then has to list before acting.
  const successor = await waitOrExplain(
    namespace,
    `an operator pod other than ${leader} holding the Lease`,
    leaderPod,
    (pod) => pod !== undefined && pod !== leader,
    60,
  );
  const seconds = ((Date.now() - killedAt) / 1000).toFixed(1);
  console.log(
    `killed leader ${leader} after ${after} (${how}); ${successor} leads ${seconds} s later`,
  );
  return killedAt;
}

/** Stops the writer and asserts that the application saw nothing go wrong. */
async function assertNoWriteLost(writer: Writer, operation: string): Promise<void> {
  const result = await writer.stop();
  console.log(
    `${operation}: ${result.acknowledged.length} writes acknowledged at ${
      result.rate.toFixed(1)
    }/s, ${result.failed} failed, ${result.missing.length} missing, ${result.reconnects} reconnects`,
  );
  assert.equal(result.failed, 0, `no write may fail during the ${operation}`);
  assert.deepEqual(result.missing, [], "every acknowledged write survives");
}

/**
 * Peers first seen after the cluster formed must join it ("Existing"): a "New" one would try to
 * bootstrap a second cluster beside the first. Checked on the watch, so a peer that was created
 * and then deleted again counts as well.
 */
function assertNoNewPeerAfterForming(watch: PeerWatch, bootstrapUids: ReadonlySet<string>) {
  assert.ok(watch.running(), `the peer watch ended early: ${watch.errors()}`);
  const later = watch.sightings().filter((peer) => !bootstrapUids.has(peer.uid));
  const bootstrapping = later.filter((peer) => peer.initialClusterState !== "Existing");
  assert.deepEqual(
    bootstrapping,
    [],
    `peers created after the cluster formed: ${JSON.stringify(later)}`,
  );
}

Deno.test("a scale-up 3 → 5 finishes after the leading operator pod is killed, adding only Existing peers and no false PeerCreated", async () => {
  await using namespace = await temporaryNamespace("failover-scale");
  await using watch = watchPeers(namespace.name);
  await using _operator = await deployOperator(namespace.name);
  const bootstrapPeers = await formSampleCluster(namespace.name);
  const bootstrapUids = new Set(bootstrapPeers.values());
  const writer = startWriter(await clientServiceIP(namespace.name, clusterName), 20);
  try {
    await kubectlOk([
      "scale",
      "etcdcluster",
      "-n",
      namespace.name,
      clusterName,
      "--replicas",
      "5",
    ]);
    // Killed between adding the first learner and creating its peer, or just after: the new
    // leader must finish that step from what etcd and the API server say, not bootstrap again.
    await waitOrExplain(
      namespace.name,
      `the first MemberAdded Event or peer ${peerName(3)}`,
      async () => ({
        added: occurrences(await clusterEvents(namespace.name), "MemberAdded"),
        peers: (await peers(namespace.name)).map((peer) => peer.metadata.name),
      }),
      (seen) => seen.added > 0 || seen.peers.includes(peerName(3)),
      90,
      250,
    );
    const killedAt = await killLeader(
      namespace.name,
      `the first MemberAdded or peer ${peerName(3)}`,
    );
    await waitOrExplain(
      namespace.name,
      "5 ready members, Available",
      () => {
        // A "New" peer never joins: fail on it at once rather than at the timeout.
        assertNoNewPeerAfterForming(watch, bootstrapUids);
        return clusterStatus(namespace.name);
      },
      formed(5),
      150,
    );
    console.log(`5 members ready ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill`);
  } catch (error) {
    await writer.stop().catch(() => {});
    throw error;
  }
  await assertNoWriteLost(writer, "scale-up with a failover");

  const now = new Map((await peers(namespace.name)).map((peer) => [peer.metadata.name, peer]));
  for (const [name, uid] of bootstrapPeers) {
    assert.equal(now.get(name)?.metadata.uid, uid, `${name} was never re-created`);
  }
  for (const name of [peerName(3), peerName(4)]) {
    assert.equal(now.get(name)?.spec.bootstrap.initialClusterState, "Existing", name);
  }
  assertNoNewPeerAfterForming(watch, bootstrapUids);
  assert.deepEqual(
    watch.sightings().map((peer) => peer.name).sort(),
    [0, 1, 2, 3, 4].map(peerName),
    "one object per peer, none re-created",
  );
  const events = await clusterEvents(namespace.name);
  assert.deepEqual(
    peerCreations(events),
    {
      [peerName(0)]: ["new"],
      [peerName(1)]: ["new"],
      [peerName(2)]: ["new"],
      [peerName(3)]: ["existing"],
      [peerName(4)]: ["existing"],
    },
    "PeerCreated once per peer actually created",
  );
});

/** Every peer runs and reports the target, etcd agrees, and the end was announced. */
async function upgradeState(namespace: string) {
  const status = await clusterStatus(namespace);
  const current = await peers(namespace);
  return {
    peers: current.map((peer) => `${peer.spec.version}/${peer.status?.serverVersion ?? "-"}`),
    clusterVersion: status.clusterVersion,
    available: available(status),
    completed: occurrences(await clusterEvents(namespace), "UpgradeCompleted"),
  };
}

Deno.test("an upgrade 3.4.23 → 3.5.21 finishes after the leading operator pod is killed, re-creating each peer once as Existing", async () => {
  await using namespace = await temporaryNamespace("failover-upgrade");
  await using watch = watchPeers(namespace.name);
  await using _operator = await deployOperator(namespace.name);
  const bootstrapPeers = await formSampleCluster(namespace.name);
  const bootstrapUids = new Set(bootstrapPeers.values());
  const writer = startWriter(await clientServiceIP(namespace.name, clusterName), 20);
  try {
    await kubectlOk([
      "patch",
      "etcdcluster",
      "-n",
      namespace.name,
      clusterName,
      "--type",
      "merge",
      "-p",
      JSON.stringify({ spec: { version: target } }),
    ]);
    // Killed while the first replaced peer is gone or coming back at the new version.
    await waitOrExplain(
      namespace.name,
      "the first PeerUpgraded Event",
      async () => occurrences(await clusterEvents(namespace.name), "PeerUpgraded"),
      (upgraded) => upgraded > 0,
      90,
      250,
    );
    const killedAt = await killLeader(namespace.name, "the first PeerUpgraded");
    await waitOrExplain(
      namespace.name,
      `every peer on ${target}, cluster version 3.5.0, Available, UpgradeCompleted`,
      () => {
        // A "New" peer never joins: fail on it at once rather than at the timeout.
        assertNoNewPeerAfterForming(watch, bootstrapUids);
        return upgradeState(namespace.name);
      },
      (state) =>
        state.peers.length === 3 && state.peers.every((peer) => peer === `${target}/${target}`) &&
        state.clusterVersion === "3.5.0" && state.available && state.completed > 0,
      180,
    );
    console.log(`upgrade done ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill`);
  } catch (error) {
    await writer.stop().catch(() => {});
    throw error;
  }
  await assertNoWriteLost(writer, "upgrade with a failover");

  const events = await clusterEvents(namespace.name);
  assert.equal(occurrences(events, "UpgradeCompleted"), 1, "the end is announced once");
  const upgraded = events.filter((event) => event.reason === "PeerUpgraded")
    .flatMap((event) => Array(event.count ?? 1).fill(/peer (\S+):/.exec(event.message)?.[1]));
  assert.deepEqual(upgraded.sort(), [0, 1, 2].map(peerName), "each peer replaced once");
  // An upgrade deletes each peer and re-creates it on its volume (actors/cluster: replacePeer,
  // then planRecovery's createPeers with "Existing"): one PeerCreated at bootstrap ("new") and
  // one for the replacement ("existing") per peer are both true; any other would be false.
  assert.deepEqual(
    peerCreations(events),
    Object.fromEntries([0, 1, 2].map((i) => [peerName(i), ["existing", "new"]])),
    "PeerCreated once at bootstrap and once per replacement",
  );
  const now = await peers(namespace.name);
  for (const peer of now) {
    assert.notEqual(peer.metadata.uid, bootstrapPeers.get(peer.metadata.name), "replaced");
    assert.equal(peer.spec.bootstrap.initialClusterState, "Existing", peer.metadata.name);
  }
  assertNoNewPeerAfterForming(watch, bootstrapUids);
  const sightings = watch.sightings().map((peer) => peer.name).sort();
  assert.deepEqual(
    sightings,
    [0, 0, 1, 1, 2, 2].map(peerName),
    "two objects per peer: the bootstrap one and its replacement",
  );
});
