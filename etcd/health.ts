// Observes an etcd cluster: member list, alarms, and a Status + read + /version probe per member.
import type { IMember } from "etcd3";
import { request as httpsRequest } from "node:https";
import {
  advertisedEndpoint,
  type ClientOptions,
  type ClientTLS,
  defaultCallTimeoutMs,
  type EtcdClient,
  type MemberClient,
  type MemberEndpoint,
} from "./client.ts";
import { type ClientProvider, oneOffClients } from "./connections.ts";
import { attempt } from "./errors.ts";
import {
  buildObservation,
  type EtcdObservation,
  type RawMemberProbe,
  toMember,
  type VersionResponse,
} from "./observation.ts";

export interface ObserveOptions extends ClientOptions {
  readonly memberEndpoint?: MemberEndpoint;
  /** Where clients come from; by default a new one per use (fine once, a leak if repeated). */
  readonly clients?: ClientProvider;
}

/**
 * One snapshot of the cluster for the planners. Never throws: whatever fails is recorded in the
 * snapshot's `errors`. Members are probed in parallel, each within the call deadline.
 */
export async function observeCluster(
  endpoints: readonly string[],
  options: ObserveOptions = {},
): Promise<EtcdObservation> {
  const clients = options.clients ?? oneOffClients(options);
  // Two calls, not one: the member list is answered from each member's own view, the alarm list
  // goes through raft. Without a quorum the second never answers; had they been asked together,
  // that failure would send the member list on to another member, maybe one that cannot answer
  // either (a learner that never started), and a lost quorum would look like no etcd at all.
  // attempt() also catches what the client constructor throws (no endpoints, mixed http/https).
  let listed = await attempt(() => clients.cluster(endpoints, listMembers(true)));
  if (!listed.ok || !listed.value.ok) {
    // No member could answer linearizably: etcd 3.5 needs a quorum for that. A member's own view
    // still shows who the members are, which is what a lost quorum is judged (and explained) by.
    const local = await attempt(() => clients.cluster(endpoints, listMembers(false)));
    if (local.ok && local.value.ok) listed = local;
  }
  const memberList = listed.ok ? listed.value : listed;
  const members = memberList.ok ? memberList.value.members : [];
  // The alarms and the members' probes do not depend on each other: asked together, an
  // observation takes the slowest of them rather than their sum.
  const [alarms, probes] = await Promise.all([
    memberList.ok
      ? attempt(() => clients.cluster(endpoints, listAlarms)).then((alarmed) =>
        alarmed.ok ? alarmed.value : alarmed
      )
      : memberList,
    Promise.all(
      members.map(async (member) => [member.ID, await probe(member, clients, options)] as const),
    ),
  ]);
  return buildObservation({ memberList, alarms, probes: Object.fromEntries(probes) });
}

/**
 * Linearizable first, so a member that missed a membership change cannot hide it (etcd 3.4
 * ignores the flag and answers from its own view).
 */
function listMembers(linearizable: boolean) {
  return (client: EtcdClient) =>
    attempt(
      () => client.etcd.cluster.memberList({ linearizable }, client.callOptions()),
      "memberList",
    );
}

function listAlarms(client: EtcdClient) {
  return attempt(() =>
    client.etcd.maintenance.alarm(
      { action: "Get", memberID: 0, alarm: "None" },
      client.callOptions(),
    ), "alarm");
}

async function probe(
  raw: IMember,
  clients: ClientProvider,
  options: ObserveOptions,
): Promise<RawMemberProbe> {
  const member = toMember(raw);
  const endpoint = (options.memberEndpoint ?? advertisedEndpoint)(member);
  if (endpoint === undefined) return {};
  const probed = await attempt(() =>
    clients.member(endpoint, (client) => probeWith(client, member.isLearner))
  );
  return probed.ok ? probed.value : { status: probed };
}

async function probeWith(client: MemberClient, isLearner: boolean): Promise<RawMemberProbe> {
  const [status, read, version] = await Promise.all([
    attempt(() => client.etcd.maintenance.status(client.callOptions()), "status"),
    // Learners refuse reads ("rpc not supported for learner"), so only voters are asked.
    isLearner
      ? undefined
      : attempt(() => client.etcd.get("health").options(client.callOptions()).exec(), "range"),
    attempt(() => fetchVersion(client.endpoint, client.callTimeoutMs, client.tls), "version"),
  ]);
  return { status, read, version };
}

/**
 * `/version` is HTTP next to the gRPC API (HTTPS with the client certificate when the client port
 * has TLS); it is the only place showing the cluster version.
 */
export async function fetchVersion(
  endpoint: string,
  timeoutMs = defaultCallTimeoutMs,
  tls?: ClientTLS,
): Promise<VersionResponse> {
  if (tls) return await getJsonOverTLS(new URL("/version", endpoint), tls, timeoutMs);
  const response = await fetch(new URL("/version", endpoint), {
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`GET ${endpoint}/version: HTTP ${response.status}`);
  }
  return await response.json() as VersionResponse;
}

/**
 * GET over HTTPS with a client certificate, verifying the member by `serverName` when the URL's
 * host is a pod IP. node:https rather than fetch: fetch cannot verify a name other than the host.
 */
function getJsonOverTLS<T>(url: URL, tls: ClientTLS, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const request = httpsRequest({
      host: url.hostname,
      port: Number(url.port || 443),
      path: url.pathname,
      method: "GET",
      ca: tls.ca,
      cert: tls.cert,
      key: tls.key,
      servername: tls.serverName ?? url.hostname,
      agent: false,
      timeout: timeoutMs,
    }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => body += chunk);
      response.on("end", () => {
        if (response.statusCode !== 200) {
          reject(new Error(`GET ${url}: HTTP ${response.statusCode}`));
          return;
        }
        try {
          resolve(JSON.parse(body) as T);
        } catch (error) {
          reject(error);
        }
      });
      response.on("error", reject);
    });
    request.on(
      "timeout",
      () => request.destroy(new Error(`GET ${url}: no answer in ${timeoutMs} ms`)),
    );
    request.on("error", reject);
    request.end();
  });
}
