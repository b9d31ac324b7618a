// Classifying etcd3's errors, using the messages real etcd 3.4/3.5 members and grpc-js produce.
import assert from "node:assert/strict";
import { attempt, classifyError, classifyMessage, isTransient } from "../../../etcd/errors.ts";

const cases: readonly (readonly [string, string])[] = [
  [
    "9 FAILED_PRECONDITION: etcdserver: can only promote a learner member which is in sync with leader",
    "learnerNotReady",
  ],
  ["5 NOT_FOUND: etcdserver: member not found", "memberNotFound"],
  ["9 FAILED_PRECONDITION: etcdserver: too many learner members in cluster", "tooManyLearners"],
  ["9 FAILED_PRECONDITION: etcdserver: not leader", "notLeader"],
  ["14 UNAVAILABLE: etcdserver: leader changed", "notLeader"],
  ["14 UNAVAILABLE: etcdserver: unhealthy cluster", "unhealthy"],
  ["14 UNAVAILABLE: etcdserver: no leader", "unhealthy"],
  ["14 UNAVAILABLE: etcdserver: request timed out", "unhealthy"],
  [
    "9 FAILED_PRECONDITION: etcdserver: re-configuration failed due to not enough started members",
    "unhealthy",
  ],
  ["8 RESOURCE_EXHAUSTED: etcdserver: mvcc: database space exceeded", "unhealthy"],
  [
    "14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:29997. Resolution note: ",
    "unreachable",
  ],
  [
    "4 DEADLINE_EXCEEDED: Deadline exceeded after 0.000s,waiting for name resolution",
    "unreachable",
  ],
  ["14 UNAVAILABLE: etcdserver: server stopped", "unreachable"],
  ["Execution prevented because the circuit breaker is open", "unreachable"],
  ["14 UNAVAILABLE: etcdserver: rpc not supported for learner", "other"],
  ["9 FAILED_PRECONDITION: etcdserver: bad leader transferee", "other"],
  ["9 FAILED_PRECONDITION: etcdserver: member ID already exist", "other"],
  ["9 FAILED_PRECONDITION: etcdserver: Peer URLs already exists", "other"],
  ["Tried to call a Maintenance method on etcd3, but the client was already closed", "other"],
];

for (const [message, kind] of cases) {
  Deno.test(`"${message.slice(0, 70)}" is classified ${kind}`, () => {
    assert.equal(classifyMessage(message), kind);
  });
}

Deno.test("promoting a voter is not mistaken for a learner that is not ready", () => {
  assert.equal(
    classifyMessage("9 FAILED_PRECONDITION: etcdserver: can only promote a learner member"),
    "other",
  );
});

Deno.test("our own timeouts count as unreachable", () => {
  const timeout = new DOMException("Signal timed out.", "TimeoutError");
  assert.deepEqual(classifyError(timeout), { kind: "unreachable", message: "Signal timed out." });
});

Deno.test("something thrown that is not an Error keeps its text", () => {
  assert.deepEqual(classifyError("boom"), { kind: "other", message: "boom" });
});

Deno.test("attempt turns a rejection into a failure value and a result into success", async () => {
  const failed = await attempt(() =>
    Promise.reject(new Error("9 FAILED_PRECONDITION: etcdserver: not leader"))
  );
  assert.deepEqual(failed, {
    ok: false,
    error: { kind: "notLeader", message: "9 FAILED_PRECONDITION: etcdserver: not leader" },
  });
  assert.deepEqual(await attempt(() => Promise.resolve(7)), { ok: true, value: 7 });
});

Deno.test("waiting kinds are transient; a missing member or an unknown error is not", () => {
  assert.equal(isTransient("learnerNotReady"), true);
  assert.equal(isTransient("unreachable"), true);
  assert.equal(isTransient("memberNotFound"), false);
  assert.equal(isTransient("other"), false);
});
