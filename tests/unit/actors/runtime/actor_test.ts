// The actor loop on its own: ordering, one message at a time, timers, stop, crash reporting.
import assert from "node:assert/strict";
import {
  Actor,
  type ActorContext,
  type ActorSpec,
  type Behavior,
  type TerminateReason,
} from "../../../../actors/runtime/actor.ts";
import type { ParentLink, SupervisedChild } from "../../../../actors/runtime/child.ts";
import { type Clock, systemClock } from "../../../../actors/runtime/clock.ts";
import { manualClock, recordingHooks, settle } from "../../../../actors/runtime/testing.ts";

interface Harness {
  readonly failures: unknown[];
  readonly hooks: ReturnType<typeof recordingHooks>;
  spawn<M>(spec: ActorSpec<M>): Actor<M>;
}

function harness(clock: Clock = manualClock()): Harness {
  const failures: unknown[] = [];
  const hooks = recordingHooks();
  const parent: ParentLink = {
    failed: (_child: SupervisedChild, error) => void failures.push(error),
    healthy: () => {},
  };
  return {
    failures,
    hooks,
    spawn: (spec) => {
      const actor = new Actor(spec, { clock, hooks, parent });
      actor.start();
      return actor;
    },
  };
}

function recorder<M>(seen: M[], extra: Partial<Behavior<M>> = {}): () => Behavior<M> {
  return () => ({ handle: (message) => void seen.push(message), ...extra });
}

Deno.test("an actor handles messages in the order they were sent", async () => {
  const seen: number[] = [];
  const actor = harness().spawn({ kind: "Test", name: "t", init: recorder(seen) });
  for (let message = 0; message < 100; message++) actor.send(message);
  await actor.stop({ drain: true });
  assert.deepEqual(seen, Array.from({ length: 100 }, (_, index) => index));
});

Deno.test("an actor never handles two messages at once, even when handling awaits", async () => {
  let active = 0;
  let mostActive = 0;
  const seen: string[] = [];
  const actor = harness().spawn<string>({
    kind: "Test",
    name: "t",
    init: () => ({
      handle: async (message) => {
        active++;
        mostActive = Math.max(mostActive, active);
        await settle();
        seen.push(message);
        active--;
      },
    }),
  });
  for (const message of ["a", "b", "c", "d"]) actor.send(message);
  await actor.stop({ drain: true });
  assert.equal(mostActive, 1);
  assert.deepEqual(seen, ["a", "b", "c", "d"]);
});

Deno.test("a handler learns of messages that arrive while it waits, until it stops listening", async () => {
  const heard: string[] = [];
  const { promise: released, resolve: release } = Promise.withResolvers<void>();
  const actor = harness().spawn<string>({
    kind: "Test",
    name: "t",
    init: (context) => ({
      handle: async (message) => {
        if (message !== "slow") return;
        const stop = context.onMessage(() => void heard.push("news"));
        await released;
        stop();
      },
    }),
  });
  actor.send("slow");
  await settle();
  actor.send("a");
  actor.send("b");
  release();
  await settle();
  actor.send("c"); // after the handler stopped listening
  await actor.stop({ drain: true });
  assert.deepEqual(heard, ["news", "news"]);
});

Deno.test("a message scheduled for later arrives after its delay and not before", async () => {
  const clock = manualClock();
  const seen: string[] = [];
  const actor = harness(clock).spawn<string>({
    kind: "Test",
    name: "t",
    init: (context) => {
      context.scheduleSelf("requeue", 250);
      return { handle: (message) => void seen.push(message) };
    },
  });
  await clock.advance(249);
  assert.deepEqual(seen, []);
  await clock.advance(1);
  assert.deepEqual(seen, ["requeue"]);
  await actor.stop();
});

Deno.test("a cancelled scheduled message never arrives", async () => {
  const clock = manualClock();
  const seen: string[] = [];
  const actor = harness(clock).spawn<string>({
    kind: "Test",
    name: "t",
    init: (context) => {
      const cancel = context.scheduleSelf("requeue", 100);
      cancel();
      return { handle: (message) => void seen.push(message) };
    },
  });
  await clock.advance(1000);
  assert.deepEqual(seen, []);
  assert.deepEqual(clock.pending(), []);
  await actor.stop();
});

Deno.test("stop clears the actor's real timers so none outlives it", async () => {
  let context: ActorContext<string> | undefined;
  const seen: string[] = [];
  const actor = harness(systemClock).spawn<string>({
    kind: "Test",
    name: "t",
    init: (given) => {
      context = given;
      given.scheduleSelf("in a minute", 60_000);
      given.scheduleSelf("in an hour", 3_600_000);
      return { handle: (message) => void seen.push(message) };
    },
  });
  await settle();
  await actor.stop();
  // The test sanitizers fail this test if either timer is still pending here.
  assert.deepEqual(seen, []);
  context?.scheduleSelf("after stop", 1);
  assert.equal(context?.self("after stop"), false);
});

Deno.test("stop lets the message in hand finish before it resolves", async () => {
  const release = Promise.withResolvers<void>();
  const seen: string[] = [];
  const actor = harness().spawn<string>({
    kind: "Test",
    name: "t",
    init: () => ({
      handle: async (message) => {
        await release.promise;
        seen.push(message);
      },
    }),
  });
  actor.send("in hand");
  await settle();
  let stopped = false;
  const stopping = actor.stop().then(() => stopped = true);
  await settle();
  assert.equal(stopped, false);
  assert.equal(actor.status, "stopping");
  release.resolve();
  await stopping;
  assert.deepEqual(seen, ["in hand"]);
  assert.equal(actor.status, "stopped");
});

Deno.test("stop with drain handles every pending message first", async () => {
  const seen: string[] = [];
  const actor = harness().spawn<string>({ kind: "Test", name: "t", init: recorder(seen) });
  actor.send("a");
  actor.send("b");
  await actor.stop({ drain: true });
  assert.deepEqual(seen, ["a", "b"]);
});

Deno.test("stop without drain drops pending messages and counts them", async () => {
  const release = Promise.withResolvers<void>();
  const seen: string[] = [];
  const { spawn, hooks } = harness();
  const actor = spawn<string>({
    kind: "Test",
    name: "t",
    init: () => ({
      handle: async (message) => {
        await release.promise;
        seen.push(message);
      },
    }),
  });
  for (const message of ["a", "b", "c"]) actor.send(message);
  await settle();
  const stopping = actor.stop({ drain: false });
  release.resolve();
  await stopping;
  assert.deepEqual(seen, ["a"]);
  assert.equal(hooks.total("messagesDropped", "t"), 2);
});

Deno.test("a stopped actor reports once that it has stopped, after its last mailbox depth", async () => {
  const heard: string[] = [];
  const parent: ParentLink = { failed: () => {}, healthy: () => {} };
  const actor = new Actor<string>({ kind: "Test", name: "t", init: recorder([]) }, {
    clock: manualClock(),
    hooks: {
      count: () => {},
      gauge: (_gauge, labels, value) => void heard.push(`${labels.name} depth ${value}`),
      event: (event) => void heard.push(event.kind),
    },
    parent,
  });
  actor.start();
  actor.send("a");
  await actor.stop({ drain: true });
  await actor.stop();
  assert.equal(heard.at(-1), "actorStopped");
  assert.equal(heard.filter((entry) => entry === "actorStopped").length, 1);
});

Deno.test("a stopped actor refuses messages", async () => {
  const actor = harness().spawn<string>({ kind: "Test", name: "t", init: recorder([]) });
  await actor.stop();
  assert.equal(actor.send("late"), false);
});

Deno.test("a crash is reported to the parent and puts the message in hand back at the front", async () => {
  const { spawn, failures, hooks } = harness();
  const boom = new Error("boom");
  const actor = spawn<string>({
    kind: "Test",
    name: "t",
    init: () => ({
      handle: (message) => {
        if (message === "bad") throw boom;
      },
    }),
  });
  actor.send("bad");
  actor.send("next");
  await settle();
  assert.deepEqual(failures, [boom]);
  assert.equal(actor.status, "crashed");
  assert.equal(actor.pending, 2);
  assert.equal(hooks.total("failures", "t"), 1);
  assert.deepEqual(hooks.events.map((event) => event.kind), ["actorCrashed"]);
  assert.equal(hooks.events[0].kind === "actorCrashed" && hooks.events[0].inFlight, "redelivered");
  await actor.stop();
});

Deno.test("a failing init is reported as a crash", async () => {
  const { spawn, failures } = harness();
  const actor = spawn<string>({
    kind: "Test",
    name: "t",
    init: () => {
      throw new Error("cannot read the world");
    },
  });
  await settle();
  assert.equal(actor.status, "crashed");
  assert.equal(failures.length, 1);
  await actor.stop();
});

Deno.test("terminate runs with the reason, after a crash and after a stop", async () => {
  const reasons: TerminateReason["kind"][] = [];
  const { spawn } = harness();
  const actor = spawn<string>({
    kind: "Test",
    name: "t",
    init: () => ({
      handle: (message) => {
        if (message === "bad") throw new Error("boom");
      },
      terminate: (reason) => void reasons.push(reason.kind),
    }),
  });
  actor.send("bad");
  await settle();
  actor.start(); // what a supervisor does after the backoff: "bad" is redelivered, crashes again
  await settle();
  actor.start(); // now "bad" has been dropped as a poison message
  await settle();
  await actor.stop();
  assert.deepEqual(reasons, ["crashed", "crashed", "stopped"]);
});

Deno.test("an actor reports messages processed and its mailbox depth", async () => {
  const { spawn, hooks } = harness();
  const gate = Promise.withResolvers<void>();
  const actor = spawn<string>({
    kind: "Test",
    name: "t",
    init: async () => {
      await gate.promise;
      return { handle: () => {} };
    },
  });
  actor.send("a");
  actor.send("b");
  assert.equal(hooks.last("mailboxDepth", "t"), 2);
  gate.resolve();
  await actor.stop({ drain: true });
  assert.equal(hooks.total("messagesProcessed", "t"), 2);
  assert.equal(hooks.last("mailboxDepth", "t"), 0);
});
