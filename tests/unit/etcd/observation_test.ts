// Turning raw etcd3 responses into the plain cluster snapshot the planners read.
import assert from "node:assert/strict";
import type { IAlarmResponse, IMember, IMemberListResponse, IStatusResponse } from "etcd3";
import { type EtcdFailure, success } from "../../../etcd/errors.ts";
import {
  buildObservation,
  type RawMemberProbe,
  type RawObservation,
  toMember,
} from "../../../etcd/observation.ts";

// Ids as a real 3.4 cluster handed them out; two of them are above 2^53.
const ids = {
  m0: { decimal: "13708079132129262402", hex: "be3ce15797827b42" },
  m1: { decimal: "10417230983831466627", hex: "909170630e77b283" },
  m2: { decimal: "3421693031823878733", hex: "2f7c4baefc4aaa4d" },
  learner: { decimal: "8152009140271805882", hex: "7121c11f33a375ba" },
} as const;
const clusterId = { decimal: "1116189416861635950", hex: "f7d805c5e16956e" };

function rawMember(name: keyof typeof ids, port: number, isLearner = false): IMember {
  return {
    ID: ids[name].decimal,
    name,
    peerURLs: [`http://127.0.0.1:${port + 1}`],
    clientURLs: [`http://127.0.0.1:${port}`],
    isLearner,
  };
}

function header(memberId: string, revision = "5", term = "2") {
  return { cluster_id: clusterId.decimal, member_id: memberId, revision, raft_term: term };
}

function status(
  memberId: string,
  leader: string,
  overrides: Partial<IStatusResponse> = {},
): IStatusResponse {
  return {
    header: header(memberId),
    version: "3.4.23",
    dbSize: "20480",
    leader,
    raftIndex: "17",
    raftTerm: "2",
    raftAppliedIndex: "17",
    errors: [],
    dbSizeInUse: "16384",
    isLearner: false,
    ...overrides,
  };
}

const threeMembers: IMemberListResponse = {
  header: header(ids.m2.decimal, "0"),
  members: [rawMember("m0", 22379), rawMember("m1", 22381), rawMember("m2", 22383)],
};

const noAlarms: IAlarmResponse = { header: header(ids.m0.decimal), alarms: [] };

function healthyProbe(memberId: string, leader: string = ids.m0.decimal): RawMemberProbe {
  return {
    status: success(status(memberId, leader)),
    read: success({}),
    version: success({ etcdserver: "3.4.23", etcdcluster: "3.4.0" }),
  };
}

function healthyCluster(): RawObservation {
  return {
    memberList: success(threeMembers),
    alarms: success(noAlarms),
    probes: {
      [ids.m0.decimal]: healthyProbe(ids.m0.decimal),
      [ids.m1.decimal]: healthyProbe(ids.m1.decimal),
      [ids.m2.decimal]: healthyProbe(ids.m2.decimal),
    },
  };
}

const refused: EtcdFailure = {
  kind: "unreachable",
  message: "14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED",
};
const unreachable = { ok: false, error: refused } as const;

Deno.test("a raw member becomes plain data with a hex id", () => {
  assert.deepEqual(toMember(rawMember("m0", 22379)), {
    id: "be3ce15797827b42",
    name: "m0",
    peerURLs: ["http://127.0.0.1:22380"],
    clientURLs: ["http://127.0.0.1:22379"],
    isLearner: false,
  });
});

Deno.test("a healthy cluster shows every member healthy, its leader and its versions", () => {
  const seen = buildObservation(healthyCluster());
  assert.equal(seen.clusterId, clusterId.hex);
  assert.equal(seen.leaderId, ids.m0.hex);
  assert.equal(seen.clusterVersion, "3.4.0");
  assert.deepEqual(seen.errors, []);
  assert.deepEqual(seen.members.map((member) => [member.id, member.healthy]), [
    [ids.m0.hex, true],
    [ids.m1.hex, true],
    [ids.m2.hex, true],
  ]);
  assert.deepEqual(seen.members[1], {
    id: ids.m1.hex,
    name: "m1",
    peerURLs: ["http://127.0.0.1:22382"],
    clientURLs: ["http://127.0.0.1:22381"],
    isLearner: false,
    reachable: true,
    healthy: true,
    version: "3.4.23",
    dbSize: 20480,
    dbSizeInUse: 16384,
    raftTerm: 2,
    raftIndex: 17,
    raftAppliedIndex: 17,
    leaderId: ids.m0.hex,
    alarms: [],
    errors: [],
  });
});

Deno.test("a member that does not answer is unreachable and unhealthy, the rest unaffected", () => {
  const raw = healthyCluster();
  const seen = buildObservation({
    ...raw,
    probes: { ...raw.probes, [ids.m2.decimal]: { status: unreachable, version: unreachable } },
  });
  const m2 = seen.members.find((member) => member.name === "m2");
  assert.equal(m2?.reachable, false);
  assert.equal(m2?.healthy, false);
  assert.equal(m2?.version, undefined);
  assert.deepEqual(m2?.errors.map((error) => error.kind), ["unreachable", "unreachable"]);
  assert.equal(seen.leaderId, ids.m0.hex);
  assert.equal(seen.members.filter((member) => member.healthy).length, 2);
});

Deno.test("a member that answers Status but fails the linearizable read is not healthy", () => {
  const raw = healthyCluster();
  const timedOut: EtcdFailure = {
    kind: "unhealthy",
    message: "14 UNAVAILABLE: etcdserver: request timed out",
  };
  const slowRead = { ok: false, error: timedOut } as const;
  const seen = buildObservation({
    ...raw,
    probes: {
      ...raw.probes,
      [ids.m1.decimal]: { ...healthyProbe(ids.m1.decimal), read: slowRead },
    },
  });
  const m1 = seen.members.find((member) => member.name === "m1");
  assert.equal(m1?.reachable, true);
  assert.equal(m1?.healthy, false);
  assert.deepEqual(m1?.errors, [timedOut]);
});

Deno.test("a learner added but not started is listed, not probed, and not reachable", () => {
  const raw = healthyCluster();
  const learner: IMember = {
    ID: ids.learner.decimal,
    name: "",
    peerURLs: ["http://127.0.0.1:22386"],
    clientURLs: [],
    isLearner: true,
  };
  const seen = buildObservation({
    ...raw,
    memberList: success({ ...threeMembers, members: [...threeMembers.members, learner] }),
  });
  const added = seen.members.find((member) => member.id === ids.learner.hex);
  assert.equal(added?.isLearner, true);
  assert.equal(added?.reachable, false);
  assert.match(added?.errors[0].message ?? "", /not started yet/);
});

Deno.test("a running learner is healthy without a read, which learners refuse", () => {
  const raw = healthyCluster();
  const learner = { ...rawMember("learner", 22385), isLearner: true };
  const seen = buildObservation({
    ...raw,
    memberList: success({ ...threeMembers, members: [...threeMembers.members, learner] }),
    probes: {
      ...raw.probes,
      [ids.learner.decimal]: {
        status: success(status(ids.learner.decimal, ids.m0.decimal, { isLearner: true })),
        version: success({ etcdserver: "3.4.23", etcdcluster: "3.4.0" }),
      },
    },
  });
  const added = seen.members.find((member) => member.id === ids.learner.hex);
  assert.equal(added?.healthy, true);
  assert.equal(added?.isLearner, true);
});

Deno.test("an alarm on a member makes that member unhealthy and is named as etcdctl names it", () => {
  const raw = healthyCluster();
  const seen = buildObservation({
    ...raw,
    alarms: success({ ...noAlarms, alarms: [{ memberID: ids.m1.decimal, alarm: "Nospace" }] }),
  });
  const m1 = seen.members.find((member) => member.name === "m1");
  assert.deepEqual(m1?.alarms, ["NOSPACE"]);
  assert.equal(m1?.healthy, false);
  assert.equal(seen.members.find((member) => member.name === "m0")?.healthy, true);
});

Deno.test("errors a member reports in its Status make it unhealthy", () => {
  const raw = healthyCluster();
  const withError = status(ids.m2.decimal, ids.m0.decimal, {
    errors: ["memberID:3421693031823878733 alarm:CORRUPT "],
  });
  const seen = buildObservation({
    ...raw,
    probes: {
      ...raw.probes,
      [ids.m2.decimal]: { ...healthyProbe(ids.m2.decimal), status: success(withError) },
    },
  });
  const m2 = seen.members.find((member) => member.name === "m2");
  assert.equal(m2?.healthy, false);
  assert.deepEqual(m2?.errors.map((error) => error.kind), ["unhealthy"]);
});

Deno.test("without the alarm list no member can be called healthy", () => {
  const seen = buildObservation({ ...healthyCluster(), alarms: unreachable });
  assert.equal(seen.members.some((member) => member.healthy), false);
  assert.deepEqual(seen.errors.map((error) => error.kind), ["unreachable"]);
});

Deno.test("a member that sees no leader is reachable but not healthy", () => {
  const raw = healthyCluster();
  const noLeader = healthyProbe(ids.m0.decimal, "0");
  const seen = buildObservation({ ...raw, probes: { [ids.m0.decimal]: noLeader } });
  assert.equal(seen.members[0].reachable, true);
  assert.equal(seen.members[0].healthy, false);
  assert.equal(seen.members[0].leaderId, undefined);
  assert.equal(seen.leaderId, undefined);
});

Deno.test("the leader seen by the member with the newest raft term wins over a stale view", () => {
  const raw = healthyCluster();
  const stale = status(ids.m0.decimal, ids.m0.decimal, { raftTerm: "2" });
  const current = (memberId: string) => status(memberId, ids.m1.decimal, { raftTerm: "3" });
  const seen = buildObservation({
    ...raw,
    probes: {
      [ids.m0.decimal]: { ...healthyProbe(ids.m0.decimal), status: success(stale) },
      [ids.m1.decimal]: {
        ...healthyProbe(ids.m1.decimal),
        status: success(current(ids.m1.decimal)),
      },
      [ids.m2.decimal]: {
        ...healthyProbe(ids.m2.decimal),
        status: success(current(ids.m2.decimal)),
      },
    },
  });
  assert.equal(seen.leaderId, ids.m1.hex);
});

Deno.test("the cluster version falls back to the lowest server version when /version fails", () => {
  const raw = healthyCluster();
  const upgraded = (memberId: string, version: string): RawMemberProbe => ({
    ...healthyProbe(memberId),
    status: success(status(memberId, ids.m0.decimal, { version })),
    version: unreachable,
  });
  const seen = buildObservation({
    ...raw,
    probes: {
      [ids.m0.decimal]: upgraded(ids.m0.decimal, "3.5.21"),
      [ids.m1.decimal]: upgraded(ids.m1.decimal, "3.4.23"),
      [ids.m2.decimal]: upgraded(ids.m2.decimal, "3.5.21"),
    },
  });
  assert.equal(seen.clusterVersion, "3.4.0");
});

Deno.test("the leader's /version answer is preferred, and an undecided one is ignored", () => {
  const raw = healthyCluster();
  const answering = (memberId: string, etcdcluster: string): RawMemberProbe => ({
    ...healthyProbe(memberId, ids.m2.decimal),
    version: success({ etcdserver: "3.5.21", etcdcluster }),
  });
  const seen = buildObservation({
    ...raw,
    probes: {
      [ids.m0.decimal]: answering(ids.m0.decimal, "not_decided"),
      [ids.m1.decimal]: answering(ids.m1.decimal, "3.4.0"),
      [ids.m2.decimal]: answering(ids.m2.decimal, "3.5.0"),
    },
  });
  assert.equal(seen.leaderId, ids.m2.hex);
  assert.equal(seen.clusterVersion, "3.5.0");
});

Deno.test("when no member lists the membership, the snapshot is empty and says why", () => {
  const seen = buildObservation({ memberList: unreachable, alarms: unreachable, probes: {} });
  assert.deepEqual(seen, {
    members: [],
    errors: [refused, refused],
  });
});
