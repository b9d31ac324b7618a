// Actors by key (e.g. "EtcdCluster/ns/name") under one supervisor: the watch layer's router.
//
// The key is also the actor's name under the supervisor. An entry whose actor has stopped behind
// our back (its supervisor gave up) is replaced on the next `getOrSpawn`, so routing heals itself.
import type { ActorRef, ActorSpec } from "./actor.ts";
import type { StopOptions } from "./child.ts";
import type { Supervisor } from "./supervisor.ts";

/** An actor spec minus its name, which the registry sets to the key. */
export type ActorTemplate<M> = Omit<ActorSpec<M>, "name">;

export class Registry<M> {
  readonly #supervisor: Supervisor;
  readonly #templateFor: (key: string) => ActorTemplate<M>;
  readonly #actors = new Map<string, ActorRef<M>>();

  constructor(supervisor: Supervisor, templateFor: (key: string) => ActorTemplate<M>) {
    this.#supervisor = supervisor;
    this.#templateFor = templateFor;
  }

  /** The live actor for `key`, if any. */
  get(key: string): ActorRef<M> | undefined {
    const actor = this.#actors.get(key);
    if (actor && isGone(actor)) {
      this.#actors.delete(key);
      return undefined;
    }
    return actor;
  }

  getOrSpawn(key: string): ActorRef<M> {
    const existing = this.get(key);
    if (existing) return existing;
    const actor = this.#supervisor.spawn({ ...this.#templateFor(key), name: key });
    this.#actors.set(key, actor);
    return actor;
  }

  /** Routes a message to the owning actor, spawning it if needed; never blocks. */
  send(key: string, message: M): boolean {
    return this.getOrSpawn(key).send(message);
  }

  /** Stops the actor for `key` and forgets it; a later `getOrSpawn` starts a fresh one. */
  stop(key: string, options: StopOptions = { drain: false }): Promise<void> {
    this.#actors.delete(key);
    return this.#supervisor.stopChild(key, options);
  }

  keys(): readonly string[] {
    return this.list().map((actor) => actor.name);
  }

  list(): readonly ActorRef<M>[] {
    return [...this.#actors.keys()].flatMap((key) => this.get(key) ?? []);
  }
}

function isGone(actor: ActorRef<unknown>): boolean {
  return actor.status === "stopping" || actor.status === "stopped";
}
