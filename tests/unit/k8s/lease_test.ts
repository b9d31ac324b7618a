import assert from "node:assert/strict";
import { failure, type K8sResult, success } from "../../../k8s/errors.ts";
import { LeaderElector, type Lease, type LeaseClient } from "../../../k8s/lease.ts";
import { silentLog } from "../../../k8s/log.ts";
import type { KubeObject } from "../../../k8s/objects.ts";

/** One Lease in memory with resourceVersion checks, like the API server's optimistic locking. */
function fakeLeaseApi() {
  const state: { lease?: Lease; revision: number; down: boolean; calls: Record<string, number> } = {
    revision: 0,
    down: false,
    calls: { get: 0, create: 0, replace: 0 },
  };
  const unavailable = { kind: "transient" as const, message: "apiserver down" };
  const store = (lease: Lease): Lease => {
    state.lease = {
      ...lease,
      metadata: { ...lease.metadata, resourceVersion: String(++state.revision) },
    };
    return state.lease;
  };
  const client: LeaseClient = {
    get: <T extends KubeObject>() => {
      state.calls.get++;
      if (state.down) return Promise.resolve(failure<T>(unavailable));
      return Promise.resolve<K8sResult<T>>(
        state.lease
          ? success(state.lease as T)
          : failure({ kind: "notFound", message: "not found" }),
      );
    },
    create: <T extends KubeObject>(_resource: unknown, body: T) => {
      state.calls.create++;
      if (state.down) return Promise.resolve(failure<T>(unavailable));
      if (state.lease) {
        return Promise.resolve(failure<T>({ kind: "alreadyExists", message: "exists" }));
      }
      return Promise.resolve(success(store(body as Lease) as T));
    },
    replace: <T extends KubeObject>(_resource: unknown, body: T) => {
      state.calls.replace++;
      if (state.down) return Promise.resolve(failure<T>(unavailable));
      if (body.metadata.resourceVersion !== state.lease?.metadata.resourceVersion) {
        return Promise.resolve(failure<T>({ kind: "conflict", message: "modified" }));
      }
      return Promise.resolve(success(store(body as Lease) as T));
    },
  };
  return { client, state, store };
}

async function eventually(condition: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function contender(client: LeaseClient, identity: string) {
  const transitions: string[] = [];
  const elector = new LeaderElector(client, {
    namespace: "ns",
    name: "etcd-operator",
    identity,
    leaseDurationSeconds: 0.6,
    renewDeadlineSeconds: 0.3,
    retryPeriodSeconds: 0.05,
    onStartedLeading: () => transitions.push("started"),
    onStoppedLeading: () => transitions.push("stopped"),
    log: silentLog,
  });
  return { elector, transitions };
}

Deno.test("one of two contenders leads, and the other takes over once it releases", async () => {
  const { client, state } = fakeLeaseApi();
  const first = contender(client, "first");
  const second = contender(client, "second");
  first.elector.start();
  await eventually(() => first.elector.isLeader, "the first to lead");
  second.elector.start();
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(second.elector.isLeader, false);
  assert.equal(state.lease?.spec?.holderIdentity, "first");
  assert.match(state.lease?.spec?.renewTime ?? "", /\.\d{6}Z$/);

  const releasedAt = performance.now();
  await first.elector.stop();
  assert.deepEqual(first.transitions, ["started", "stopped"]);
  await eventually(() => second.elector.isLeader, "the second to take over");
  // A released lease is taken at the next attempt, well before the lease duration.
  assert.ok(performance.now() - releasedAt < 500);
  assert.equal(state.lease?.spec?.holderIdentity, "second");
  assert.equal(state.lease?.spec?.leaseTransitions, 1);
  await second.elector.stop();
});

Deno.test("a leader that cannot renew before the deadline steps down", async () => {
  const { client, state } = fakeLeaseApi();
  const only = contender(client, "only");
  only.elector.start();
  await eventually(() => only.elector.isLeader, "leadership");
  state.down = true;
  const downAt = performance.now();
  await eventually(() => !only.elector.isLeader, "stepping down");
  const elapsed = performance.now() - downAt;
  assert.ok(elapsed >= 250 && elapsed < 1500, `stepped down after ${elapsed} ms`);
  assert.deepEqual(only.transitions, ["started", "stopped"]);
  state.down = false;
  await eventually(() => only.elector.isLeader, "leading again once the server is back");
  await only.elector.stop();
});

Deno.test("a lease held by someone else who is still renewing is never taken", async () => {
  const { client, state } = fakeLeaseApi();
  const holder = contender(client, "holder");
  holder.elector.start();
  await eventually(() => holder.elector.isLeader, "the holder to lead");
  const waiting = contender(client, "waiting");
  waiting.elector.start();
  await new Promise((resolve) => setTimeout(resolve, 900));
  assert.equal(waiting.elector.isLeader, false);
  assert.equal(state.lease?.spec?.holderIdentity, "holder");
  await waiting.elector.stop();
  await holder.elector.stop();
  assert.deepEqual(waiting.transitions, []);
});

Deno.test("timings that would allow two leaders are refused", () => {
  const { client } = fakeLeaseApi();
  const options = {
    namespace: "ns",
    name: "l",
    identity: "x",
    onStartedLeading: () => {},
    onStoppedLeading: () => {},
  };
  assert.throws(() =>
    new LeaderElector(client, { ...options, leaseDurationSeconds: 10, renewDeadlineSeconds: 10 })
  );
  assert.throws(() =>
    new LeaderElector(client, { ...options, renewDeadlineSeconds: 2, retryPeriodSeconds: 2 })
  );
});

Deno.test("a leader renews over the Lease it last wrote, without reading it each time", async () => {
  const { client, state } = fakeLeaseApi();
  const only = contender(client, "only");
  only.elector.start();
  await eventually(() => only.elector.isLeader, "leadership");
  const reads = state.calls.get;
  const writes = state.calls.replace + state.calls.create;
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.ok(state.calls.replace + state.calls.create - writes >= 4, "renewed several times");
  assert.equal(state.calls.get, reads, "no read while renewing");
  assert.equal(only.elector.isLeader, true);
  await only.elector.stop();
});

Deno.test("a leader whose Lease was written by someone else reads it, and steps down for a new holder", async () => {
  const { client, state, store } = fakeLeaseApi();
  const only = contender(client, "only");
  only.elector.start();
  await eventually(() => only.elector.isLeader, "leadership");
  const reads = state.calls.get;
  // Someone takes the Lease over (an administrator, or a replica that saw it expire).
  const renewTime = state.lease!.spec!.renewTime;
  const taken = { ...state.lease!, spec: { ...state.lease!.spec, holderIdentity: "other" } };
  store({ ...taken, spec: { ...taken.spec, renewTime: `${renewTime}x` } });
  await eventually(() => !only.elector.isLeader, "stepping down");
  assert.ok(state.calls.get > reads, "the conflict made it read the Lease");
  assert.equal(state.lease?.spec?.holderIdentity, "other");
  assert.deepEqual(only.transitions, ["started", "stopped"]);
  await only.elector.stop();
});
