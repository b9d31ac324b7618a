// An unbounded FIFO mailbox; in "coalesce" mode pending messages for the same key collapse into one.
//
// Coalescing is what makes an actor level-based (as in controller-runtime's work queue): its input
// is "something about key K changed", so ten pending notices about K are worth exactly one. The
// merged message keeps the position of the first notice and the content of the latest. A message
// already taken (in flight) is no longer pending, so a new notice for its key queues again.

export type MailboxMode<M> =
  | { readonly kind: "fifo" }
  | {
    readonly kind: "coalesce";
    /** `undefined` means "never merge this message" (e.g. a one-off command). */
    readonly keyOf: (message: M) => string | undefined;
  };

export type Delivery<M> =
  | { readonly kind: "message"; readonly message: M; readonly redelivered: boolean }
  | { readonly kind: "closed" };

/** What `putBack` did: queued at the front, merged into a pending message, or refused (closed). */
export type PutBackOutcome = "requeued" | "absorbed" | "rejected";

interface Slot<M> {
  message: M;
  redelivered: boolean;
  readonly key: string | undefined;
}

const closedDelivery: Delivery<never> = { kind: "closed" };
// Reclaim the consumed prefix of the array only when it is large, to keep `take` O(1) amortised.
const compactAfter = 1024;

export class Mailbox<M> {
  readonly #keyOf: (message: M) => string | undefined;
  #slots: Slot<M>[] = [];
  #head = 0;
  readonly #pendingByKey = new Map<string, Slot<M>>();
  readonly #waiters: ((delivery: Delivery<M>) => void)[] = [];
  #closed = false;

  constructor(mode: MailboxMode<M> = { kind: "fifo" }) {
    this.#keyOf = mode.kind === "coalesce" ? mode.keyOf : () => undefined;
  }

  get size(): number {
    return this.#slots.length - this.#head;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Never blocks; false once the mailbox is closed. */
  send(message: M): boolean {
    if (this.#closed) return false;
    const key = this.#keyOf(message);
    const pending = key === undefined ? undefined : this.#pendingByKey.get(key);
    if (pending) {
      pending.message = message;
      pending.redelivered = false; // fresh news about the key deserves a full attempt
      return true;
    }
    this.#enqueue({ message, redelivered: false, key }, "back");
    return true;
  }

  /**
   * Returns a message that was taken but not handled to the front, marked as redelivered. If a
   * notice for the same key is already pending, that newer notice stands in for it.
   */
  putBack(message: M): PutBackOutcome {
    if (this.#closed) return "rejected";
    const key = this.#keyOf(message);
    if (key !== undefined && this.#pendingByKey.has(key)) return "absorbed";
    this.#enqueue({ message, redelivered: true, key }, "front");
    return "requeued";
  }

  /** The next message, waiting if there is none; "closed" once closed and empty. */
  take(): Promise<Delivery<M>> {
    const slot = this.#dequeue();
    if (slot) return Promise.resolve(deliveryOf(slot));
    if (this.#closed) return Promise.resolve(closedDelivery);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Refuses new messages; pending ones can still be taken (drained). */
  close(): void {
    this.#closed = true;
    this.#settleWaiters();
  }

  /** Removes and returns every pending message, oldest first. */
  clear(): readonly M[] {
    const messages = this.#slots.slice(this.#head).map((slot) => slot.message);
    this.#slots = [];
    this.#head = 0;
    this.#pendingByKey.clear();
    this.#settleWaiters();
    return messages;
  }

  #enqueue(slot: Slot<M>, end: "front" | "back"): void {
    if (end === "back") this.#slots.push(slot);
    else if (this.#head > 0) this.#slots[--this.#head] = slot;
    else this.#slots.unshift(slot);
    if (slot.key !== undefined) this.#pendingByKey.set(slot.key, slot);
    this.#settleWaiters();
  }

  #dequeue(): Slot<M> | undefined {
    if (this.size === 0) return undefined;
    const slot = this.#slots[this.#head++];
    if (slot.key !== undefined) this.#pendingByKey.delete(slot.key);
    if (this.#head >= compactAfter && this.#head * 2 >= this.#slots.length) {
      this.#slots = this.#slots.slice(this.#head);
      this.#head = 0;
    }
    return slot;
  }

  #settleWaiters(): void {
    while (this.#waiters.length > 0) {
      const slot = this.#dequeue();
      if (!slot && !this.#closed) return;
      const waiter = this.#waiters.shift()!;
      waiter(slot ? deliveryOf(slot) : closedDelivery);
    }
  }
}

function deliveryOf<M>(slot: Slot<M>): Delivery<M> {
  return { kind: "message", message: slot.message, redelivered: slot.redelivered };
}
