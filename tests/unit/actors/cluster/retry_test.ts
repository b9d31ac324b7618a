// A failed cluster step waits out its backoff, however often the actor is woken meanwhile.
import assert from "node:assert/strict";
import type { ClusterStep } from "../../../../actors/cluster/plan.ts";
import {
  afterFailure,
  heldBackMs,
  nextTimeGateMs,
  stepKey,
  waitDelayMs,
} from "../../../../actors/cluster/retry.ts";
import type { ClusterObservation, PeerView } from "../../../../actors/cluster/plan.ts";
import { fixtureNowMs, observation, runningPeer } from "./observation_fixture.ts";

const add: ClusterStep = {
  kind: "addLearner",
  peerName: "c-3",
  peerURL: "http://c-3.c.ns.svc:2380",
};
const addOther: ClusterStep = {
  kind: "addLearner",
  peerName: "c-4",
  peerURL: "http://c-4.c.ns.svc:2380",
};
const noJitter = () => 0;

Deno.test("a failed step is held back until its backoff has passed", () => {
  const state = afterFailure(undefined, add, "etcdserver: unhealthy cluster", 10_000, noJitter);
  assert.equal(state.failures, 1);
  assert.equal(heldBackMs(state, add, 10_060), 940, "woken 60 ms later: still 940 ms to wait");
  assert.equal(heldBackMs(state, add, 11_000), undefined);
});

Deno.test("the backoff doubles with each failure of the same step, up to a minute", () => {
  let state = afterFailure(undefined, add, "e", 0, noJitter);
  const delays = [state.notBefore];
  for (let i = 0; i < 8; i++) {
    state = afterFailure(state, add, "e", 0, noJitter);
    delays.push(state.notBefore);
  }
  assert.deepEqual(delays, [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]);
});

Deno.test("another step, or the same kind on another target, is not held back", () => {
  const state = afterFailure(undefined, add, "e", 0, noJitter);
  assert.equal(heldBackMs(state, addOther, 10), undefined);
  assert.equal(heldBackMs(state, { kind: "createService" }, 10), undefined);
  assert.equal(afterFailure(state, addOther, "e", 0, noJitter).failures, 1);
});

Deno.test("step keys name the step and its target", () => {
  assert.equal(stepKey(add), "addLearner:c-3");
  assert.equal(
    stepKey({ kind: "moveLeader", fromId: "a", toId: "b", toName: "c-1" }),
    "moveLeader:a>b",
  );
  assert.equal(
    stepKey({
      kind: "createPeers",
      peers: [{
        name: "c-1",
        initialClusterState: "Existing",
        initialCluster: [],
        dataExists: true,
      }],
    }),
    "createPeers:c-1",
  );
});

Deno.test("a wait is looked at again after 3 s three times, then doubling up to the health interval", () => {
  const cases: [consecutiveWaits: number, healthIntervalMs: number, delayMs: number][] = [
    [1, 15_000, 3_000],
    [2, 15_000, 3_000],
    [3, 15_000, 3_000],
    [4, 15_000, 6_000],
    [5, 15_000, 12_000],
    [6, 15_000, 15_000],
    [500, 15_000, 15_000],
    [5, 60_000, 12_000],
    [7, 60_000, 48_000],
    [8, 60_000, 60_000],
    // An interval shorter than the quick checks' delay does not make them quicker.
    [1, 1_000, 3_000],
    [9, 1_000, 3_000],
  ];
  for (const [waits, interval, expected] of cases) {
    assert.equal(waitDelayMs(waits, interval), expected, `wait ${waits}, interval ${interval}`);
  }
});

Deno.test("a wait never sleeps past the moment a grace period ends", () => {
  const now = 1_000_000;
  const cases: [waits: number, gateAtMs: number | undefined, delayMs: number][] = [
    [6, undefined, 15_000],
    [6, now + 4_000, 4_050],
    [1, now + 10_000, 3_000],
    [6, now + 60_000, 15_000],
    [6, now - 5, 50], // already over: look again at once
  ];
  for (const [waits, gate, expected] of cases) {
    assert.equal(waitDelayMs(waits, 15_000, gate, now), expected, `wait ${waits}, gate ${gate}`);
  }
});

const nowMs = fixtureNowMs;
function peer(name: string, pod: Partial<NonNullable<PeerView["pod"]>>): PeerView {
  const base = runningPeer(Number(name.split("-")[1]));
  return { ...base, pod: { ...base.pod!, ...pod } };
}
function seenWith(
  peers: readonly PeerView[],
  quorumLoss?: ClusterObservation["quorumLoss"],
): ClusterObservation {
  return observation({
    peers,
    etcd: { reachable: false, reason: "timeout" },
    ...(quorumLoss ? { quorumLoss } : {}),
  });
}

Deno.test("the next time gate: a node not ready, a pod unschedulable, a lost quorum's grace", () => {
  const away = (sinceMs: number) => ({
    node: { name: "n3", ready: false, sinceMs, detail: "Unknown NodeStatusUnknown" },
  });
  const unschedulable = (sinceMs: number) => ({
    phase: "Pending",
    unschedulable: { message: "0/3 nodes are available", sinceMs },
  });
  const fine = peer("c-0", {});
  const cases: [what: string, seen: ClusterObservation, gate: number | undefined][] = [
    ["all fine", seenWith([fine]), undefined],
    ["node away 100 s", seenWith([fine, peer("c-2", away(nowMs - 100_000))]), nowMs + 200_000],
    [
      "node away past grace (lost, no gate)",
      seenWith([peer("c-2", away(nowMs - 400_000))]),
      undefined,
    ],
    [
      "the earliest of two",
      seenWith([peer("c-1", unschedulable(nowMs - 250_000)), peer("c-2", away(nowMs - 100_000))]),
      nowMs + 50_000,
    ],
    [
      "quorum lost 20 s ago",
      seenWith([fine], { policy: "Automatic", unavailableSinceMs: nowMs - 20_000 }),
      nowMs + 280_000,
    ],
    [
      "quorum lost past grace",
      seenWith([fine], { policy: "Automatic", unavailableSinceMs: nowMs - 300_001 }),
      undefined,
    ],
  ];
  for (const [what, seen, gate] of cases) assert.equal(nextTimeGateMs(seen), gate, what);
});
