import assert from "node:assert/strict";
import {
  decideLease,
  type LeaseInput,
  releasedLease,
  renewalMark,
} from "../../../k8s/lease_plan.ts";

const wallNow = new Date(Date.UTC(2024, 4, 1, 12, 0, 0, 250));
const base: Omit<LeaseInput, "spec"> = {
  identity: "me",
  leaseDurationSeconds: 15,
  nowMs: 100_000,
  observedAtMs: 100_000,
  wallNow,
};

Deno.test("a missing lease is created with us as holder and MicroTime timestamps", () => {
  const decision = decideLease({ ...base, spec: undefined });
  assert.deepEqual(decision, {
    kind: "create",
    spec: {
      holderIdentity: "me",
      leaseDurationSeconds: 15,
      acquireTime: "2024-05-01T12:00:00.250000Z",
      renewTime: "2024-05-01T12:00:00.250000Z",
      leaseTransitions: 0,
    },
  });
});

Deno.test("another holder's lease is respected until its duration passes on our clock", () => {
  const spec = {
    holderIdentity: "other",
    leaseDurationSeconds: 15,
    renewTime: "2000-01-01T00:00:00.000000Z",
  };
  // The renewTime is ancient by the wall clock, but we only just saw it: clocks are not trusted.
  const decision = decideLease({ ...base, spec, observedAtMs: 90_000 });
  assert.deepEqual(decision, { kind: "wait", holder: "other", expiresInMs: 5_000 });
});

Deno.test("an expired lease of another holder is taken over, counting a transition", () => {
  const spec = {
    holderIdentity: "other",
    leaseDurationSeconds: 15,
    acquireTime: "2024-05-01T11:00:00.000000Z",
    renewTime: "2024-05-01T11:59:40.000000Z",
    leaseTransitions: 3,
  };
  const decision = decideLease({ ...base, spec, observedAtMs: 80_000 });
  assert.equal(decision.kind, "update");
  assert.deepEqual(decision.kind === "update" && decision, {
    kind: "update",
    acquiring: true,
    spec: {
      holderIdentity: "me",
      leaseDurationSeconds: 15,
      acquireTime: "2024-05-01T12:00:00.250000Z",
      renewTime: "2024-05-01T12:00:00.250000Z",
      leaseTransitions: 4,
    },
  });
});

Deno.test("our own lease is renewed, keeping acquireTime and the transition count", () => {
  const spec = {
    holderIdentity: "me",
    leaseDurationSeconds: 15,
    acquireTime: "2024-05-01T11:00:00.000000Z",
    renewTime: "2024-05-01T11:59:58.000000Z",
    leaseTransitions: 2,
  };
  const decision = decideLease({ ...base, spec });
  assert.deepEqual(decision, {
    kind: "update",
    acquiring: false,
    spec: { ...spec, renewTime: "2024-05-01T12:00:00.250000Z" },
  });
});

Deno.test("a released lease (no holder) is taken at once", () => {
  const decision = decideLease({
    ...base,
    spec: { holderIdentity: "", leaseDurationSeconds: 1, leaseTransitions: 4 },
  });
  assert.equal(decision.kind, "update");
  assert.equal(decision.kind === "update" && decision.spec.leaseTransitions, 5);
});

Deno.test("release clears the holder and shortens the duration so others take over now", () => {
  const released = releasedLease({
    holderIdentity: "me",
    leaseDurationSeconds: 15,
    leaseTransitions: 2,
  }, wallNow);
  assert.deepEqual(released, {
    holderIdentity: "",
    leaseDurationSeconds: 1,
    acquireTime: "2024-05-01T12:00:00.250000Z",
    renewTime: "2024-05-01T12:00:00.250000Z",
    leaseTransitions: 2,
  });
});

Deno.test("a renewal is recognised by a change of holder or renewTime", () => {
  const spec = { holderIdentity: "a", renewTime: "t1" };
  assert.equal(renewalMark(spec), renewalMark({ ...spec, leaseDurationSeconds: 30 }));
  assert.notEqual(renewalMark(spec), renewalMark({ ...spec, renewTime: "t2" }));
  assert.notEqual(renewalMark(spec), renewalMark({ ...spec, holderIdentity: "b" }));
});
