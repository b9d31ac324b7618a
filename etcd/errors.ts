// etcd failures as values: a kind the operator can act on, classified from etcd3's error messages.

/**
 * - `unreachable`: no answer (refused, timed out, closed); try later or another member.
 * - `notLeader`: the call needs the leader and this member is not (or no longer) it.
 * - `learnerNotReady`: promote came before the learner caught up with the leader.
 * - `memberNotFound`: no member has that id.
 * - `tooManyLearners`: etcd allows one learner at a time; promote or remove it first.
 * - `unhealthy`: reachable, but the cluster cannot take a change now (quorum, alarms, no leader).
 * - `other`: anything else; the message says what.
 */
export type EtcdErrorKind =
  | "unreachable"
  | "notLeader"
  | "learnerNotReady"
  | "memberNotFound"
  | "tooManyLearners"
  | "unhealthy"
  | "other";

export interface EtcdFailure {
  readonly kind: EtcdErrorKind;
  readonly message: string;
}

export type EtcdResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: EtcdFailure };

export function success<T>(value: T): EtcdResult<T> {
  return { ok: true, value };
}

export function failure<T>(kind: EtcdErrorKind, message: string): EtcdResult<T> {
  return { ok: false, error: { kind, message } };
}

/**
 * First match wins, so specific etcd messages come before the generic gRPC codes they travel
 * with (etcd sends "request timed out" and "rpc not supported for learner" as UNAVAILABLE too).
 */
const rules: readonly (readonly [RegExp, EtcdErrorKind])[] = [
  [/can only promote a learner member which is in sync with leader/, "learnerNotReady"],
  [/etcdserver: member not found/, "memberNotFound"],
  [/etcdserver: too many learner members/, "tooManyLearners"],
  [/etcdserver: (not leader|leader changed)/, "notLeader"],
  [
    /etcdserver: (unhealthy cluster|no leader|re-configuration failed|request timed out|mvcc: database space exceeded|corrupt cluster)/,
    "unhealthy",
  ],
  [/etcdserver: (server stopped|context deadline exceeded)/, "unreachable"],
  [/etcdserver: /, "other"],
  [/^(14 UNAVAILABLE|4 DEADLINE_EXCEEDED)\b/, "unreachable"],
  [/ECONNREFUSED|ECONNRESET|EHOSTUNREACH|circuit breaker is open/, "unreachable"],
];

/** The kind of an etcd error message, e.g. "9 FAILED_PRECONDITION: etcdserver: not leader". */
export function classifyMessage(message: string): EtcdErrorKind {
  return rules.find(([pattern]) => pattern.test(message))?.[1] ?? "other";
}

/** Anything a call threw, as a failure value; our own deadlines (TimeoutError) are unreachable. */
export function classifyError(error: unknown): EtcdFailure {
  if (error instanceof DOMException && error.name === "TimeoutError") {
    return { kind: "unreachable", message: error.message };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { kind: classifyMessage(message), message };
}

/** Told of every named call: its method, "ok" or the failure's kind, and how long it took. */
export type EtcdCallObserver = (
  method: string,
  outcome: "ok" | EtcdErrorKind,
  seconds: number,
) => void;

let onCall: EtcdCallObserver = () => {};

/** Where the outcome of every named call goes (the operator's metrics); one observer at a time. */
export function observeEtcdCalls(observer: EtcdCallObserver): void {
  onCall = observer;
}

/**
 * Runs one etcd call and turns what it throws into a failure value. A `method` name ("status",
 * "memberAdd") counts the call for the metrics.
 */
export async function attempt<T>(call: () => Promise<T>, method?: string): Promise<EtcdResult<T>> {
  const started = performance.now();
  let result: EtcdResult<T>;
  try {
    result = success(await call());
  } catch (error) {
    result = { ok: false, error: classifyError(error) };
  }
  if (method) {
    onCall(method, result.ok ? "ok" : result.error.kind, (performance.now() - started) / 1000);
  }
  return result;
}

/** Kinds that go away by themselves: retry with backoff rather than report and wait for a change. */
export function isTransient(kind: EtcdErrorKind): boolean {
  return kind !== "memberNotFound" && kind !== "other";
}
