// Leader election on a real Lease, as the operator's identity in its own namespace.
import assert from "node:assert/strict";
import { LeaderElector } from "../../../k8s/lease.ts";
import { silentLog } from "../../../k8s/log.ts";
import { formatMicroTime } from "../../../k8s/microtime.ts";
import type { KubeClient } from "../../../k8s/client.ts";
import { apply, kubectl, kubectlOk } from "../support/cluster.ts";
import { eventually, operatorClient, sleep } from "./support.ts";

// config/rbac/leader_election_role.yaml grants leases only here.
const namespace = "etcd-operator-system";

interface LeaseSpec {
  readonly holderIdentity?: string;
  readonly renewTime?: string;
  readonly acquireTime?: string;
  readonly leaseTransitions?: number;
}

async function leaseSpec(name: string): Promise<LeaseSpec> {
  return JSON.parse(
    await kubectlOk(["get", "lease", "-n", namespace, name, "-o", "jsonpath={.spec}"]),
  );
}

function contender(client: KubeClient, leaseName: string, identity: string) {
  const transitions: string[] = [];
  const elector = new LeaderElector(client, {
    namespace,
    name: leaseName,
    identity,
    leaseDurationSeconds: 4,
    renewDeadlineSeconds: 3,
    retryPeriodSeconds: 0.5,
    onStartedLeading: () => transitions.push("started"),
    onStoppedLeading: () => transitions.push("stopped"),
    log: silentLog,
  });
  return { identity, elector, transitions };
}

function temporaryLease(prefix: string) {
  const name = `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
  return {
    name,
    async [Symbol.asyncDispose]() {
      await kubectl(["delete", "lease", "-n", namespace, name, "--ignore-not-found"]);
    },
  };
}

Deno.test("one of two contenders takes the lease, and the other takes over when it releases", async () => {
  await using lease = temporaryLease("k8s-election");
  using client = await operatorClient();
  const contenders = [
    contender(client, lease.name, "replica-a"),
    contender(client, lease.name, "replica-b"),
  ];
  for (const { elector } of contenders) elector.start();
  await eventually(() => contenders.some(({ elector }) => elector.isLeader), "a leader", 10_000);
  await sleep(1500);
  const leaders = contenders.filter(({ elector }) => elector.isLeader);
  assert.equal(leaders.length, 1);
  const [leader] = leaders;
  const follower = contenders.find((candidate) => candidate !== leader)!;

  const held = await leaseSpec(lease.name);
  assert.equal(held.holderIdentity, leader.identity);
  assert.match(held.renewTime ?? "", /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
  assert.match(held.acquireTime ?? "", /\.\d{6}Z$/);

  const releasedAt = performance.now();
  await leader.elector.stop();
  assert.deepEqual(leader.transitions, ["started", "stopped"]);
  await eventually(() => follower.elector.isLeader, "the follower to take over", 10_000);
  // Released, not expired: the follower need not wait out the 4 s lease.
  assert.ok(performance.now() - releasedAt < 3000, `took ${performance.now() - releasedAt} ms`);
  assert.equal((await leaseSpec(lease.name)).holderIdentity, follower.identity);
  assert.deepEqual(follower.transitions, ["started"]);
  await follower.elector.stop();
});

Deno.test("a lease whose holder vanished without releasing is taken after its duration", async () => {
  await using lease = temporaryLease("k8s-takeover");
  const now = formatMicroTime(new Date());
  await apply(`apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: ${lease.name}, namespace: ${namespace}}
spec: {holderIdentity: crashed-replica, leaseDurationSeconds: 4, acquireTime: "${now}", renewTime: "${now}", leaseTransitions: 0}
`);
  using client = await operatorClient();
  const successor = contender(client, lease.name, "successor");
  const startedAt = performance.now();
  successor.elector.start();
  await sleep(2000);
  assert.equal(successor.elector.isLeader, false, "took a lease that had not expired");
  await eventually(() => successor.elector.isLeader, "the takeover", 10_000);
  assert.ok(performance.now() - startedAt >= 4000);
  const spec = await leaseSpec(lease.name);
  assert.equal(spec.holderIdentity, "successor");
  assert.equal(spec.leaseTransitions, 1);
  await successor.elector.stop();
});
