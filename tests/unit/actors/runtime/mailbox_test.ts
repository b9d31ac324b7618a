// The mailbox: FIFO order, key coalescing, redelivery at the front, close and drain.
import assert from "node:assert/strict";
import { type Delivery, Mailbox } from "../../../../actors/runtime/mailbox.ts";

type Notice = { readonly key: string; readonly note: string } | { readonly key: undefined };

const coalescing = () => new Mailbox<Notice>({ kind: "coalesce", keyOf: (notice) => notice.key });

async function takeAll<M>(mailbox: Mailbox<M>): Promise<M[]> {
  const messages: M[] = [];
  while (mailbox.size > 0) {
    const delivery = await mailbox.take();
    if (delivery.kind === "message") messages.push(delivery.message);
  }
  return messages;
}

Deno.test("messages come out in the order they were sent", async () => {
  const mailbox = new Mailbox<number>();
  for (let message = 0; message < 5000; message++) assert.equal(mailbox.send(message), true);
  assert.equal(mailbox.size, 5000);
  assert.deepEqual(await takeAll(mailbox), Array.from({ length: 5000 }, (_, index) => index));
});

Deno.test("a fifo mailbox keeps duplicates", async () => {
  const mailbox = new Mailbox<string>();
  mailbox.send("a");
  mailbox.send("a");
  assert.deepEqual(await takeAll(mailbox), ["a", "a"]);
});

Deno.test("pending notices for one key collapse into one at the first position with the latest content", async () => {
  const mailbox = coalescing();
  mailbox.send({ key: "a", note: "1" });
  mailbox.send({ key: "b", note: "1" });
  mailbox.send({ key: "a", note: "2" });
  mailbox.send({ key: "c", note: "1" });
  mailbox.send({ key: "b", note: "2" });
  assert.equal(mailbox.size, 3);
  assert.deepEqual(await takeAll(mailbox), [
    { key: "a", note: "2" },
    { key: "b", note: "2" },
    { key: "c", note: "1" },
  ]);
});

Deno.test("messages without a key are never coalesced", async () => {
  const mailbox = coalescing();
  mailbox.send({ key: undefined });
  mailbox.send({ key: undefined });
  assert.equal(mailbox.size, 2);
  assert.equal((await takeAll(mailbox)).length, 2);
});

Deno.test("a notice for a key that is in flight queues again instead of merging", async () => {
  const mailbox = coalescing();
  mailbox.send({ key: "a", note: "1" });
  await mailbox.take();
  mailbox.send({ key: "a", note: "2" });
  assert.equal(mailbox.size, 1);
});

Deno.test("a waiting take is answered by the next send", async () => {
  const mailbox = new Mailbox<string>();
  const waiting = mailbox.take();
  mailbox.send("hello");
  assert.deepEqual(await waiting, { kind: "message", message: "hello", redelivered: false });
  assert.equal(mailbox.size, 0);
});

Deno.test("a put-back message comes first and is marked as redelivered", async () => {
  const mailbox = new Mailbox<string>();
  mailbox.send("second");
  assert.equal(mailbox.putBack("first"), "requeued");
  const deliveries: Delivery<string>[] = [await mailbox.take(), await mailbox.take()];
  assert.deepEqual(deliveries, [
    { kind: "message", message: "first", redelivered: true },
    { kind: "message", message: "second", redelivered: false },
  ]);
});

Deno.test("a put-back message is absorbed by a pending notice for the same key", async () => {
  const mailbox = coalescing();
  mailbox.send({ key: "b", note: "1" });
  mailbox.send({ key: "a", note: "newer" });
  assert.equal(mailbox.putBack({ key: "a", note: "older" }), "absorbed");
  assert.deepEqual(await takeAll(mailbox), [{ key: "b", note: "1" }, { key: "a", note: "newer" }]);
});

Deno.test("a new notice refreshes a put-back one so it is no longer marked as redelivered", async () => {
  const mailbox = coalescing();
  mailbox.putBack({ key: "a", note: "old" });
  mailbox.send({ key: "a", note: "new" });
  assert.deepEqual(await mailbox.take(), {
    kind: "message",
    message: { key: "a", note: "new" },
    redelivered: false,
  });
});

Deno.test("a closed mailbox refuses sends but still drains what is pending, then reports closed", async () => {
  const mailbox = new Mailbox<string>();
  mailbox.send("pending");
  mailbox.close();
  assert.equal(mailbox.send("late"), false);
  assert.equal(mailbox.putBack("late"), "rejected");
  assert.equal(mailbox.closed, true);
  assert.deepEqual(await mailbox.take(), {
    kind: "message",
    message: "pending",
    redelivered: false,
  });
  assert.deepEqual(await mailbox.take(), { kind: "closed" });
});

Deno.test("closing wakes a waiting take with closed", async () => {
  const mailbox = new Mailbox<string>();
  const waiting = mailbox.take();
  mailbox.close();
  assert.deepEqual(await waiting, { kind: "closed" });
});

Deno.test("clear removes and returns every pending message, oldest first", async () => {
  const mailbox = coalescing();
  mailbox.send({ key: "a", note: "1" });
  mailbox.send({ key: "b", note: "1" });
  assert.deepEqual(mailbox.clear(), [{ key: "a", note: "1" }, { key: "b", note: "1" }]);
  assert.equal(mailbox.size, 0);
  mailbox.send({ key: "a", note: "2" });
  assert.equal(mailbox.size, 1, "cleared keys no longer coalesce");
  mailbox.close();
  mailbox.clear();
  assert.deepEqual(await mailbox.take(), { kind: "closed" });
});
