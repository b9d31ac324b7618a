// Deterministic crash points for fault tests. `ETCD_OPERATOR_FAILPOINTS="after:addLearner,…"`
// makes the operator exit at once (as a SIGKILL would leave it) at the named point, so a test can
// show that every operation resumes from each of its steps. Unset in production: no point fires.

/** The exit code a fired failpoint leaves, so a test can tell it from a crash. */
export const failpointExitCode = 86;

/** Points: `after:<step kind>` once a step succeeded; `deletePeer:afterVolume` inside deletePeer. */
export type Failpoint = (point: string) => void;

export function parseFailpoints(text: string | undefined): ReadonlySet<string> {
  return new Set((text ?? "").split(",").map((point) => point.trim()).filter(Boolean));
}

/** A Failpoint that exits when an armed point is reached; undefined when none is armed. */
export function exitingFailpoint(
  armed: ReadonlySet<string>,
  onFire: (point: string) => void,
): Failpoint | undefined {
  if (armed.size === 0) return undefined;
  return (point) => {
    if (!armed.has(point)) return;
    onFire(point);
    Deno.exit(failpointExitCode);
  };
}
