// The supervisor: one-for-one restarts with backoff, redelivery, intensity, escalation, shutdown.
import assert from "node:assert/strict";
import type { ActorRef, ActorSpec } from "../../../../actors/runtime/actor.ts";
import { defaultRestartPolicy } from "../../../../actors/runtime/backoff.ts";
import { EscalationError } from "../../../../actors/runtime/supervisor.ts";
import { settle } from "../../../../actors/runtime/testing.ts";
import { policy, restartDelays, tree } from "./harness.ts";

/** An actor whose handler throws the first time it sees each message listed in `failOnce`. */
function flaky(name: string, seen: string[], failOnce: readonly string[]): ActorSpec<string> {
  const failed = new Set<string>();
  return {
    kind: "Flaky",
    name,
    init: () => ({
      handle: (message) => {
        seen.push(message);
        if (failOnce.includes(message) && !failed.has(message)) {
          failed.add(message);
          throw new Error(`${name} failed on ${message}`);
        }
      },
    }),
  };
}

/** An actor whose init throws while `worldDown()` says so, counting its attempts. */
function unreachable(name: string, attempts: { count: number }, worldDown: () => boolean) {
  return {
    kind: "Unreachable",
    name,
    init: () => {
      attempts.count++;
      if (worldDown()) throw new Error("the API server is unreachable");
      return { handle: () => {} };
    },
  } satisfies ActorSpec<string>;
}

Deno.test("a crashing actor is restarted after 100, 200 and 400 ms, then stays capped at 400", async () => {
  const { root, clock, hooks } = tree(policy(10, 60_000));
  const attempts = { count: 0 };
  let down = true;
  root.spawn(unreachable("u", attempts, () => down));
  await settle();
  const restartTimes: number[] = [];
  for (const delay of [100, 200, 400, 400]) {
    const before = attempts.count;
    await clock.advance(delay - 1);
    assert.equal(attempts.count, before, `no restart 1 ms before ${delay} ms`);
    await clock.advance(1);
    assert.equal(attempts.count, before + 1, `restart after ${delay} ms`);
    restartTimes.push(clock.now());
  }
  assert.deepEqual(restartTimes, [100, 300, 700, 1100]);
  assert.deepEqual(restartDelays(hooks), [100, 200, 400, 400, 400]);
  assert.equal(hooks.total("restarts", "u"), 4);
  down = false;
  await clock.advance(400);
  assert.deepEqual(root.children(), [{ name: "u", kind: "Unreachable", status: "running" }]);
  await root.stop();
});

Deno.test("jitter shortens each delay by a fraction drawn from the injected random source", async () => {
  const { root, hooks } = tree(policy(10, 60_000, { jitter: 0.2 }), undefined, () => 0.5);
  root.spawn(unreachable("u", { count: 0 }, () => true));
  await settle();
  assert.deepEqual(restartDelays(hooks), [90]);
  await root.stop();
});

Deno.test("a restarted actor starts from a fresh state built by init, not from memory", async () => {
  const { root, clock } = tree();
  const reports: number[] = [];
  let inits = 0;
  const actor = root.spawn<"add" | "crashIfAboveOne" | "report">({
    kind: "Counter",
    name: "c",
    init: () => {
      inits++;
      let count = 0;
      return {
        handle: (message) => {
          if (message === "add") count++;
          if (message === "crashIfAboveOne" && count > 1) throw new Error("too many");
          if (message === "report") reports.push(count);
        },
      };
    },
  });
  for (const message of ["add", "add", "crashIfAboveOne", "report"] as const) actor.send(message);
  await clock.advance(100);
  assert.equal(inits, 2);
  assert.deepEqual(reports, [0]);
  await root.stop();
});

Deno.test("a crash loses no pending message and redelivers the one in hand once", async () => {
  const { root, clock, hooks } = tree();
  const seen: string[] = [];
  const actor = root.spawn(flaky("f", seen, ["crash"]));
  for (const message of ["a", "crash", "b", "c"]) actor.send(message);
  await settle();
  assert.equal(actor.status, "crashed");
  assert.equal(actor.send("sent during the backoff"), true);
  await clock.advance(100);
  assert.deepEqual(seen, ["a", "crash", "crash", "b", "c", "sent during the backoff"]);
  assert.equal(hooks.total("messagesDropped"), 0);
  await root.stop();
});

Deno.test("a message that crashes the actor twice is dropped as poison and the rest go on", async () => {
  const { root, clock, hooks } = tree();
  const seen: string[] = [];
  const actor = root.spawn<string>({
    kind: "Poisoned",
    name: "p",
    init: () => ({
      handle: (message) => {
        if (message === "poison") throw new Error("cannot digest");
        seen.push(message);
      },
    }),
  });
  for (const message of ["poison", "a", "b"]) actor.send(message);
  await clock.advance(100 + 200);
  assert.deepEqual(seen, ["a", "b"]);
  assert.equal(actor.status, "running");
  assert.equal(hooks.total("messagesDropped", "p"), 1);
  const outcomes = hooks.events.flatMap((event) =>
    event.kind === "actorCrashed" ? [event.inFlight] : []
  );
  assert.deepEqual(outcomes, ["redelivered", "dropped"]);
  await root.stop();
});

Deno.test("a crashed notice is absorbed by a newer pending notice for the same key", async () => {
  const { root, clock, hooks } = tree();
  const handled: string[] = [];
  let crashed = false;
  const arrived = Promise.withResolvers<void>();
  const actor = root.spawn<{ key: string; version: number }>({
    kind: "Keyed",
    name: "k",
    mailbox: { kind: "coalesce", keyOf: (notice) => notice.key },
    init: () => ({
      handle: async (notice) => {
        handled.push(`${notice.key}@${notice.version}`);
        if (crashed) return;
        crashed = true;
        await arrived.promise;
        throw new Error("conflict");
      },
    }),
  });
  actor.send({ key: "a", version: 1 });
  await settle();
  actor.send({ key: "b", version: 1 });
  actor.send({ key: "a", version: 2 });
  arrived.resolve();
  await clock.advance(100);
  assert.deepEqual(handled, ["a@1", "b@1", "a@2"]);
  const outcomes = hooks.events.flatMap((event) =>
    event.kind === "actorCrashed" ? [event.inFlight] : []
  );
  assert.deepEqual(outcomes, ["absorbed"]);
  await root.stop();
});

Deno.test("backoff starts over once a restarted actor has handled a message", async () => {
  const { root, clock, hooks } = tree();
  const seen: string[] = [];
  const actor = root.spawn(flaky("f", seen, ["first", "second"]));
  actor.send("first");
  await clock.advance(100); // restart; "first" is redelivered and succeeds
  actor.send("second");
  await clock.advance(100);
  assert.deepEqual(restartDelays(hooks), [100, 100]);
  assert.deepEqual(seen, ["first", "first", "second", "second"]);
  await root.stop();
});

/** An actor whose init throws on its first `failures` starts, then runs, noting what it handles. */
function failingStarts(name: string, failures: number, handled: string[] = []): ActorSpec<string> {
  let starts = 0;
  return {
    kind: "EtcdCluster",
    name,
    init: () => {
      if (starts++ < failures) throw new Error(`${name}: start ${starts} failed`);
      return { handle: (message) => void handled.push(`${name} ${message}`) };
    },
  };
}

// Intensity 10 restarts in 60 s: the old count across children gave up on the eleventh failure of
// any children at all.
const perChildIntensity = [
  {
    case: "eleven children failing once each do not exhaust it",
    failuresByChild: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
    givenUpFor: [],
  },
  {
    case: "a child at its limit of ten does not exhaust it for its siblings",
    failuresByChild: [10, 1, 1],
    givenUpFor: [],
  },
  {
    case: "a child failing an eleventh time exhausts it",
    failuresByChild: [11, 1],
    givenUpFor: ["cluster-0"],
  },
] as const;

for (const row of perChildIntensity) {
  Deno.test(`restart intensity is counted per child: ${row.case}`, async () => {
    const { root, clock, escalations } = tree(policy(10, 60_000));
    row.failuresByChild.forEach((failures, index) =>
      root.spawn(failingStarts(`cluster-${index}`, failures))
    );
    await clock.advance(10_000);
    assert.deepEqual(escalations.map((escalation) => escalation.child.name), row.givenUpFor);
    if (row.givenUpFor.length === 0) {
      assert.deepEqual(
        root.children().map((child) => child.status),
        row.failuresByChild.map(() => "running"),
      );
    }
    await root.stop();
  });
}

Deno.test("restarts older than the intensity window do not count towards it", async () => {
  const { root, clock, escalations } = tree(policy(1, 1000));
  const seen: string[] = [];
  const actor = root.spawn(flaky("f", seen, ["one", "two"]));
  actor.send("one");
  await clock.advance(2000);
  actor.send("two");
  await clock.advance(2000);
  assert.deepEqual(escalations, []);
  assert.equal(actor.status, "running");
  await root.stop();
});

Deno.test("past the restart intensity the supervisor stops its children and escalates", async () => {
  const { root, clock, hooks, escalations } = tree(policy(2, 10_000));
  const sibling = root.spawn<string>({
    kind: "Quiet",
    name: "sibling",
    init: () => ({ handle() {} }),
  });
  const failing = root.spawn(unreachable("u", { count: 0 }, () => true));
  await clock.advance(100 + 200);
  assert.equal(escalations.length, 1);
  const [escalation] = escalations;
  assert.equal(escalation.supervisor, "root");
  assert.deepEqual(escalation.child, { kind: "Unreachable", name: "u" });
  assert.equal(escalation.reason, "childRestarts");
  assert.equal(escalation.count, 3);
  assert.match(String(escalation.error), /unreachable/);
  assert.equal(failing.status, "stopped");
  assert.equal(sibling.status, "stopped");
  assert.deepEqual(root.children(), []);
  assert.equal(root.status, "crashed");
  assert.equal(hooks.total("escalations", "root"), 1);
  assert.deepEqual(clock.pending(), []);
  await root.stop();
});

Deno.test("a nested supervisor that gives up is restarted by its parent and runs its init again", async () => {
  const { root, clock, hooks, escalations } = tree(policy(5, 10_000));
  let nestedInits = 0;
  let worker: ActorRef<string> | undefined;
  const nested = root.spawnSupervisor({
    name: "clusters",
    restart: policy(0, 10_000), // no restart allowed: the first crash makes it give up
    init: (supervisor) => {
      nestedInits++;
      worker = supervisor.spawn(flaky(`worker-${nestedInits}`, [], ["crash"]));
    },
  });
  const firstWorker = worker!;
  firstWorker.send("crash");
  await settle();
  assert.equal(nested.status, "crashed");
  assert.equal(firstWorker.status, "stopped");
  assert.deepEqual(restartDelays(hooks, "clusters"), [100]);
  await clock.advance(100);
  assert.equal(nested.status, "running");
  assert.equal(nestedInits, 2);
  assert.deepEqual(nested.children(), [{ name: "worker-2", kind: "Flaky", status: "running" }]);
  assert.deepEqual(escalations, []);
  assert.equal(hooks.total("restarts", "clusters"), 1);
  await root.stop();
});

Deno.test("a crash-looping child of a per-object supervisor rests for the intensity window while its siblings run on", async () => {
  const { root, clock, hooks, escalations } = tree();
  const clusters = root.spawnSupervisor({
    name: "clusters",
    restart: policy(2, 10_000),
    exhaustedChild: "suspend",
  });
  const handled: string[] = [];
  const broken = clusters.spawn(failingStarts("broken", 3, handled));
  const sibling = clusters.spawn(failingStarts("sibling", 0, handled));
  await clock.advance(100 + 200); // the third failure is one more than the intensity allows
  assert.equal(broken.status, "crashed");
  assert.equal(clusters.status, "running");
  assert.deepEqual(escalations, []);
  assert.equal(hooks.total("suspensions", "broken"), 1);
  const suspended = hooks.events.flatMap((event) =>
    event.kind === "childSuspended" ? [[event.actor.name, event.restarts, event.resumeInMs]] : []
  );
  assert.deepEqual(suspended, [["broken", 3, 10_000]]);
  assert.equal(sibling.send("reconcile"), true);
  assert.equal(broken.send("reconcile"), true, "a resting child's mailbox keeps what is sent");
  await clock.advance(10_000 - 1);
  assert.deepEqual(handled, ["sibling reconcile"]);
  await clock.advance(1);
  assert.equal(broken.status, "running");
  assert.deepEqual(handled, ["sibling reconcile", "broken reconcile"]);
  await root.stop();
});

// Only a child that crashes again soon after each restart (its backoff starting over) can be
// suspended: backoff alone keeps one that never starts under the production intensity, at either
// end of the jitter.
for (const random of [0, 0.999]) {
  Deno.test(`with the production policy a child that never starts is retried, never suspended (random ${random})`, async () => {
    const { root, clock, hooks } = tree(defaultRestartPolicy, undefined, () => random);
    const clusters = root.spawnSupervisor({
      name: "clusters",
      restart: defaultRestartPolicy,
      exhaustedChild: "suspend",
    });
    const attempts = { count: 0 };
    clusters.spawn(unreachable("u", attempts, () => true));
    await clock.advance(5 * 60_000);
    assert.equal(hooks.total("suspensions"), 0);
    assert.ok(attempts.count >= 15, `retried every 30 s at most (${attempts.count} attempts)`);
    await root.stop();
  });
}

Deno.test("a per-object supervisor gives up once more of its children are suspended than its intensity allows", async () => {
  const { root, clock, hooks, escalations } = tree();
  const clusters = root.spawnSupervisor({
    name: "clusters",
    restart: policy(1, 10_000),
    exhaustedChild: "suspend",
  });
  clusters.spawn(failingStarts("a", 100));
  clusters.spawn(failingStarts("b", 100));
  await clock.advance(100); // each fails a second time: a is suspended, then b is one too many
  const gaveUp = hooks.events.flatMap((event) =>
    event.kind === "supervisorGaveUp" ? [[event.supervisor, event.reason, event.count]] : []
  );
  assert.deepEqual(gaveUp, [["clusters", "childrenSuspended", 2]]);
  assert.equal(clusters.status, "crashed");
  assert.deepEqual(restartDelays(hooks, "clusters"), [100], "its parent restarts it");
  assert.deepEqual(escalations, []);
  await root.stop();
});

Deno.test("a nested supervisor's escalation reaches the root callback when its parent gives up too", async () => {
  const { root, escalations } = tree(policy(0, 10_000));
  const nested = root.spawnSupervisor({ name: "clusters", restart: policy(0, 10_000) });
  const worker = nested.spawn(flaky("worker", [], ["crash"]));
  const sibling = root.spawn<string>({
    kind: "Quiet",
    name: "sibling",
    init: () => ({ handle() {} }),
  });
  worker.send("crash");
  await settle();
  assert.equal(escalations.length, 1);
  const [escalation] = escalations;
  assert.equal(escalation.supervisor, "root");
  assert.deepEqual(escalation.child, { kind: "Supervisor", name: "clusters" });
  assert.ok(escalation.error instanceof EscalationError);
  assert.equal(escalation.error.escalation.supervisor, "clusters");
  assert.deepEqual(escalation.error.escalation.child, { kind: "Flaky", name: "worker" });
  assert.equal(worker.status, "stopped");
  assert.equal(sibling.status, "stopped");
  assert.equal(nested.status, "stopped");
  await root.stop();
});

Deno.test("shutdown stops children in reverse start order, nested supervisors included", async () => {
  const { root } = tree();
  const stops: string[] = [];
  const quiet = (name: string): ActorSpec<string> => ({
    kind: "Quiet",
    name,
    init: () => ({ handle() {}, terminate: () => void stops.push(name) }),
  });
  root.spawn(quiet("a"));
  root.spawnSupervisor({
    name: "nested",
    init: (nested) => {
      nested.spawn(quiet("n1"));
      nested.spawn(quiet("n2"));
    },
  });
  root.spawn(quiet("c"));
  await settle();
  await root.stop();
  assert.deepEqual(stops, ["c", "n2", "n1", "a"]);
  assert.equal(root.status, "stopped");
});

Deno.test("shutdown with drain lets children finish their pending messages; without drain drops them", async () => {
  for (const drain of [true, false]) {
    const { root, hooks } = tree();
    const seen: string[] = [];
    const release = Promise.withResolvers<void>();
    const actor = root.spawn<string>({
      kind: "Slow",
      name: "s",
      init: () => ({
        handle: async (message) => {
          await release.promise;
          seen.push(message);
        },
      }),
    });
    for (const message of ["in hand", "b", "c"]) actor.send(message);
    await settle();
    const stopping = root.stop({ drain });
    release.resolve();
    await stopping;
    assert.deepEqual(seen, drain ? ["in hand", "b", "c"] : ["in hand"]);
    assert.equal(hooks.total("messagesDropped", "s"), drain ? 0 : 2);
  }
});

Deno.test("a pending restart is cancelled when its child is stopped", async () => {
  const { root, clock } = tree();
  const attempts = { count: 0 };
  root.spawn(unreachable("u", attempts, () => true));
  await settle();
  assert.equal(clock.pending().length, 1);
  await root.stopChild("u");
  assert.deepEqual(clock.pending(), []);
  await clock.advance(1000);
  assert.equal(attempts.count, 1);
  await root.stop();
});

Deno.test("a crashed child stopped while waiting for its restart reports that it stopped", async () => {
  const { root, hooks } = tree();
  root.spawn(unreachable("u", { count: 0 }, () => true));
  await settle();
  await root.stopChild("u");
  const stopped = hooks.events.filter((event) => event.kind === "actorStopped");
  assert.deepEqual(stopped.map((event) => event.actor), [{ kind: "Unreachable", name: "u" }]);
  await root.stop();
});

Deno.test("a child respawned under the same name starts only after the old one has stopped", async () => {
  const { root } = tree();
  const log: string[] = [];
  const release = Promise.withResolvers<void>();
  const spec = (generation: string): ActorSpec<string> => ({
    kind: "Keyed",
    name: "EtcdCluster/ns/c",
    init: () => ({
      handle: async (message) => {
        log.push(`${generation} starts ${message}`);
        if (generation === "old") await release.promise;
        log.push(`${generation} ends ${message}`);
      },
    }),
  });
  root.spawn(spec("old")).send("m1");
  await settle();
  const stopping = root.stopChild("EtcdCluster/ns/c");
  const fresh = root.spawn(spec("new"));
  fresh.send("m2");
  await settle();
  assert.equal(fresh.status, "new");
  release.resolve();
  await stopping;
  await settle();
  assert.deepEqual(log, ["old starts m1", "old ends m1", "new starts m2", "new ends m2"]);
  await root.stop();
});

Deno.test("a supervisor that has shut down hands out actors that refuse messages", async () => {
  const { root } = tree();
  await root.stop();
  const late = root.spawn(flaky("late", [], []));
  assert.equal(late.send("hello"), false);
  assert.deepEqual(root.children(), []);
});

Deno.test("spawning two children with the same name is refused", async () => {
  const { root } = tree();
  root.spawn(flaky("twin", [], []));
  assert.throws(() => root.spawn(flaky("twin", [], [])), /already has a child named twin/);
  await root.stop();
});
