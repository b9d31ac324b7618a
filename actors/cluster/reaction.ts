// Times a cluster actor's reaction to a spec change, phase by phase, once per generation.
//
// The clock starts when the watch cache first held the new generation (k8s/store.ts), so the
// "started" phase is the time the change waited in the mailbox behind earlier passes, "writing"
// is when the acknowledging status write was sent (all of the operator's own part), and
// "acknowledged" adds that write's round trip to the API server. "observed" shows whether etcd
// stood in the way.

export type ReactionPhase = "started" | "observed" | "writing" | "acknowledged";

export type ReactionReport = (phase: ReactionPhase, seconds: number) => void;

export class ReactionTimes {
  readonly #report: ReactionReport;
  readonly #now: () => number;
  /** The generation being reacted to, when it arrived, and the phases reported for it. */
  #current:
    | { readonly generation: number; readonly arrivedAt: number; readonly reported: Set<string> }
    | undefined;

  constructor(report: ReactionReport, now: () => number = () => performance.now()) {
    this.#report = report;
    this.#now = now;
  }

  /**
   * A pass begins on `generation`, which the cache has held since `arrivedAt`. Nothing is timed
   * when the status already acknowledges it (a periodic pass) or its arrival is unknown.
   */
  passStarted(
    generation: number,
    observedGeneration: unknown,
    arrivedAt: number | undefined,
  ): void {
    if (generation === observedGeneration || arrivedAt === undefined) {
      this.#current = undefined;
      return;
    }
    if (this.#current?.generation !== generation) {
      this.#current = { generation, arrivedAt, reported: new Set() };
    }
    this.reached("started");
  }

  /** Reports `phase` of the generation under way, if not reported already. */
  reached(phase: ReactionPhase): void {
    const current = this.#current;
    if (!current || current.reported.has(phase)) return;
    current.reported.add(phase);
    this.#report(phase, Math.max(0, this.#now() - current.arrivedAt) / 1000);
  }

  /** A status write succeeded with this observedGeneration. */
  written(observedGeneration: unknown): void {
    if (observedGeneration === this.#current?.generation) this.reached("acknowledged");
  }
}
