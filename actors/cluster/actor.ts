// The EtcdCluster actor: observe → plan → act (one membership step at most) → Events → status.
import type { ActorContext, ActorSpec, Behavior } from "../runtime/mod.ts";
import type { EtcdObservation, Member } from "../../etcd/observation.ts";
import type { EtcdResult } from "../../etcd/errors.ts";
import type { KubeClient } from "../../k8s/client.ts";
import type { K8sResult } from "../../k8s/errors.ts";
import { resources } from "../../k8s/resources.ts";
import type { StoreReader } from "../../k8s/store.ts";
import type { Logger } from "../../observability/log.ts";
import {
  type ClusterCondition,
  type EtcdBackupObject,
  type EtcdClusterObject,
  type EtcdPeerObject,
  type EventSink,
  formedAnnotation,
  type NodeObject,
  type PersistentVolumeClaimObject,
  type PodDisruptionBudgetObject,
  type PodObject,
  quorumRecoveryAnnotation,
  type SecretObject,
} from "../types.ts";
import type { Failpoint } from "../failpoints.ts";
import {
  clientServiceName,
  clusterLabel,
  etcdContainerName,
  memberPeerName,
  peerHost,
  peerLabel,
  tlsDigestAnnotation,
  tlsSecretNames,
  type URLScheme,
} from "../member.ts";
import { currentVolumeState } from "../volume_check.ts";
import { nodeState, podsToForceDelete } from "../node_health.ts";
import { formatQuorumRecovery, type QuorumRecovery, restoreOfRecord } from "../recovery_record.ts";
import { connectedEtcdAccess, type EtcdAccess, type MemberEndpoint } from "../../etcd/access.ts";
import {
  clientService,
  disruptionBudget,
  headlessService,
  peerObject,
  recoveryRestoreObject,
} from "./objects.ts";
import { clusterObservation, type RecoveryRestoreObject } from "./observe.ts";
import { type MemberAccess, memberClientEndpoint } from "../member_dialer.ts";
import { type ResolvedTLS, resolveTLS } from "../tls/settings.ts";
import {
  clientMaterial,
  decodeSecret,
  desiredDigest,
  memberSecrets,
  operatorClientSecret,
  type SecretContentView,
  tlsObservation,
} from "../tls/observe.ts";
import { planTLS, type TLSObservation, type TLSStep, userProvidedProblems } from "../tls/plan.ts";
import { tlsStatus } from "../tls/status.ts";
import { type PassPlan, planPass, tlsMembers } from "./tls_plan.ts";
import { actOnSecretStep, restartMember, type TLSActContext } from "./tls_act.ts";
import { type ClusterStep, endsPass, planCluster } from "./plan.ts";
import {
  type ClusterStatus,
  clusterStatus,
  evenReplicasAdvice,
  ownedStatusFields,
} from "./status.ts";
import { afterFailure, heldBackMs, nextTimeGateMs, type RetryState, waitDelayMs } from "./retry.ts";
import { type ReactionReport, ReactionTimes } from "./reaction.ts";
import type { KubeObject } from "../../k8s/objects.ts";
import { type StatusObject, writeStatusIfChanged } from "../status_writer.ts";

export type ClusterMessage = { readonly kind: "reconcile" };

export interface ClusterStores {
  readonly clusters: StoreReader<EtcdClusterObject>;
  readonly peers: StoreReader<EtcdPeerObject>;
  readonly services: StoreReader<KubeObject>;
  readonly disruptionBudgets: StoreReader<PodDisruptionBudgetObject>;
  readonly pods: StoreReader<PodObject>;
  readonly volumeClaims: StoreReader<PersistentVolumeClaimObject>;
  /** Absent when nodes are not watched: members are then judged without their nodes. */
  readonly nodes?: StoreReader<NodeObject>;
  /** The TLS Secrets: the operator's own (by label) and the user-provided ones (by name). */
  readonly secrets?: StoreReader<SecretObject>;
  /** What a cluster that lost every member's data recovers from, and the restore it creates. */
  readonly backups?: StoreReader<EtcdBackupObject>;
  readonly restores?: StoreReader<RecoveryRestoreObject>;
}

/** The API calls the cluster actor makes. */
export type ClusterKube = Pick<
  KubeClient,
  "create" | "delete" | "mergePatch" | "apply" | "get" | "replace"
>;

export interface ClusterActorDeps {
  readonly kube: ClusterKube;
  /** How it reaches etcd; by default clients to the members that live as long as the actor. */
  readonly etcdAccess?: () => EtcdAccess;
  readonly stores: ClusterStores;
  readonly events: EventSink;
  /** How members are dialled: DNS names, pod IPs or port-forwards (member_access.ts decides). */
  readonly memberAccess: MemberAccess;
  readonly log: Logger;
  /** How often a converged cluster's health is probed. */
  readonly healthIntervalMs?: number;
  /** How long a member's pod may stay unschedulable before the member is replaced. */
  readonly replaceAfterMs?: number;
  readonly failpoint?: Failpoint;
  /** `step`: a ClusterStep's kind, or `tls:` and a TLSStep's kind. */
  readonly onStep?: (step: string, outcome: "ok" | "failed", seconds: number) => void;
  /** After each pass: whether the cluster's quorum (or every member's data) is lost. */
  readonly onQuorumLost?: (cluster: string, lost: boolean) => void;
  /** How long after a spec change arrived each phase of the reaction came (reaction.ts). */
  readonly onReaction?: ReactionReport;
  readonly random?: () => number;
}

export const defaultHealthIntervalMs = 15_000;
export const defaultReplaceAfterMs = 300_000;

/** How soon to look again: right after a step, and soon while waiting for etcd to settle. */
const requeueMs = { afterStep: 500, waiting: 3_000 };

/** One etcd call's deadline; a pass asks each member at most this long. */
const callTimeoutMs = 3_000;

type StepOutcome = { readonly ok: true } | {
  readonly ok: false;
  readonly message: string;
  readonly retry: boolean;
};

const ok: StepOutcome = { ok: true };

/** What one incarnation of the actor keeps between passes; rebuilt from the world on restart. */
interface ClusterActorState {
  /** Its clients to the cluster's members, for the actor's whole life. */
  readonly etcd: EtcdAccess;
  retry: RetryState | undefined;
  /** Passes in a row that ended in a wait, with nothing acted on: how soon to look again. */
  consecutiveWaits: number;
  /** What etcd said on the last pass: enough to acknowledge a spec change, never to act on. */
  lastEtcd: { readonly observation: EtcdObservation; readonly atMs: number } | undefined;
  readonly reaction: ReactionTimes;
  warnedEvenAtGeneration: number | undefined;
  cancelNextPass: (() => void) | undefined;
  /**
   * The status as this actor last wrote it (at resourceVersion `written`), while the cache still
   * shows an older version of the object: one it read before writing, or one of its own earlier
   * writes. The next pass can come before the watch event of the last write: planning from an
   * older status would announce an upgrade's end twice.
   */
  statusAhead: {
    readonly status: StatusRecord;
    readonly written: string;
    readonly older: ReadonlySet<string | undefined>;
  } | undefined;
}

export function clusterActor(key: string, deps: ClusterActorDeps): ActorSpec<ClusterMessage> {
  return {
    kind: "EtcdCluster",
    name: key,
    mailbox: { kind: "coalesce", keyOf: () => "reconcile" },
    init: (context) => new ClusterBehavior(key, deps, context),
  };
}

class ClusterBehavior implements Behavior<ClusterMessage> {
  readonly #state: ClusterActorState;

  constructor(
    readonly key: string,
    readonly deps: ClusterActorDeps,
    readonly context: ActorContext<ClusterMessage>,
  ) {
    this.#state = {
      etcd: deps.etcdAccess?.() ?? connectedEtcdAccess(callTimeoutMs),
      retry: undefined,
      consecutiveWaits: 0,
      lastEtcd: undefined,
      reaction: new ReactionTimes(deps.onReaction ?? (() => {})),
      warnedEvenAtGeneration: undefined,
      cancelNextPass: undefined,
      statusAhead: undefined,
    };
  }

  async handle(): Promise<void> {
    const state = this.#state;
    const cluster = this.deps.stores.clusters.get(this.key);
    if (!cluster || cluster.metadata.deletionTimestamp) {
      // Its members are going away; a cluster re-created under the name starts afresh.
      state.etcd.release();
      return;
    }
    warnEvenReplicas(cluster, this.deps, state);
    const delay = await reconcile(cluster, this.deps, state, this.context.onMessage);
    // One pending pass at a time: wake-ups by watch events do not pile up timers.
    state.cancelNextPass?.();
    state.cancelNextPass = this.context.scheduleSelf({ kind: "reconcile" }, delay);
  }

  terminate(): void {
    this.#state.etcd.close();
  }
}

function warnEvenReplicas(
  cluster: EtcdClusterObject,
  deps: ClusterActorDeps,
  state: ClusterActorState,
): void {
  const generation = cluster.metadata.generation ?? 0;
  const advice = evenReplicasAdvice(cluster.spec.replicas);
  if (!advice || state.warnedEvenAtGeneration === generation) return;
  state.warnedEvenAtGeneration = generation;
  deps.events.record(cluster, "Warning", "EvenReplicas", advice);
}

/**
 * Where each peer's member answers, and which pod is behind it (its clients follow the pod).
 * Only members whose etcd container runs are dialled: a crash-looping or not yet started member
 * cannot answer, and every dial attempt costs an HTTP/2 session that Deno never frees.
 */
function memberAddresses(
  cluster: EtcdClusterObject,
  peers: readonly EtcdPeerObject[],
  pods: readonly PodObject[],
  access: MemberAccess,
  scheme: URLScheme,
) {
  const { namespace, name } = cluster.metadata;
  const running = new Map<string, PodObject>();
  for (const pod of pods) {
    const peerName = pod.metadata.labels?.[peerLabel];
    if (peerName && !pod.metadata.deletionTimestamp && etcdRunning(pod)) running.set(peerName, pod);
  }
  const endpointOf = (peerName: string) =>
    running.has(peerName)
      ? memberClientEndpoint(access, namespace, name, peerName, pods, scheme)
      : undefined;
  const incarnations = new Map<string, string>();
  /** The name each endpoint's certificate carries (the member's DNS name, also for a pod IP). */
  const serverNames = new Map<string, string>();
  for (const peer of peers) {
    const endpoint = endpointOf(peer.metadata.name);
    if (!endpoint) continue;
    incarnations.set(endpoint, running.get(peer.metadata.name)!.metadata.uid);
    serverNames.set(endpoint, peerHost(name, namespace, peer.metadata.name));
  }
  return { endpointOf, incarnations, serverNames, endpoints: [...incarnations.keys()] };
}

function etcdRunning(pod: PodObject): boolean {
  return pod.status?.containerStatuses?.some((container) =>
    container.name === etcdContainerName && container.state?.running !== undefined
  ) ?? false;
}

async function reconcile(
  cached: EtcdClusterObject,
  deps: ClusterActorDeps,
  state: ClusterActorState,
  onMessage: ActorContext<ClusterMessage>["onMessage"],
): Promise<number> {
  const readFrom = cached.metadata.resourceVersion;
  // The cache shows the last write, or someone else's newer one: it is the truth again.
  if (state.statusAhead && !state.statusAhead.older.has(readFrom)) state.statusAhead = undefined;
  const cluster: EtcdClusterObject = state.statusAhead
    ? { ...cached, status: state.statusAhead.status }
    : cached;
  const { namespace, name } = cluster.metadata;
  const log = deps.log.with({ cluster: `${namespace}/${name}` });
  const peers = deps.stores.peers.list().filter((peer) =>
    peer.metadata.namespace === namespace && peer.spec.clusterName === name
  );
  const pods = deps.stores.pods.list().filter((pod) =>
    pod.metadata.namespace === namespace && pod.metadata.labels?.[clusterLabel] === name
  );
  const claims = deps.stores.volumeClaims.list().filter((claim) =>
    claim.metadata.namespace === namespace && claim.metadata.labels?.[clusterLabel] === name
  );
  const tls = resolveTLS(cluster.spec.tls);
  const secretText = (secretName: string) =>
    decodeSecret(deps.stores.secrets?.get(`${namespace}/${secretName}`));
  const { endpointOf, incarnations, serverNames, endpoints } = memberAddresses(
    cluster,
    peers,
    pods,
    deps.memberAccess,
    tls.client.kind === "off" ? "http" : "https",
  );
  state.etcd.retain(incarnations);
  // The operator's own certificate; renewed or re-trusted material replaces the clients.
  const operatorSecret = operatorClientSecret(tls, name);
  state.etcd.useTLS(
    operatorSecret ? clientMaterial(secretText(operatorSecret)) : undefined,
    (endpoint) => serverNames.get(endpoint),
  );
  const memberEndpoint = (member: Member) => {
    const peerName = memberPeerName(name, { name: member.name, peerURL: member.peerURLs[0] ?? "" });
    return peerName === undefined ? undefined : endpointOf(peerName);
  };
  const generation = cluster.metadata.generation ?? 0;
  state.reaction.passStarted(
    generation,
    cluster.status?.observedGeneration,
    deps.stores.clusters.generationChangedAt?.(`${namespace}/${name}`),
  );
  const gathered = { cluster, peers, pods, claims, tls, secretText, deps };
  const status = passStatus(cluster, readFrom, deps, state);
  // A spec change is acknowledged (observedGeneration, and what will be done) from what etcd
  // said on the last pass, before asking it again: whoever changed the spec sees the operator
  // react without waiting for etcd. Only status is written from it; steps are planned below,
  // from a fresh observation.
  const known = knownEtcd(state, deps);
  if (generation !== cluster.status?.observedGeneration && endpoints.length > 0 && known) {
    await status.write(await planFrom(gathered, known), known);
  }
  const observed = endpoints.length > 0
    ? await observeUnlessRespecified(
      state.etcd.observe(endpoints, memberEndpoint),
      onMessage,
      () => deps.stores.clusters.get(`${namespace}/${name}`)?.metadata.generation !== generation,
    )
    : undefined;
  if (observed === "respecified") {
    // The next pass (its message is waiting) acknowledges the new spec and plans for it.
    log.debug("spec changed while etcd was observed: planning for the new one");
    status.passEnded();
    return requeueMs.waiting;
  }
  const etcd = observed;
  if (etcd) state.lastEtcd = { observation: etcd, atMs: Date.now() };
  state.reaction.reached("observed");
  const view = await planFrom(gathered, etcd);
  const { pass, steps } = view;
  const context: ActContext = {
    cluster,
    deps,
    endpoints,
    memberEndpoint,
    etcd: state.etcd,
    tls,
    secretText,
  };
  // Without a recent observation to acknowledge from, the acknowledgement comes now, before the
  // first step runs.
  if (generation !== status.acknowledged() && steps.some((s) => s.kind !== "wait")) {
    await status.write(view, etcd);
  }
  const delay = pass.kind === "cluster"
    ? await actOn(steps, context, state, log, nextTimeGateMs(view.seen))
    : await actOnTLS(pass, context, state, log);
  await status.write(view, etcd, certificatesActivity(pass));
  status.passEnded();
  const available = status.current().conditions?.find((condition) =>
    condition.type === "Available"
  );
  deps.onQuorumLost?.(
    `${namespace}/${name}`,
    available?.reason === "QuorumLost" || available?.reason === "DataLost",
  );
  return delay;
}

/**
 * A pass's status writes: each compared with the status as the previous one left it, and the
 * last one remembered (statusAhead) until the cache catches up with it.
 */
function passStatus(
  cluster: EtcdClusterObject,
  readFrom: string | undefined,
  deps: ClusterActorDeps,
  state: ClusterActorState,
) {
  let written: StatusRecord = cluster.status ?? {};
  const older = new Set(state.statusAhead?.older ?? []);
  older.add(readFrom);
  let lastWrite = state.statusAhead?.written;
  const onWritten = (resourceVersion: string) => {
    if (lastWrite !== undefined) older.add(lastWrite);
    lastWrite = resourceVersion;
  };
  return {
    /** The generation the status acknowledges now. */
    acknowledged: () => written.observedGeneration,
    /** The status as the pass last left it. */
    current: () => written,
    async write(view: PassView, etcd: EtcdObservation | undefined, certificates?: string) {
      state.reaction.reached("writing");
      written = await writeStatus(
        cluster,
        written,
        deps,
        view.seen,
        view.steps,
        etcd?.clusterVersion,
        onWritten,
        view.tlsSeen,
        certificates,
      );
      state.reaction.written(written.observedGeneration);
    },
    passEnded() {
      if (lastWrite !== undefined && lastWrite !== state.statusAhead?.written) {
        state.statusAhead = { status: written, written: lastWrite, older };
      }
    },
  };
}

/**
 * etcd's answer, unless the spec changes before it comes: a plan for the old spec would only
 * keep the new one waiting (behind a slow member's timeout, say). Nothing has been acted on
 * yet, so dropping the pass is safe; the abandoned calls end within their deadline.
 */
async function observeUnlessRespecified(
  observation: Promise<EtcdObservation>,
  onMessage: ActorContext<ClusterMessage>["onMessage"],
  respecified: () => boolean,
): Promise<EtcdObservation | "respecified"> {
  let stopListening = () => {};
  const news = new Promise<"respecified">((resolve) => {
    stopListening = onMessage(() => {
      if (respecified()) resolve("respecified");
    });
  });
  try {
    return await Promise.race([observation, news]);
  } finally {
    stopListening();
  }
}

/** What a pass reads besides etcd: the caches, the cluster's TLS settings and Secrets. */
interface Gathered {
  readonly cluster: EtcdClusterObject;
  readonly peers: readonly EtcdPeerObject[];
  readonly pods: readonly PodObject[];
  readonly claims: readonly PersistentVolumeClaimObject[];
  readonly tls: ResolvedTLS;
  readonly secretText: (secretName: string) => SecretContentView | undefined;
  readonly deps: ClusterActorDeps;
}

/** A pass's plan: the observation it was made from, the cluster's steps and the TLS part. */
interface PassView {
  readonly seen: ReturnType<typeof clusterObservation>;
  readonly tlsSeen: TLSObservation | undefined;
  readonly pass: PassPlan;
  /** The cluster's own steps, which the conditions describe whatever the certificates do. */
  readonly steps: readonly ClusterStep[];
}

/** Plans from the caches and `etcd` (pure apart from reading the stores and the clock). */
async function planFrom(
  { cluster, peers, pods, claims, tls, secretText, deps }: Gathered,
  etcd: EtcdObservation | undefined,
): Promise<PassView> {
  const { namespace, name } = cluster.metadata;
  const budget = deps.stores.disruptionBudgets.get(`${namespace}/${name}`);
  const recoveryRestoreName = restoreOfRecord(
    cluster.metadata.annotations?.[quorumRecoveryAnnotation],
  );
  const seen = clusterObservation({
    cluster,
    peers,
    pods,
    claims,
    nowMs: Date.now(),
    replaceAfterMs: deps.replaceAfterMs ?? defaultReplaceAfterMs,
    nodes: deps.stores.nodes?.list().map(nodeState),
    serviceExists: deps.stores.services.get(`${namespace}/${name}`) !== undefined &&
      deps.stores.services.get(`${namespace}/${clientServiceName(name)}`) !== undefined,
    disruptionBudgetMinAvailable: typeof budget?.spec?.minAvailable === "number"
      ? budget.spec.minAvailable
      : undefined,
    etcd,
    backups: deps.stores.backups?.list(),
    recoveryRestore: recoveryRestoreName
      ? deps.stores.restores?.get(`${namespace}/${recoveryRestoreName}`)
      : undefined,
  });
  const clusterSteps = planCluster(seen);
  const tlsSeen = tls.client.kind === "off" && tls.peer.kind === "off"
    ? undefined
    : await tlsObservation({
      now: new Date(),
      clusterName: name,
      namespace,
      tls,
      members: tlsMembers(seen, clusterSteps, (peerName) => runningDigest(pods, peerName)),
      secret: secretText,
    });
  const pass: PassPlan = tlsSeen
    ? planPass(seen, clusterSteps, planTLS(tlsSeen), userProvidedProblems(tlsSeen))
    : { kind: "cluster", steps: clusterSteps };
  return { seen, tlsSeen, pass, steps: pass.kind === "cluster" ? pass.steps : clusterSteps };
}

/**
 * The last pass's observation of etcd, while it is recent enough to describe the cluster in a
 * status: two health intervals, beyond which passes have stalled and it tells little.
 */
function knownEtcd(state: ClusterActorState, deps: ClusterActorDeps): EtcdObservation | undefined {
  const maxAgeMs = 2 * (deps.healthIntervalMs ?? defaultHealthIntervalMs);
  const known = state.lastEtcd;
  return known && Date.now() - known.atMs <= maxAgeMs ? known.observation : undefined;
}

/** Acts on the planned steps up to the first wait, failure or disruptive step; returns the requeue delay. */
async function actOn(
  steps: readonly ClusterStep[],
  context: ActContext,
  state: ClusterActorState,
  log: Logger,
  timeGateAtMs: number | undefined,
): Promise<number> {
  const { deps, cluster } = context;
  const healthIntervalMs = deps.healthIntervalMs ?? defaultHealthIntervalMs;
  if (steps.length === 0) {
    state.retry = undefined;
    state.consecutiveWaits = 0;
    return healthIntervalMs;
  }
  let delay = requeueMs.waiting;
  for (const step of steps) {
    if (step.kind === "wait") {
      state.consecutiveWaits += 1;
      delay = waitDelayMs(state.consecutiveWaits, healthIntervalMs, timeGateAtMs, Date.now());
      log.debug("waiting", { reason: step.reason, nextLookMs: delay });
      break;
    }
    const heldBack = heldBackMs(state.retry, step, Date.now());
    if (heldBack !== undefined) {
      log.debug("step backing off", {
        step: step.kind,
        ms: heldBack,
        error: state.retry?.lastError,
      });
      delay = heldBack;
      break;
    }
    const started = performance.now();
    const outcome = await act(step, context);
    deps.onStep?.(step.kind, outcome.ok ? "ok" : "failed", (performance.now() - started) / 1000);
    if (!outcome.ok) {
      log.warn("step failed", { step: step.kind, error: outcome.message });
      if (!outcome.retry) {
        deps.events.record(cluster, "Warning", "StepFailed", `${step.kind}: ${outcome.message}`);
      }
      state.retry = afterFailure(
        state.retry,
        step,
        outcome.message,
        Date.now(),
        deps.random ?? Math.random,
      );
      delay = state.retry.notBefore - Date.now();
      break;
    }
    if (step.kind === "refuseUpgrade") {
      delay = requeueMs.waiting; // nothing else to do until spec.version changes
      break;
    }
    log.info("step done", { step: step.kind });
    deps.failpoint?.(`after:${step.kind}`);
    state.retry = undefined;
    state.consecutiveWaits = 0;
    delay = requeueMs.afterStep;
    if (endsPass(step)) break;
  }
  return delay;
}

interface ActContext {
  readonly cluster: EtcdClusterObject;
  readonly deps: ClusterActorDeps;
  readonly endpoints: readonly string[];
  readonly memberEndpoint: MemberEndpoint;
  readonly etcd: EtcdAccess;
  readonly tls: ResolvedTLS;
  readonly secretText: (name: string) => SecretContentView | undefined;
}

/** What the certificates' part of a pass does, for the Progressing condition. */
function certificatesActivity(pass: PassPlan): string | undefined {
  if (pass.kind === "secrets") {
    return `writing TLS Secrets: ${
      pass.steps.map((step) =>
        step.kind === "issueLeaf"
          ? step.issue.secretName
          : step.kind === "updateTrust"
          ? step.secretName
          : step.kind
      ).join(", ")
    }`;
  }
  if (pass.kind !== "roll") return undefined;
  switch (pass.step.kind) {
    case "restartMember":
      return `restarting ${pass.step.peerName} onto new TLS material (${pass.step.reason})`;
    case "promoteNextCA":
      return "CA rotation: the new CA starts signing (ReissuingFromNewCA)";
    case "dropPreviousCA":
      return "CA rotation: the old CA is dropped (DroppingOldCA)";
    default:
      return pass.step.kind;
  }
}

/** The digest a member's running pod started with: "" for one started without; undefined: none runs. */
function runningDigest(pods: readonly PodObject[], peerName: string): string | undefined {
  const pod = pods.find((candidate) =>
    candidate.metadata.labels?.[peerLabel] === peerName && !candidate.metadata.deletionTimestamp &&
    etcdRunning(candidate)
  );
  return pod ? pod.metadata.annotations?.[tlsDigestAnnotation] ?? "" : undefined;
}

/**
 * The certificates' part of a pass: every Secret write (they disturb no member), or one member
 * restart or CA phase. Failures back off like the cluster's steps.
 */
async function actOnTLS(
  pass: Exclude<PassPlan, { kind: "cluster" }>,
  context: ActContext,
  state: ClusterActorState,
  log: Logger,
): Promise<number> {
  const { deps, cluster } = context;
  const tlsContext: TLSActContext = {
    cluster,
    kube: deps.kube,
    events: deps.events,
    secret: (name) => deps.stores.secrets?.get(`${cluster.metadata.namespace}/${name}`),
    secretText: context.secretText,
  };
  const steps: readonly TLSStep[] = pass.kind === "secrets" ? pass.steps : [pass.step];
  for (const step of steps) {
    // The retry state knows cluster steps only: every certificate step is keyed as one ("wait"
    // never fails as a cluster step), so a failing one backs off the certificates' part of the
    // pass as a whole, and the cluster's own steps keep their own backoff.
    const asClusterStep = { kind: "wait", reason: `tls:${step.kind}` } as const;
    const heldBack = heldBackMs(state.retry, asClusterStep, Date.now());
    if (heldBack !== undefined) return heldBack;
    const started = performance.now();
    const outcome = step.kind === "restartMember"
      ? await restartMember(step, tlsContext)
      : await actOnSecretStep(step, tlsContext);
    deps.onStep?.(
      `tls:${step.kind}`,
      outcome.ok ? "ok" : "failed",
      (performance.now() - started) / 1000,
    );
    if (!outcome.ok) {
      log.warn("tls step failed", { step: step.kind, error: outcome.message });
      if (!outcome.retry) {
        deps.events.record(cluster, "Warning", "StepFailed", `${step.kind}: ${outcome.message}`);
      }
      state.retry = afterFailure(
        state.retry,
        asClusterStep,
        outcome.message,
        Date.now(),
        deps.random ?? Math.random,
      );
      return state.retry.notBefore - Date.now();
    }
    log.info("tls step done", {
      step: step.kind,
      ...(step.kind === "issueLeaf" ? { secret: step.issue.secretName, reason: step.reason } : {}),
      ...(step.kind === "restartMember" ? { peer: step.peerName } : {}),
    });
  }
  state.retry = undefined;
  return requeueMs.afterStep;
}

function fromKube(
  result: K8sResult<unknown>,
  alreadyDoneKinds: readonly string[] = [],
): StepOutcome {
  if (result.ok || alreadyDoneKinds.includes(result.error.kind)) return ok;
  return {
    ok: false,
    message: result.error.message,
    retry: result.error.kind !== "invalid" && result.error.kind !== "forbidden",
  };
}

function fromEtcd(result: EtcdResult<unknown>): StepOutcome {
  if (result.ok) return ok;
  return { ok: false, message: result.error.message, retry: true };
}

/** One step. Events are recorded only for what the step changed, never for a retry's no-op. */
async function act(step: ClusterStep, context: ActContext): Promise<StepOutcome> {
  const { cluster, deps } = context;
  const record = (reason: string, message: string) =>
    deps.events.record(cluster, "Normal", reason, message);
  switch (step.kind) {
    case "recordFormed": {
      const outcome = fromKube(
        await deps.kube.mergePatch(resources.etcdClusters, {
          namespace: cluster.metadata.namespace,
          name: cluster.metadata.name,
        }, { metadata: { annotations: { [formedAnnotation]: step.clusterId } } }),
      );
      if (outcome.ok) record("ClusterFormed", `etcd cluster ${step.clusterId} has formed`);
      return outcome;
    }
    case "createService": {
      const name = cluster.metadata.name;
      for (
        const [service, description] of [
          [headlessService(cluster), `headless service ${name} (member DNS names)`],
          [clientService(cluster), `client service ${clientServiceName(name)}`],
        ] as const
      ) {
        const created = await deps.kube.create(resources.services, service);
        if (created.ok) record("ServiceCreated", `created ${description}`);
        else if (created.error.kind !== "alreadyExists") return fromKube(created);
      }
      return ok;
    }
    case "applyDisruptionBudget": {
      const outcome = fromKube(
        await deps.kube.apply(
          resources.podDisruptionBudgets,
          disruptionBudget(cluster, step.minAvailable),
        ),
      );
      if (outcome.ok) {
        record(
          "DisruptionBudgetUpdated",
          `at least ${step.minAvailable} members stay available during voluntary disruptions`,
        );
      }
      return outcome;
    }
    case "createPeers": {
      for (const peer of step.peers) {
        const secrets = memberSecrets(context.tls, peer.name);
        const tls = secrets && {
          secrets,
          digest: await desiredDigest(context.tls, peer.name, context.secretText),
        };
        const created = await deps.kube.create(
          resources.etcdPeers,
          peerObject(cluster, peer, tls),
        );
        if (created.ok) {
          record(
            "PeerCreated",
            `created peer ${peer.name} (${peer.initialClusterState.toLowerCase()} cluster)`,
          );
        } else if (created.error.kind !== "alreadyExists") {
          return fromKube(created);
        }
      }
      return ok;
    }
    case "addLearner": {
      const result = await context.etcd.addLearner(context.endpoints, step.peerURL);
      if (result.ok && result.value.changed) {
        record("MemberAdded", `added ${step.peerName} to etcd as a learner`);
      }
      return fromEtcd(result);
    }
    case "promote": {
      const result = await context.etcd.promote(context.endpoints, step.memberId);
      if (!result.ok && result.error.kind === "learnerNotReady") {
        return { ok: false, message: `learner ${step.peerName} is not caught up yet`, retry: true };
      }
      if (result.ok && result.value.changed) {
        record("MemberPromoted", `promoted ${step.peerName} to a voting member`);
      }
      return fromEtcd(result);
    }
    case "moveLeader": {
      const result = await context.etcd.moveLeader(
        context.endpoints,
        step.toId,
        context.memberEndpoint,
      );
      if (result.ok && result.value.changed) {
        record("LeaderMoved", `moved leadership to ${step.toName}`);
      }
      return fromEtcd(result);
    }
    case "removeMember": {
      if (step.replacing?.volumeLost) {
        const now = await currentVolumeState(deps.kube, cluster.metadata.namespace, step.peerName);
        if (now?.kind !== "lost") {
          return {
            ok: false,
            message: `${step.peerName}'s volume is not lost after all (${now?.kind ?? "unknown"})`,
            retry: true,
          };
        }
      }
      const result = await context.etcd.removeMember(context.endpoints, step.memberId);
      if (result.ok && result.value.changed) {
        if (step.replacing) {
          deps.events.record(
            cluster,
            "Warning",
            "MemberReplaced",
            `replacing lost member ${step.peerName} (member ${step.memberId}): ` +
              `${step.replacing.reason}; ` +
              `removed it from etcd, it is added again as a learner on an empty volume`,
          );
        } else {
          record("MemberRemoved", `removed ${step.peerName} (member ${step.memberId}) from etcd`);
        }
      }
      return fromEtcd(result);
    }
    case "deletePeer": {
      // The volume first: if the operator stops in between, the peer that is left refuses to
      // start without its recorded volume, and a later member of the same name waits for the
      // old volume to be gone before getting an empty one. Never the other way round.
      const target = { namespace: cluster.metadata.namespace, name: step.peerName };
      let volumeDeleted = false;
      if (step.deleteVolume) {
        const volume = await deps.kube.delete(resources.persistentVolumeClaims, target);
        if (!volume.ok && volume.error.kind !== "notFound") return fromKube(volume);
        volumeDeleted = volume.ok;
        deps.failpoint?.("deletePeer:afterVolume");
      }
      const peer = await deps.kube.delete(resources.etcdPeers, target, {
        propagationPolicy: "Background",
      });
      if (!peer.ok && peer.error.kind !== "notFound") return fromKube(peer);
      // Its certificate names a member that is gone; a later one of the name gets a new one.
      if (
        context.tls.client.kind === "operatorManaged" || context.tls.peer.kind === "operatorManaged"
      ) {
        const secret = await deps.kube.delete(resources.secrets, {
          namespace: cluster.metadata.namespace,
          name: tlsSecretNames.member(step.peerName),
        });
        if (!secret.ok && secret.error.kind !== "notFound") return fromKube(secret);
      }
      // The member is out of etcd: a pod on a dead node would hold its volume claim for ever.
      const stuck = await forceDeleteStuckPods(deps, cluster.metadata.namespace, step.peerName);
      if (!stuck.ok) return stuck;
      if (peer.ok || volumeDeleted) {
        record(
          "PeerRemoved",
          `deleted peer ${step.peerName}${step.deleteVolume ? " and its volume" : ""}`,
        );
      }
      return ok;
    }
    case "replacePeer": {
      // The member stays in etcd; the peer comes back at the new version on the same volume.
      const target = { namespace: cluster.metadata.namespace, name: step.peerName };
      const deleted = await deps.kube.delete(resources.etcdPeers, target, {
        propagationPolicy: "Background",
      });
      if (!deleted.ok && deleted.error.kind !== "notFound") return fromKube(deleted);
      if (deleted.ok) {
        record(
          "PeerUpgraded",
          `replacing peer ${step.peerName}: etcd ${step.fromVersion} → ${step.toVersion}, volume kept`,
        );
      }
      return ok;
    }
    case "completeUpgrade":
      record("UpgradeCompleted", `every member runs etcd ${step.version}`);
      return ok;
    case "restartPeer": {
      // Its member and volume stay; the peer comes back on them (createPeers), flag as planned.
      const target = { namespace: cluster.metadata.namespace, name: step.peerName };
      const deleted = await deps.kube.delete(resources.etcdPeers, target, {
        propagationPolicy: "Background",
      });
      if (!deleted.ok && deleted.error.kind !== "notFound") return fromKube(deleted);
      if (deleted.ok) {
        record(
          "MemberRestarted",
          `restarting ${step.peerName} on its volume${
            step.forceNewCluster
              ? " alone, with --force-new-cluster"
              : " without --force-new-cluster"
          }`,
        );
      }
      return ok;
    }
    case "startQuorumRecovery":
      return await recordRecovery(
        context,
        { source: "survivor", survivor: step.survivor, memberId: step.memberId, phase: "forcing" },
        {
          type: "Warning",
          reason: "QuorumRecoveryStarted",
          message: `quorum lost (${step.reason}): restarting ${step.survivor} (member ` +
            `${step.memberId}) alone on its data with --force-new-cluster; the other members ` +
            `are added again on empty volumes`,
        },
      );
    case "advanceQuorumRecovery": {
      const { recovery } = step;
      return await recordRecovery(context, recovery, {
        type: "Normal",
        reason: "QuorumRecoveryProgress",
        message: recovery.source === "survivor"
          ? `${recovery.survivor} serves as the only member; restarting it without ` +
            `--force-new-cluster before any other member joins`
          : recovery.phase === "restoring"
          ? `the lost peers and volumes are gone; EtcdRestore ${recovery.restore} fills new ` +
            `volumes from EtcdBackup ${recovery.backup}`
          : `the recovery's EtcdRestore was deleted; clearing what it left to restore ` +
            `EtcdBackup ${recovery.backup} again`,
      });
    }
    case "startBackupRecovery": {
      const { recovery } = step;
      return await recordRecovery(context, recovery, {
        type: "Warning",
        reason: "QuorumRecoveryStarted",
        message: `no member's data survives (${step.reason}): recovering from EtcdBackup ` +
          `${recovery.backup} (completed ${recovery.completionTime}, ${recovery.objectURL}); ` +
          `writes acknowledged after it are lost. The lost peers and volumes are deleted, ` +
          `then an EtcdRestore fills new volumes`,
      });
    }
    case "createRecoveryRestore": {
      const created = await deps.kube.create(
        resources.etcdRestores,
        recoveryRestoreObject(cluster, step.recovery, step.replicas),
      );
      if (created.ok) {
        record(
          "RestoreCreated",
          `created EtcdRestore ${step.recovery.restore} to restore EtcdBackup ` +
            `${step.recovery.backup} into ${step.replicas} member(s)`,
        );
        return ok;
      }
      return fromKube(created, ["alreadyExists"]);
    }
    case "finishBackupRecovery":
      return await recordRecovery(context, null, {
        type: "Warning",
        reason: "QuorumRestored",
        message: `every member serves the data of EtcdBackup ${step.backup} (completed ` +
          `${step.completionTime}); writes acknowledged after it are lost`,
      }, step.clusterId);
    case "finishQuorumRecovery":
      return await recordRecovery(context, null, {
        type: "Normal",
        reason: "QuorumRestored",
        message:
          `${step.survivor} serves with its data; the other members are added again as learners`,
      });
    case "refuseUpgrade":
      if (step.announce) deps.events.record(cluster, "Warning", "UpgradeRefused", step.message);
      return ok;
    case "wait":
      return ok;
  }
}

/**
 * Records (or, with null, clears) the recovery under way on the EtcdCluster itself, then the Event
 * that says what it means, only once the record is written. `formedAs`: the id of a cluster the
 * recovery formed anew (restored from a backup), its formation record from now on.
 */
async function recordRecovery(
  context: ActContext,
  recovery: QuorumRecovery | null,
  event: { readonly type: "Normal" | "Warning"; readonly reason: string; readonly message: string },
  formedAs?: string,
): Promise<StepOutcome> {
  const { cluster, deps } = context;
  const outcome = fromKube(
    await deps.kube.mergePatch(
      resources.etcdClusters,
      { namespace: cluster.metadata.namespace, name: cluster.metadata.name },
      {
        metadata: {
          annotations: {
            [quorumRecoveryAnnotation]: recovery ? formatQuorumRecovery(recovery) : null,
            ...(formedAs ? { [formedAnnotation]: formedAs } : {}),
          },
        },
      },
    ),
  );
  if (outcome.ok) deps.events.record(cluster, event.type, event.reason, event.message);
  return outcome;
}

/** Deletes, with no grace period, the peer's pods whose node is not ready (see node_health.ts). */
async function forceDeleteStuckPods(
  deps: ClusterActorDeps,
  namespace: string,
  peerName: string,
): Promise<StepOutcome> {
  const nodes = deps.stores.nodes;
  if (!nodes) return ok;
  const pods = deps.stores.pods.list().filter((pod) =>
    pod.metadata.namespace === namespace && pod.metadata.labels?.[peerLabel] === peerName
  );
  for (
    const pod of podsToForceDelete(pods, (name) => {
      const node = nodes.get(name);
      return node && nodeState(node);
    })
  ) {
    const deleted = await deps.kube.delete(
      resources.pods,
      { namespace, name: pod.metadata.name },
      { gracePeriodSeconds: 0, uid: pod.metadata.uid },
    );
    if (!deleted.ok && deleted.error.kind !== "notFound" && deleted.error.kind !== "conflict") {
      return fromKube(deleted);
    }
    if (deleted.ok) {
      deps.log.with({ pod: `${namespace}/${pod.metadata.name}` }).info(
        "deleted the pod of a removed member at once: its node is not ready",
        { node: pod.spec?.nodeName },
      );
    }
  }
  return ok;
}

type StatusRecord = StatusObject & { readonly conditions?: readonly ClusterCondition[] };

/** Writes the status if it changed from `previous`; returns the status as it now stands. */
async function writeStatus(
  cluster: EtcdClusterObject,
  previous: StatusRecord,
  deps: ClusterActorDeps,
  seen: ReturnType<typeof clusterObservation>,
  steps: readonly ClusterStep[],
  clusterVersion: string | undefined,
  onWritten: (resourceVersion: string) => void,
  tlsSeen?: TLSObservation,
  certificates?: string,
): Promise<StatusRecord> {
  const previousVersion = typeof previous.clusterVersion === "string"
    ? previous.clusterVersion
    : undefined;
  const status = clusterStatus({
    seen,
    steps,
    generation: cluster.metadata.generation ?? 0,
    // While etcd cannot be asked, the last known version and members are still the best answer.
    clusterVersion: clusterVersion ?? previousVersion,
    previousMembers: membersOf(previous.members),
    previous: previous.conditions ?? [],
    now: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    ...(certificates ? { certificates } : {}),
  });
  const tls = tlsSeen ? tlsStatus(tlsSeen) : undefined;
  const write = await writeStatusIfChanged(deps.kube, {
    resource: resources.etcdClusters,
    object: cluster,
    previous,
    next: tls ? { ...status, tls } : status,
    fields: ownedStatusFields,
  }, deps.log.with({ cluster: cluster.metadata.name }));
  if (write.kind === "written" && write.resourceVersion) onWritten(write.resourceVersion);
  return write.status;
}

function membersOf(value: unknown): ClusterStatus["members"] {
  if (!Array.isArray(value)) return [];
  return value.filter((member): member is { name: string; id: string } =>
    typeof member?.name === "string" && typeof member?.id === "string"
  ).map((member) => ({ name: member.name, id: member.id }));
}
