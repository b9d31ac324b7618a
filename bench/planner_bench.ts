// How fast the pure planners and the mailbox are: a reconcile pass must stay far below a millisecond.
import { type ClusterObservation, planCluster } from "../actors/cluster/plan.ts";
import { clusterStatus } from "../actors/cluster/status.ts";
import { Mailbox } from "../actors/runtime/mailbox.ts";

function observation(members: number, replicas: number): ClusterObservation {
  const names = Array.from({ length: members }, (_, i) => `c-${i}`);
  return {
    clusterName: "c",
    namespace: "ns",
    replicas,
    version: "3.5.21",
    serviceExists: true,
    disruptionBudget: { minAvailable: Math.floor(members / 2) + 1 },
    peers: names.map((name, ordinal) => ({
      name,
      ordinal,
      initialClusterState: "New" as const,
      initialCluster: names,
      terminating: false,
      version: ordinal % 2 ? "3.4.23" : "3.5.21",
      serverVersion: ordinal % 2 ? "3.4.23" : "3.5.21",
      volume: { kind: "present" as const, uid: `v${ordinal}`, recorded: true },
      pod: { phase: "Running", terminating: false, etcd: { running: true, restarts: 0 } },
    })),
    etcd: {
      reachable: true,
      leaderId: "id0",
      members: names.map((name, i) => ({
        id: `id${i}`,
        name,
        peerURL: `http://${name}.c.ns.svc:2380`,
        isLearner: false,
        healthy: true,
      })),
    },
    formed: { clusterId: "cafe" },
    knownMembers: ["c-0", "c-1", "c-2"],
    upgrading: true,
    nowMs: 0,
    replaceAfterMs: 300_000,
  };
}

const converged = observation(5, 5);
const scalingDown = observation(11, 3);

Deno.bench("planCluster: a 5-member cluster mid-upgrade", () => {
  planCluster(converged);
});

Deno.bench("planCluster: scaling 11 members down to 3", () => {
  planCluster(scalingDown);
});

Deno.bench("clusterStatus: conditions and members of a 5-member cluster", () => {
  clusterStatus({
    seen: converged,
    steps: planCluster(converged),
    generation: 3,
    clusterVersion: "3.5.0",
    previous: [],
    now: "2026-01-01T00:00:00Z",
  });
});

Deno.bench("mailbox: 10,000 coalesced notifications for 100 keys", async () => {
  const mailbox = new Mailbox<string>({ kind: "coalesce", keyOf: (key) => key });
  for (let i = 0; i < 10_000; i++) mailbox.send(`key-${i % 100}`);
  for (let i = 0; i < 100; i++) await mailbox.take();
  mailbox.close();
});
