// The contract between a supervisor and what it supervises: actors and nested supervisors alike.
import type { ActorLabels } from "./hooks.ts";

export interface StopOptions {
  /** Handle the messages already pending before stopping (true) or drop them (false). */
  readonly drain: boolean;
}

/** "crashed": failed (an actor) or gave up (a supervisor), and waits for its parent to restart it. */
export type ChildStatus = "new" | "running" | "crashed" | "stopping" | "stopped";

export interface SupervisedChild {
  readonly labels: ActorLabels;
  readonly status: ChildStatus;
  /** First start, and every restart after "crashed"; a no-op in any other status. */
  start(): void;
  /** Resolves when the child has stopped; never rejects. */
  stop(options: StopOptions): Promise<void>;
}

/** How a child reports to its parent; the parent decides about restarts. */
export interface ParentLink {
  failed(child: SupervisedChild, error: unknown): void;
  /** The child did useful work after starting, so its restart backoff can start over. */
  healthy(child: SupervisedChild): void;
}
