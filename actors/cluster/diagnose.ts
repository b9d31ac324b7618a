// Why a member is not serving, and whether it can come back by itself. Pure.
//
// A member that cannot come back (its data is gone, etcd refuses to start on what it has, its pod
// has nowhere to run) is replaced; any other unhealthy member is waited for, with the reason its
// pod gives, so the conditions say what an administrator would otherwise dig out of kubectl.
import type { VolumeState } from "../member.ts";
import type { NodeState } from "../node_health.ts";

/** What the cluster actor sees of a member's pod. */
export interface PodView {
  readonly phase: string;
  readonly terminating: boolean;
  /** The node it is bound to, if the cache knows it. */
  readonly node?: NodeState;
  /** PodScheduled=False: the scheduler's message and since when. */
  readonly unschedulable?: { readonly message: string; readonly sinceMs: number };
  /** The etcd container; undefined before the kubelet reports it. */
  readonly etcd?: {
    readonly running: boolean;
    readonly restarts: number;
    readonly waiting?: { readonly reason: string; readonly message: string };
    /** How it last exited (the current state if it is terminated, else the last one). */
    readonly lastExit?: {
      readonly exitCode: number;
      readonly reason: string;
      readonly log: string;
    };
  };
}

export interface MemberFacts {
  readonly name: string;
  readonly volume: VolumeState;
  readonly pod: PodView | undefined;
}

export type Diagnosis =
  /** Nothing in Kubernetes explains a problem (etcd's own health decides). */
  | { readonly kind: "fine" }
  /**
   * Not serving, and may come back by itself: wait, saying why. `lostAtMs`: when it counts as
   * lost if nothing changes (a grace period that ends by time alone, with no event to say so).
   */
  | { readonly kind: "impaired"; readonly reason: string; readonly lostAtMs?: number }
  /** Cannot come back by itself: replace it. */
  | { readonly kind: "lost"; readonly reason: string };

/**
 * Lines etcd logs when it exits because its data does not fit the cluster any more. None of them
 * heals by restarting: the member must be removed and added again on an empty volume.
 */
const fatalStarts: readonly { readonly pattern: RegExp; readonly meaning: string }[] = [
  {
    pattern: /has already been bootstrapped/,
    meaning: "it starts as a new member, but the cluster knows it already (its data was lost)",
  },
  {
    pattern: /Was the raft log corrupted, truncated, or lost\?/,
    meaning: "its raft log is behind what it had acknowledged (its data was lost)",
  },
  {
    pattern: /permanently removed from the cluster|data-dir used by this member must be removed/,
    meaning: "the cluster removed it, but its volume still holds its old data",
  },
  { pattern: /member count is unequal/, meaning: "its data belongs to another membership" },
  { pattern: /cluster ID mismatch/, meaning: "its data belongs to another cluster" },
  {
    pattern: /failed to find database snapshot file|database file \(.*\) of the backend is missing/,
    meaning: "its data directory is incomplete",
  },
];

interface LogEntry {
  readonly level?: unknown;
  readonly msg?: unknown;
  readonly error?: unknown;
}

function parseEntry(line: string): LogEntry | undefined {
  try {
    const entry = JSON.parse(line) as unknown;
    return typeof entry === "object" && entry !== null ? entry as LogEntry : undefined;
  } catch {
    return undefined;
  }
}

/** etcd logs JSON, whose "msg" and "error" say it best. */
function quoteEntry(entry: LogEntry | undefined): string | undefined {
  const parts = [entry?.msg, entry?.error].filter((part) => typeof part === "string");
  return parts.length > 0 ? parts.join(": ") : undefined;
}

/**
 * The log line worth quoting: the entry etcd died on (level panic or fatal), else the last line.
 * A panic ends the log with Go's stack trace, whose last line names a source file, not a cause.
 */
export function lastWords(log: string): string {
  const lines = log.split("\n").map((line) => line.trim()).filter(Boolean);
  const entries = lines.map(parseEntry);
  const dying = entries.findLast((entry) => entry?.level === "panic" || entry?.level === "fatal");
  const quoted = quoteEntry(dying) ?? quoteEntry(entries[entries.length - 1]);
  if (quoted !== undefined) return quoted;
  const last = lines[lines.length - 1] ?? "";
  return last.length > 300 ? `${last.slice(0, 300)}…` : last;
}

function fatalStart(log: string): string | undefined {
  return fatalStarts.find((fatal) => fatal.pattern.test(log))?.meaning;
}

/**
 * A moment as reasons quote it (`2026-12-03T07:14:05Z`). Reasons name when something began, not
 * how long ago: a counter would change the status on every pass and write it every time.
 */
export function instant(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function diagnoseMember(member: MemberFacts, nowMs: number, graceMs: number): Diagnosis {
  if (member.volume.kind === "lost") return { kind: "lost", reason: member.volume.reason };
  const pod = member.pod;
  if (member.volume.kind === "terminating") {
    return { kind: "impaired", reason: "waiting for an earlier volume of its name to be deleted" };
  }
  if (!pod) return { kind: "impaired", reason: "its pod does not exist (yet)" };
  if (pod.node && !pod.node.ready) {
    // Its volume is on that node as a rule: the pod cannot run anywhere else either.
    const sinceMs = pod.node.sinceMs ?? nowMs;
    const waitedMs = nowMs - sinceMs;
    const message = `its node ${pod.node.name} has not been ready since ${instant(sinceMs)} ` +
      `(${pod.node.detail})`;
    return waitedMs >= graceMs
      ? { kind: "lost", reason: message }
      : { kind: "impaired", reason: message, lostAtMs: sinceMs + graceMs };
  }
  if (pod.terminating) return { kind: "impaired", reason: "its pod is being deleted" };
  const etcd = pod.etcd;
  if (etcd && !etcd.running && etcd.lastExit) {
    const fatal = fatalStart(etcd.lastExit.log);
    if (fatal) {
      return {
        kind: "lost",
        reason: `etcd cannot start: ${fatal} (${lastWords(etcd.lastExit.log)})`,
      };
    }
  }
  if (pod.unschedulable) {
    const waitedMs = nowMs - pod.unschedulable.sinceMs;
    const message = `its pod cannot be scheduled since ${instant(pod.unschedulable.sinceMs)}: ` +
      pod.unschedulable.message;
    return waitedMs >= graceMs
      ? { kind: "lost", reason: message }
      : { kind: "impaired", reason: message, lostAtMs: pod.unschedulable.sinceMs + graceMs };
  }
  if (etcd?.waiting && /ImagePull|ErrImage|InvalidImageName/.test(etcd.waiting.reason)) {
    return {
      kind: "impaired",
      reason: `its image cannot be pulled (${etcd.waiting.reason}): ${etcd.waiting.message}`,
    };
  }
  if (etcd && !etcd.running && etcd.lastExit) {
    const { exitCode, reason, log } = etcd.lastExit;
    const line = lastWords(log);
    return {
      kind: "impaired",
      reason: `etcd exited with code ${exitCode} (${reason || "Error"}), ${etcd.restarts} ` +
        `restarts${line ? `: ${line}` : ""}`,
    };
  }
  if (etcd?.waiting) {
    return {
      kind: "impaired",
      reason: `etcd is waiting to start (${etcd.waiting.reason})${
        etcd.waiting.message ? `: ${etcd.waiting.message}` : ""
      }`,
    };
  }
  if (pod.phase === "Pending") return { kind: "impaired", reason: "its pod is pending" };
  return { kind: "fine" };
}
