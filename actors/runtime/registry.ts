// Actors by key (e.g. "ns/name") under one supervisor: the watch layer's router.
//
// The key is also the actor's name under the supervisor. An entry whose actor has stopped behind
// our back (its supervisor gave up) is replaced on the next `getOrSpawn`, so routing heals itself.
//
// `spawnRegistry` also builds that supervisor, and keeps OTP's promise that a restarted subtree
// restarts its children: whenever the supervisor (re)starts, an actor comes back, woken, for every
// key whose object still exists, instead of waiting for the key's next watch event or the resync.
import type { ActorContext, ActorRef, ActorSpec, Behavior } from "./actor.ts";
import type { RestartPolicy } from "./backoff.ts";
import type { StopOptions } from "./child.ts";
import type { Supervisor } from "./supervisor.ts";

/** An actor spec minus its name, which the registry sets to the key. */
export type ActorTemplate<M> = Omit<ActorSpec<M>, "name">;

/** What a registry needs to bring every key's actor back by itself. */
export interface KeyedChildren<M> {
  /** The keys that should have a live actor now: the objects in a watch's store. */
  readonly keys: () => readonly string[];
  /** "Your key may have changed", as a watch event says it: a level-based actor reconciles on it. */
  readonly wake: M;
}

export interface RegistrySpec<M> extends KeyedChildren<M> {
  /** The supervisor's name: "clusters". */
  readonly name: string;
  readonly restart?: RestartPolicy;
  readonly template: (key: string) => ActorTemplate<M>;
}

/**
 * A nested supervisor of one actor per key, and the registry that routes to them. A crash-looping
 * actor is suspended rather than taking its siblings down (see the supervisor's `#suspend`).
 */
export function spawnRegistry<M>(parent: Supervisor, spec: RegistrySpec<M>): Registry<M> {
  // The supervisor's init needs the registry and the registry needs the supervisor: on the first
  // start, inside spawnSupervisor, there is no registry yet, and the respawn below stands in.
  let registry: Registry<M> | undefined = undefined;
  const supervisor = parent.spawnSupervisor({
    name: spec.name,
    restart: spec.restart,
    exhaustedChild: "suspend",
    init: () => registry?.respawn(),
  });
  registry = new Registry(supervisor, spec.template, spec);
  registry.respawn();
  return registry;
}

export class Registry<M> {
  readonly #supervisor: Supervisor;
  readonly #templateFor: (key: string) => ActorTemplate<M>;
  readonly #keyed: KeyedChildren<M> | undefined;
  readonly #actors = new Map<string, ActorRef<M>>();

  constructor(
    supervisor: Supervisor,
    templateFor: (key: string) => ActorTemplate<M>,
    keyed?: KeyedChildren<M>,
  ) {
    this.#supervisor = supervisor;
    this.#templateFor = templateFor;
    this.#keyed = keyed;
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
    const template = this.#templateFor(key);
    const init = this.#keyed ? wakeOnRestart(template.init, this.#keyed.wake) : template.init;
    const actor = this.#supervisor.spawn({ ...template, init, name: key });
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

  /** Makes sure every key that should have an actor has one, and wakes it. */
  respawn(): void {
    if (!this.#keyed) return;
    for (const key of this.#keyed.keys()) this.getOrSpawn(key).send(this.#keyed.wake);
  }

  keys(): readonly string[] {
    return this.list().map((actor) => actor.name);
  }

  list(): readonly ActorRef<M>[] {
    return [...this.#actors.keys()].flatMap((key) => this.get(key) ?? []);
  }
}

/**
 * Every incarnation after the first starts with `wake` in its mailbox (in a coalescing mailbox it
 * merges with the redelivered notice). The notice an actor crashed on is redelivered once and then
 * dropped as poison; without a wake the restarted actor would sit idle until its key's next event,
 * its object unmanaged. Reconciling once more is always safe for a level-based actor, and a pass
 * that keeps crashing is retried with backoff and costs only its own key's restarts.
 */
function wakeOnRestart<M>(init: ActorSpec<M>["init"], wake: M): ActorSpec<M>["init"] {
  let incarnations = 0;
  return (context: ActorContext<M>): Behavior<M> | Promise<Behavior<M>> => {
    if (incarnations++ > 0) context.self(wake);
    return init(context);
  };
}

function isGone(actor: ActorRef<unknown>): boolean {
  return actor.status === "stopping" || actor.status === "stopped";
}
