// What the operator sees of an etcd cluster: plain readonly data, built purely from raw responses.
import type { IAlarmResponse, IMember, IMemberListResponse, IStatusResponse } from "etcd3";
import semver from "semver";
import type { EtcdFailure, EtcdResult } from "./errors.ts";
import { memberIdFromDecimal, memberIdToDecimal } from "./ids.ts";

/** One etcd member as the member list shows it; `id` is hex, as etcdctl prints it. */
export interface Member {
  readonly id: string;
  readonly name: string;
  readonly peerURLs: readonly string[];
  readonly clientURLs: readonly string[];
  readonly isLearner: boolean;
}

export interface MemberObservation extends Member {
  /** Its Status call answered within the deadline. */
  readonly reachable: boolean;
  /** Reachable, answered a linearizable read (voters only: learners refuse them), sees a leader, no alarms. */
  readonly healthy: boolean;
  /** Server version from Status, e.g. "3.4.23". */
  readonly version?: string;
  readonly dbSize?: number;
  readonly dbSizeInUse?: number;
  readonly raftTerm?: number;
  readonly raftIndex?: number;
  readonly raftAppliedIndex?: number;
  /** The leader this member follows (hex id). */
  readonly leaderId?: string;
  /** Alarms raised for this member: "NOSPACE", "CORRUPT". */
  readonly alarms: readonly string[];
  readonly errors: readonly EtcdFailure[];
}

export interface EtcdObservation {
  /** Hex cluster id, when any member answered. */
  readonly clusterId?: string;
  readonly members: readonly MemberObservation[];
  readonly leaderId?: string;
  /** The version the cluster runs at ("3.4.0"): what `/version` reports as `etcdcluster`. */
  readonly clusterVersion?: string;
  /** Failures of cluster-wide calls (member list, alarm list). */
  readonly errors: readonly EtcdFailure[];
}

/** The body of a member's `/version` HTTP endpoint. */
export interface VersionResponse {
  readonly etcdserver?: string;
  readonly etcdcluster?: string;
}

/** What was asked of one member; `undefined` means not asked (it has no client URL yet). */
export interface RawMemberProbe {
  readonly status?: EtcdResult<IStatusResponse>;
  /** A linearizable read; never asked of learners. */
  readonly read?: EtcdResult<unknown>;
  readonly version?: EtcdResult<VersionResponse>;
}

/** Everything observeCluster gathered, keyed by the decimal member ids etcd3 returns. */
export interface RawObservation {
  readonly memberList: EtcdResult<IMemberListResponse>;
  readonly alarms: EtcdResult<IAlarmResponse>;
  readonly probes: Readonly<Record<string, RawMemberProbe>>;
}

export function toMember(raw: IMember): Member {
  return {
    id: memberIdFromDecimal(raw.ID),
    name: raw.name,
    peerURLs: [...raw.peerURLs],
    clientURLs: [...raw.clientURLs],
    isLearner: raw.isLearner,
  };
}

/** Interprets raw responses; no I/O, so the planners' input can be tested as a table. */
export function buildObservation(raw: RawObservation): EtcdObservation {
  const errors = [raw.memberList, raw.alarms].flatMap((result) => result.ok ? [] : [result.error]);
  if (!raw.memberList.ok) return { members: [], errors };
  const members = raw.memberList.value.members.map((member) =>
    observeMember(member, raw.probes[member.ID] ?? {}, raw.alarms)
  );
  const statuses = Object.values(raw.probes).flatMap((probe) => okValue(probe.status) ?? []);
  const leaderId = leaderOf(statuses, members);
  return {
    clusterId: clusterIdOf(raw.memberList.value, statuses),
    members,
    leaderId,
    clusterVersion: clusterVersionOf(raw.probes, members, leaderId),
    errors,
  };
}

function observeMember(
  raw: IMember,
  probe: RawMemberProbe,
  alarmList: EtcdResult<IAlarmResponse>,
): MemberObservation {
  const member = toMember(raw);
  const status = okValue(probe.status);
  const alarms = alarmList.ok ? alarmsOf(alarmList.value, raw.ID) : [];
  const errors = [...(probe.status ? [] : [notStarted]), ...failuresOf(probe)];
  if (!status) return { ...member, reachable: false, healthy: false, alarms, errors };
  const leaderId = nonZeroId(status.leader);
  const answeredRead = member.isLearner || probe.read?.ok === true;
  const reported = status.errors.map((message): EtcdFailure => ({ kind: "unhealthy", message }));
  return {
    ...member,
    reachable: true,
    healthy: answeredRead && leaderId !== undefined && alarmList.ok && alarms.length === 0 &&
      reported.length === 0,
    version: status.version,
    dbSize: Number(status.dbSize),
    dbSizeInUse: Number(status.dbSizeInUse),
    raftTerm: Number(status.raftTerm),
    raftIndex: Number(status.raftIndex),
    raftAppliedIndex: Number(status.raftAppliedIndex),
    leaderId,
    alarms,
    errors: [...errors, ...reported],
  };
}

function failuresOf(probe: RawMemberProbe): EtcdFailure[] {
  return [probe.status, probe.read, probe.version]
    .flatMap((result) => result && !result.ok ? [result.error] : []);
}

const notStarted: EtcdFailure = {
  kind: "unreachable",
  message: "no endpoint to reach it: not started yet (no client URL) or no address known",
};

function okValue<T>(result: EtcdResult<T> | undefined): T | undefined {
  return result?.ok ? result.value : undefined;
}

function alarmsOf(response: IAlarmResponse, decimalId: string): string[] {
  return response.alarms
    .filter((alarm) => alarm.memberID === decimalId && alarm.alarm !== "None")
    // etcd3's proto spells the enum "Nospace"; etcdctl and etcd's logs say "NOSPACE".
    .map((alarm) => alarm.alarm.toUpperCase());
}

/** etcd says "no leader" and "no member" with id 0. */
function nonZeroId(decimalId: string): string | undefined {
  return decimalId === "0" || decimalId === "" ? undefined : memberIdFromDecimal(decimalId);
}

function clusterIdOf(
  list: IMemberListResponse,
  statuses: readonly IStatusResponse[],
): string | undefined {
  const header = list.header ?? statuses[0]?.header;
  return header ? nonZeroId(header.cluster_id) : undefined;
}

/**
 * The member with the highest raft term has seen the latest election, so its view of the leader
 * wins over a stale one (an old leader cut off from the others still believes it leads).
 */
function leaderOf(
  statuses: readonly IStatusResponse[],
  members: readonly Member[],
): string | undefined {
  const latest = statuses.reduce<IStatusResponse | undefined>(
    (best, status) => !best || BigInt(status.raftTerm) > BigInt(best.raftTerm) ? status : best,
    undefined,
  );
  const leaderId = latest ? nonZeroId(latest.leader) : undefined;
  return members.some((member) => member.id === leaderId) ? leaderId : undefined;
}

/**
 * `/version` gives the version the members agreed on; the leader's answer first, since it decides
 * it. Without any answer, the lowest server version seen is what etcd would settle on.
 */
function clusterVersionOf(
  probes: RawObservation["probes"],
  members: readonly MemberObservation[],
  leaderId: string | undefined,
): string | undefined {
  const leaderProbe = leaderId === undefined ? undefined : probes[memberIdToDecimal(leaderId)];
  const answers = [leaderProbe, ...Object.values(probes)]
    .map((probe) => okValue(probe?.version)?.etcdcluster)
    .filter((version): version is string =>
      version !== undefined && semver.valid(version) !== null
    );
  if (answers.length > 0) return answers[0];
  return lowestMinor(members.flatMap((member) => member.version ?? []));
}

function lowestMinor(versions: readonly string[]): string | undefined {
  const valid = versions.filter((version) => semver.valid(version) !== null);
  if (valid.length === 0) return undefined;
  const lowest = semver.sort([...valid])[0];
  return `${semver.major(lowest)}.${semver.minor(lowest)}.0`;
}
