// What an actor asks of one etcd cluster, as one narrow port: observe it, change its membership,
// and manage the clients behind it. The cluster actor sees only this interface, so its fast tests
// drive it against an in-memory cluster that records every call.
import type { EtcdObservation, Member } from "./observation.ts";
import { observeCluster } from "./health.ts";
import type { ClientTLS, EtcdClient } from "./client.ts";
import { EtcdConnections, type Incarnations, type ServerNameOf } from "./connections.ts";
import { addLearner, moveLeader, promoteLearner, removeMember } from "./members.ts";
import { attempt, type EtcdResult } from "./errors.ts";

export type MemberEndpoint = (member: Member) => string | undefined;

/** Whether the call changed anything (a retry finds its work done). */
export interface Change {
  readonly changed: boolean;
}

export interface EtcdAccess {
  /** Keeps clients only for these endpoints and the pods behind them (uid). */
  retain(incarnations: Incarnations): void;
  /**
   * The client certificate and trust bundle to dial with (undefined: plain HTTP), and the name
   * each endpoint's certificate carries; changed material replaces every client.
   */
  useTLS(material: ClientTLS | undefined, serverNameOf?: ServerNameOf): void;
  observe(endpoints: readonly string[], memberEndpoint: MemberEndpoint): Promise<EtcdObservation>;
  addLearner(endpoints: readonly string[], peerURL: string): Promise<EtcdResult<Change>>;
  promote(endpoints: readonly string[], memberId: string): Promise<EtcdResult<Change>>;
  removeMember(endpoints: readonly string[], memberId: string): Promise<EtcdResult<Change>>;
  moveLeader(
    endpoints: readonly string[],
    toId: string,
    memberEndpoint: MemberEndpoint,
  ): Promise<EtcdResult<Change>>;
  /** The cluster is being deleted: its members are going away. */
  release(): void;
  /** The actor stopped. */
  close(): void;
}

/** The real thing: one client per member for the actor's whole life (etcd/connections.ts). */
export function connectedEtcdAccess(callTimeoutMs: number): EtcdAccess {
  const connections = new EtcdConnections({ callTimeoutMs });
  /** A client that cannot be made or an answer that never comes is a failure too. */
  const onCluster = async <T>(
    endpoints: readonly string[],
    use: (client: EtcdClient) => Promise<EtcdResult<T>>,
  ): Promise<EtcdResult<T>> => {
    const result = await attempt(() => connections.cluster(endpoints, use));
    return result.ok ? result.value : result;
  };
  return {
    retain: (incarnations) => connections.retain(incarnations),
    useTLS: (material, serverNameOf) => connections.useTLS(material, serverNameOf),
    observe: (endpoints, memberEndpoint) =>
      observeCluster(endpoints, { memberEndpoint, callTimeoutMs, clients: connections }),
    addLearner: (endpoints, peerURL) => onCluster(endpoints, (c) => addLearner(c, peerURL)),
    promote: (endpoints, memberId) => onCluster(endpoints, (c) => promoteLearner(c, memberId)),
    removeMember: (endpoints, memberId) => onCluster(endpoints, (c) => removeMember(c, memberId)),
    moveLeader: (endpoints, toId, memberEndpoint) =>
      onCluster(
        endpoints,
        (c) => moveLeader(c, toId, { memberEndpoint, clients: connections }),
      ),
    release: () => connections.release(),
    close: () => connections.close(),
  };
}
