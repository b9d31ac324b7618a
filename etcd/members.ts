// Membership changes (list, add learner, promote, remove, move leader), each idempotent.
import {
  advertisedEndpoint,
  type ClientOptions,
  type EtcdClient,
  type MemberClient,
  type MemberEndpoint,
} from "./client.ts";
import { type ClientProvider, oneOffClients } from "./connections.ts";
import { attempt, type EtcdResult, failure, success } from "./errors.ts";
import { memberIdFromDecimal, memberIdToDecimal, normalizeMemberId } from "./ids.ts";
import { type Member, toMember } from "./observation.ts";

/** A membership step's outcome; `changed` is false when etcd already was as asked (a retry). */
export interface MemberChange {
  readonly member: Member;
  readonly changed: boolean;
}

export interface LeaderChange {
  readonly from: string;
  readonly to: string;
  readonly changed: boolean;
}

export async function listMembers(client: EtcdClient): Promise<EtcdResult<readonly Member[]>> {
  const listed = await attempt(
    () => client.etcd.cluster.memberList({ linearizable: true }, client.callOptions()),
    "memberList",
  );
  return listed.ok ? success(listed.value.members.map(toMember)) : listed;
}

/**
 * Adds a learner for `peerURL`, or returns the member that already has that peer URL (an earlier
 * attempt whose answer was lost, or a restart of the operator mid-step).
 */
export async function addLearner(
  client: EtcdClient,
  peerURL: string,
): Promise<EtcdResult<MemberChange>> {
  const existing = await memberWithPeerURL(client, peerURL);
  if (!existing.ok) return existing;
  if (existing.value) return success({ member: existing.value, changed: false });
  const added = await attempt(
    () =>
      client.etcd.cluster.memberAdd({ peerURLs: [peerURL], isLearner: true }, client.callOptions()),
    "memberAdd",
  );
  if (added.ok) return success({ member: toMember(added.value.member), changed: true });
  // "member ID already exist" / "Peer URLs already exists": a concurrent or lost add won.
  const raced = await memberWithPeerURL(client, peerURL);
  return raced.ok && raced.value ? success({ member: raced.value, changed: false }) : added;
}

/** Promotes a learner; a member that already votes is left as it is. */
export async function promoteLearner(
  client: EtcdClient,
  memberId: string,
): Promise<EtcdResult<MemberChange>> {
  const found = await memberWithId(client, memberId);
  if (!found.ok) return found;
  if (!found.value.isLearner) return success({ member: found.value, changed: false });
  const promoted = await attempt(
    () =>
      client.etcd.cluster.memberPromote({ ID: memberIdToDecimal(memberId) }, client.callOptions()),
    "memberPromote",
  );
  if (promoted.ok) {
    return success({ member: { ...found.value, isLearner: false }, changed: true });
  }
  // "can only promote a learner member": a lost earlier promote already did it.
  const again = await memberWithId(client, memberId);
  return again.ok && !again.value.isLearner
    ? success({ member: again.value, changed: false })
    : promoted;
}

/** Removes a member; one that is already gone counts as removed (`changed: false`). */
export async function removeMember(
  client: EtcdClient,
  memberId: string,
): Promise<EtcdResult<{ readonly changed: boolean }>> {
  const removed = await attempt(
    () =>
      client.etcd.cluster.memberRemove({ ID: memberIdToDecimal(memberId) }, client.callOptions()),
    "memberRemove",
  );
  if (removed.ok) return success({ changed: true });
  return removed.error.kind === "memberNotFound" ? success({ changed: false }) : removed;
}

export interface MoveLeaderOptions extends ClientOptions {
  readonly memberEndpoint?: MemberEndpoint;
  /** Where the leader's own client comes from; by default a new one for this call. */
  readonly clients?: ClientProvider;
}

/**
 * Hands leadership to `toId`. Only the leader may do that, so the request goes to the member the
 * cluster names as leader, through a client that reaches only that member.
 */
export async function moveLeader(
  client: EtcdClient,
  toId: string,
  options: MoveLeaderOptions = {},
): Promise<EtcdResult<LeaderChange>> {
  const [target, leader] = await Promise.all([memberWithId(client, toId), currentLeader(client)]);
  if (!target.ok) return target;
  if (!leader.ok) return leader;
  const change = { from: leader.value.id, to: target.value.id };
  if (change.from === change.to) return success({ ...change, changed: false });
  const endpoint = (options.memberEndpoint ?? advertisedEndpoint)(leader.value);
  if (endpoint === undefined) {
    return failure("unreachable", `leader ${change.from} has no client URL`);
  }
  const clients = options.clients ?? oneOffClients(options);
  const moved = await clients.member(endpoint, (leaderClient) => transferTo(leaderClient, toId));
  return moved.ok ? success({ ...change, changed: true }) : moved;
}

function transferTo(leaderClient: MemberClient, toId: string): Promise<EtcdResult<unknown>> {
  return attempt(() =>
    leaderClient.etcd.maintenance.moveLeader(
      { targetID: memberIdToDecimal(toId) },
      leaderClient.callOptions(),
    ), "moveLeader");
}

/** The leader as the answering member sees it; a stale view shows up later as `notLeader`. */
async function currentLeader(client: EtcdClient): Promise<EtcdResult<Member>> {
  const status = await attempt(
    () => client.etcd.maintenance.status(client.callOptions()),
    "status",
  );
  if (!status.ok) return status;
  if (status.value.leader === "0") return failure("unhealthy", "etcdserver: no leader");
  return await memberWithId(client, memberIdFromDecimal(status.value.leader));
}

async function memberWithId(client: EtcdClient, memberId: string): Promise<EtcdResult<Member>> {
  const members = await listMembers(client);
  if (!members.ok) return members;
  const wanted = normalizeMemberId(memberId);
  const member = members.value.find((candidate) => candidate.id === wanted);
  return member ? success(member) : failure("memberNotFound", `no member with id ${memberId}`);
}

async function memberWithPeerURL(
  client: EtcdClient,
  peerURL: string,
): Promise<EtcdResult<Member | undefined>> {
  const members = await listMembers(client);
  if (!members.ok) return members;
  return success(members.value.find((member) => member.peerURLs.includes(peerURL)));
}
