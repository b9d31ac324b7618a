// The cluster actor driven through whole operations against an in-memory world: a recording
// Kubernetes client over watch-like stores, and an in-memory etcd membership. Asserts the
// requests it makes, in order. These complement the e2e tests; they do not replace them.
import assert from "node:assert/strict";
import { clusterActor, type ClusterMessage } from "../../../../actors/cluster/actor.ts";
import type { Change, EtcdAccess } from "../../../../etcd/access.ts";
import type { ActorContext } from "../../../../actors/runtime/actor.ts";
import { systemClock } from "../../../../actors/runtime/clock.ts";
import { memberPeerName, peerSelectorLabels } from "../../../../actors/member.ts";
import { directAccess } from "../../../../actors/member_dialer.ts";
import type { ClientTLS } from "../../../../etcd/client.ts";
import { tlsDigestAnnotation } from "../../../../actors/member.ts";
import type {
  EtcdClusterObject,
  EtcdClusterTLS,
  EtcdPeerObject,
  PersistentVolumeClaimObject,
  PodDisruptionBudgetObject,
  PodObject,
  SecretObject,
} from "../../../../actors/types.ts";
import { type EtcdResult, failure, success } from "../../../../etcd/errors.ts";
import type { EtcdObservation, MemberObservation } from "../../../../etcd/observation.ts";
import { type K8sResult } from "../../../../k8s/errors.ts";
import type { KubeObject } from "../../../../k8s/objects.ts";
import type { Resource } from "../../../../k8s/resources.ts";
import { ObjectStore } from "../../../../k8s/store.ts";
import { createLogger } from "../../../../observability/log.ts";

const namespace = "ns";
const name = "c";
const key = `${namespace}/${name}`;

interface EtcdMember {
  readonly id: string;
  name: string;
  readonly peerURL: string;
  isLearner: boolean;
}

/** Kubernetes, the peer actors, the kubelet and etcd, as far as the cluster actor can tell. */
class World {
  readonly calls: string[] = [];
  readonly stores = {
    clusters: new ObjectStore<EtcdClusterObject>(),
    peers: new ObjectStore<EtcdPeerObject>(),
    services: new ObjectStore<KubeObject>(),
    disruptionBudgets: new ObjectStore<PodDisruptionBudgetObject>(),
    pods: new ObjectStore<PodObject>(),
    volumeClaims: new ObjectStore<PersistentVolumeClaimObject>(),
    replicaSets: new ObjectStore<KubeObject>(),
    secrets: new ObjectStore<SecretObject>(),
  };
  /** The TLS material the actor's etcd clients were last given (undefined: plain HTTP). */
  clientTLS: ClientTLS | undefined;
  members: EtcdMember[] = [];
  leaderId: string | undefined;
  #version = 1;
  #ids = 0;

  constructor(replicas: number, tls?: EtcdClusterTLS) {
    this.#store("etcdclusters").apply("ADDED", {
      apiVersion: "etcd.improbable.io/v1alpha1",
      kind: "EtcdCluster",
      metadata: this.#meta(name, 1),
      spec: {
        replicas,
        version: "3.5.21",
        storage: {
          volumeClaimTemplate: {
            storageClassName: "standard",
            resources: { requests: { storage: "1Gi" } },
          },
        },
        ...(tls ? { tls } : {}),
      },
    } as EtcdClusterObject);
  }

  #meta(objectName: string, generation?: number) {
    return {
      name: objectName,
      namespace,
      uid: `uid-${objectName}-${this.#version}`,
      resourceVersion: String(++this.#version),
      ...(generation ? { generation } : {}),
    };
  }

  // deno-lint-ignore no-explicit-any
  #store(plural: string): ObjectStore<any> {
    const stores: Record<string, ObjectStore<KubeObject>> = {
      etcdclusters: this.stores.clusters,
      etcdpeers: this.stores.peers,
      services: this.stores.services,
      poddisruptionbudgets: this.stores.disruptionBudgets,
      pods: this.stores.pods,
      persistentvolumeclaims: this.stores.volumeClaims,
      replicasets: this.stores.replicaSets,
      secrets: this.stores.secrets,
    };
    const store = stores[plural];
    if (!store) throw new Error(`the cluster actor has no business with ${plural}`);
    return store;
  }

  scale(replicas: number) {
    this.editSpec((spec) => ({ ...spec, replicas }));
  }

  editSpec(edit: (spec: EtcdClusterObject["spec"]) => EtcdClusterObject["spec"]) {
    const cluster = this.stores.clusters.get(key)!;
    this.stores.clusters.apply("MODIFIED", {
      ...cluster,
      metadata: {
        ...cluster.metadata,
        generation: (cluster.metadata.generation ?? 1) + 1,
        resourceVersion: String(++this.#version),
      },
      spec: edit(cluster.spec),
    });
  }

  setVersion(version: string) {
    const cluster = this.stores.clusters.get(key)!;
    this.stores.clusters.apply("MODIFIED", {
      ...cluster,
      metadata: {
        ...cluster.metadata,
        generation: (cluster.metadata.generation ?? 1) + 1,
        resourceVersion: String(++this.#version),
      },
      spec: { ...cluster.spec, version },
    });
  }

  readonly kube = {
    create: <T extends KubeObject>(resource: Resource, body: T): Promise<K8sResult<T>> => {
      const objectName = body.metadata.name!;
      this.calls.push(`create ${resource.plural} ${objectName}`);
      const store = this.#store(resource.plural);
      if (store.get(`${namespace}/${objectName}`)) {
        return Promise.resolve({
          ok: false,
          error: { kind: "alreadyExists", message: "exists" },
        } as K8sResult<T>);
      }
      const stored = { ...body, metadata: { ...body.metadata, ...this.#meta(objectName) } };
      store.apply("ADDED", stored);
      return Promise.resolve({ ok: true, value: stored as T });
    },
    delete: (resource: Resource, target: { namespace?: string; name: string }) => {
      this.calls.push(`delete ${resource.plural} ${target.name}`);
      if (resource.plural === "replicasets") {
        // The peer actors' ReplicaSets are not modelled: its pod goes (garbage collection).
        for (const pod of this.#podsOf(target.name)) this.stores.pods.apply("DELETED", pod);
        return Promise.resolve({ ok: true, value: {} } as const);
      }
      const store = this.#store(resource.plural);
      const found = store.get(`${namespace}/${target.name}`);
      if (!found) {
        return Promise.resolve(
          { ok: false, error: { kind: "notFound", message: "gone" } } as const,
        );
      }
      store.apply("DELETED", found);
      if (resource.plural === "etcdpeers") {
        // Its ReplicaSet and pod go with it (garbage collection).
        for (const pod of this.#podsOf(target.name)) this.stores.pods.apply("DELETED", pod);
      }
      return Promise.resolve({ ok: true, value: found } as const);
    },
    mergePatch: (
      resource: Resource,
      target: { namespace?: string; name: string },
      patch: { metadata?: { annotations?: Record<string, string> }; status?: object },
      options: { subresource?: string } = {},
    ) => {
      const what = options.subresource ? `${resource.plural}/status` : resource.plural;
      if (!options.subresource) this.calls.push(`patch ${what} ${target.name}`);
      const store = this.#store(resource.plural);
      const found = store.get(`${namespace}/${target.name}`);
      // A merge patch (RFC 7386), two levels deep (status.tls): objects merge, null removes.
      const isObject = (value: unknown): value is Record<string, unknown> =>
        typeof value === "object" && value !== null && !Array.isArray(value);
      const merge = (into: unknown, patchValue: unknown): unknown =>
        isObject(patchValue) && isObject(into)
          ? Object.fromEntries(
            Object.entries({ ...into, ...patchValue }).filter(([, v]) => v !== null),
          )
          : patchValue;
      const status = Object.fromEntries(
        Object.entries({ ...found.status, ...patch.status }).filter(([, v]) => v !== null)
          .map(([k, v]) => [k, merge(found.status?.[k], v)]),
      );
      const patched = {
        ...found,
        metadata: {
          ...found.metadata,
          annotations: { ...found.metadata.annotations, ...patch.metadata?.annotations },
          resourceVersion: String(++this.#version),
        },
        status,
      };
      store.apply("MODIFIED", patched);
      return Promise.resolve({ ok: true, value: patched });
    },
    apply: (resource: Resource, body: KubeObject) => {
      this.calls.push(`apply ${resource.plural} ${body.metadata.name}`);
      const stored = {
        ...body,
        metadata: { ...body.metadata, ...this.#meta(body.metadata.name!) },
      };
      this.#store(resource.plural).apply("MODIFIED", stored);
      return Promise.resolve({ ok: true, value: stored });
    },
    replace: (resource: Resource, body: KubeObject) => {
      this.calls.push(`replace ${resource.plural} ${body.metadata.name}`);
      const store = this.#store(resource.plural);
      const found = store.get(`${namespace}/${body.metadata.name}`);
      if (!found || found.metadata.resourceVersion !== body.metadata.resourceVersion) {
        return Promise.resolve({ ok: false, error: { kind: "conflict", message: "stale" } });
      }
      const stored = {
        ...body,
        metadata: { ...body.metadata, resourceVersion: String(++this.#version) },
      };
      store.apply("MODIFIED", stored);
      return Promise.resolve({ ok: true, value: stored });
    },
    get: (resource: Resource, target: { namespace?: string; name: string }) => {
      const found = this.#store(resource.plural).get(`${namespace}/${target.name}`);
      return Promise.resolve(
        found
          ? { ok: true, value: found }
          : { ok: false, error: { kind: "notFound", message: "gone" } },
      );
    },
  } as unknown as import("../../../../actors/cluster/actor.ts").ClusterKube;

  #podsOf(peerName: string): PodObject[] {
    return this.stores.pods.list().filter((pod) =>
      pod.metadata.labels?.["etcd.improbable.io/peer-name"] === peerName
    );
  }

  /** What the peer actors and the kubelet do between two passes: volumes, pods, etcd starting. */
  settle() {
    for (const peer of this.stores.peers.list()) {
      const peerName = peer.metadata.name;
      const hasVolume = this.stores.volumeClaims.get(`${namespace}/${peerName}`) !== undefined;
      // A peer whose recorded volume is gone gets neither a new volume nor a running pod.
      if (!hasVolume && peer.metadata.annotations?.["etcd.improbable.io/volume-uid"]) continue;
      if (!hasVolume) {
        this.stores.volumeClaims.apply("ADDED", {
          apiVersion: "v1",
          kind: "PersistentVolumeClaim",
          metadata: { ...this.#meta(peerName), labels: peerSelectorLabels(name, peerName) },
        });
      }
      if (this.#podsOf(peerName).length === 0) {
        const digest = peer.metadata.annotations?.[tlsDigestAnnotation];
        this.stores.pods.apply("ADDED", {
          apiVersion: "v1",
          kind: "Pod",
          metadata: {
            ...this.#meta(`${peerName}-pod`),
            labels: peerSelectorLabels(name, peerName),
            ...(digest ? { annotations: { [tlsDigestAnnotation]: digest } } : {}),
          },
          status: {
            phase: "Running",
            podIP: `10.0.0.${peer.metadata.name.split("-")[1]}`,
            containerStatuses: [{ name: "etcd", restartCount: 0, state: { running: {} } }],
          },
        });
      }
      // A bootstrapping member forms the cluster; a learner publishes its name once it runs.
      const scheme = peer.spec.tls?.peer ? "https" : "http";
      const url = `${scheme}://${peerName}.${name}.${namespace}.svc:2380`;
      const member = this.members.find((m) => m.peerURL === url);
      if (member) member.name = peerName;
      else if (peer.spec.bootstrap.initialClusterState === "New") {
        this.members.push({ id: this.#newId(), name: peerName, peerURL: url, isLearner: false });
        this.leaderId ??= this.members[0].id;
      }
    }
  }

  #newId() {
    return (0xa0 + this.#ids++).toString(16);
  }

  readonly etcd: EtcdAccess = {
    retain: () => {},
    useTLS: (material) => {
      this.clientTLS = material;
    },
    release: () => {},
    close: () => {},
    observe: (): Promise<EtcdObservation> => {
      const running = (member: EtcdMember) =>
        member.name !== "" && this.#podsOf(memberPeerName(name, member) ?? "").length > 0;
      const members: MemberObservation[] = this.members.map((member) => ({
        id: member.id,
        name: member.name,
        peerURLs: [member.peerURL],
        clientURLs: [],
        isLearner: member.isLearner,
        reachable: running(member),
        healthy: running(member),
        version: "3.5.21",
        alarms: [],
        errors: [],
      }));
      return Promise.resolve({
        clusterId: "cafe",
        members,
        leaderId: this.leaderId,
        clusterVersion: "3.5.0",
        errors: [],
      });
    },
    addLearner: (_endpoints, peerURL): Promise<EtcdResult<Change>> => {
      this.calls.push(`etcd addLearner ${peerURL.split(".")[0].replace(/^https?:\/\//, "")}`);
      this.members.push({ id: this.#newId(), name: "", peerURL, isLearner: true });
      return Promise.resolve(success({ changed: true }));
    },
    promote: (_endpoints, memberId): Promise<EtcdResult<Change>> => {
      const member = this.members.find((m) => m.id === memberId)!;
      this.calls.push(`etcd promote ${memberPeerName(name, member)}`);
      if (!member.name) return Promise.resolve(failure("learnerNotReady", "not caught up"));
      member.isLearner = false;
      return Promise.resolve(success({ changed: true }));
    },
    removeMember: (_endpoints, memberId): Promise<EtcdResult<Change>> => {
      const member = this.members.find((m) => m.id === memberId)!;
      this.calls.push(`etcd removeMember ${member.name}`);
      this.members = this.members.filter((m) => m.id !== memberId);
      return Promise.resolve(success({ changed: true }));
    },
    moveLeader: (_endpoints, toId): Promise<EtcdResult<Change>> => {
      this.calls.push(`etcd moveLeader ${this.members.find((m) => m.id === toId)?.name}`);
      this.leaderId = toId;
      return Promise.resolve(success({ changed: true }));
    },
  };
}

/** Runs passes (settling the world after each) until a pass asks for nothing; returns the events. */
async function converge(world: World, events: string[], maxPasses = 40): Promise<void> {
  await convergeWith(
    world,
    events,
    maxPasses,
    (_object, _type, reason) => void events.push(reason),
  );
}

async function convergeWith(
  world: World,
  _events: string[],
  maxPasses: number,
  record: (object: KubeObject, type: string, reason: string, message: string) => void,
): Promise<void> {
  const actor = clusterActor(key, {
    kube: world.kube,
    etcdAccess: () => world.etcd,
    stores: world.stores,
    events: { record },
    memberAccess: directAccess("podIP"),
    log: createLogger("error", {}, () => {}),
  });
  const context: ActorContext<ClusterMessage> = {
    kind: "EtcdCluster",
    name: key,
    clock: systemClock,
    self: () => true,
    scheduleSelf: () => () => {},
    onMessage: () => () => {},
  };
  const behavior = await actor.init(context);
  try {
    let quiet = 0;
    for (let pass = 0; pass < maxPasses && quiet < 2; pass++) {
      const before = world.calls.length;
      await behavior.handle({ kind: "reconcile" }, context);
      world.settle();
      quiet = world.calls.length === before ? quiet + 1 : 0;
    }
    assert.ok(quiet >= 2, `still acting after ${maxPasses} passes: ${world.calls.join("; ")}`);
  } finally {
    await behavior.terminate?.({ kind: "stopped" });
  }
}

const membership = (calls: readonly string[]) =>
  calls.filter((call) => !call.startsWith("create services"));

Deno.test("cluster actor: bootstrap, scale 1 → 3 and back to 1, request by request", async () => {
  const world = new World(1);
  const events: string[] = [];
  await converge(world, events);
  assert.deepEqual(membership(world.calls), [
    "create etcdpeers c-0",
    "patch etcdclusters c", // the formation, recorded before anything else of that pass
    "apply poddisruptionbudgets c",
  ]);
  assert.deepEqual(world.members.map((m) => m.name), ["c-0"]);

  world.calls.length = 0;
  world.scale(3);
  await converge(world, events);
  assert.deepEqual(world.calls, [
    "etcd addLearner c-1",
    "create etcdpeers c-1",
    "apply poddisruptionbudgets c", // quorum of 2 peers: 2
    "etcd promote c-1",
    "etcd addLearner c-2",
    "create etcdpeers c-2",
    "etcd promote c-2", // quorum of 3 peers is 2 as well: the budget stays
  ]);
  assert.deepEqual(world.members.map((m) => [m.name, m.isLearner]), [
    ["c-0", false],
    ["c-1", false],
    ["c-2", false],
  ]);

  // The highest member leads: leadership moves before it is removed; each volume goes before
  // its peer.
  world.leaderId = world.members[2].id;
  world.calls.length = 0;
  world.scale(1);
  await converge(world, events);
  assert.deepEqual(world.calls, [
    "etcd moveLeader c-0",
    "etcd removeMember c-2",
    "delete persistentvolumeclaims c-2",
    "delete etcdpeers c-2",
    "etcd removeMember c-1",
    "delete persistentvolumeclaims c-1",
    "delete etcdpeers c-1",
    "apply poddisruptionbudgets c",
  ]);
  assert.deepEqual(world.members.map((m) => m.name), ["c-0"]);
  assert.deepEqual(world.stores.peers.keys(), ["ns/c-0"]);
  for (
    const reason of ["ClusterFormed", "MemberAdded", "MemberPromoted", "LeaderMoved", "PeerRemoved"]
  ) {
    assert.ok(events.includes(reason), `${reason} in ${events}`);
  }
});

Deno.test("cluster actor: a member whose volume is lost is removed, its volume and peer deleted, and it is added again", async () => {
  const world = new World(3);
  const events: string[] = [];
  await converge(world, events);
  assert.equal(world.members.length, 3);
  const oldId = world.members.find((m) => m.name === "c-2")!.id;
  // Record the volumes as the peer actors would, then lose c-2's.
  for (const peer of world.stores.peers.list()) {
    const claim = world.stores.volumeClaims.get(`${namespace}/${peer.metadata.name}`)!;
    await world.kube.mergePatch(
      { plural: "etcdpeers" } as Resource,
      { namespace, name: peer.metadata.name },
      { metadata: { annotations: { "etcd.improbable.io/volume-uid": claim.metadata.uid } } },
    );
  }
  world.stores.volumeClaims.apply("DELETED", world.stores.volumeClaims.get(`${namespace}/c-2`)!);
  world.stores.pods.apply("DELETED", world.stores.pods.get(`${namespace}/c-2-pod`)!);
  world.calls.length = 0;
  await converge(world, events);
  assert.deepEqual(world.calls, [
    "etcd removeMember c-2",
    "delete persistentvolumeclaims c-2",
    "delete etcdpeers c-2",
    "etcd addLearner c-2",
    "create etcdpeers c-2",
    "etcd promote c-2",
  ]);
  const replaced = world.members.find((m) => m.name === "c-2")!;
  assert.notEqual(replaced.id, oldId);
  assert.ok(events.includes("MemberReplaced"), `MemberReplaced in ${events}`);
});

Deno.test("cluster actor: a version that skips a minor version is refused once, with a Warning, and no member is touched", async () => {
  const world = new World(3);
  const events: string[] = [];
  await converge(world, events);
  world.calls.length = 0;
  events.length = 0;
  world.setVersion("3.7.0"); // etcd reports cluster version 3.5.0
  await converge(world, events);
  await converge(world, events);
  assert.deepEqual(world.calls, []);
  assert.deepEqual(events, ["UpgradeRefused"]);
  const progressing = world.stores.clusters.get(key)!.status?.conditions?.find((condition) =>
    condition.type === "Progressing"
  );
  assert.equal(progressing?.reason, "UpgradeRefused");
  assert.match(progressing?.message ?? "", /3\.7\.0 skips a minor version/);

  // Set to the next minor version, the upgrade goes ahead (and a later skip is announced anew).
  world.setVersion("3.6.0");
  await converge(world, events);
  const calls: readonly string[] = world.calls;
  assert.ok(calls.includes("delete etcdpeers c-2"), calls.join("; "));
});

const secretKeys = (world: World, secretName: string) =>
  Object.keys(world.stores.secrets.get(`${namespace}/${secretName}`)?.data ?? {}).sort();

/** A TLS world converged, its calls and events (reason: message) forgotten. */
async function tlsCluster(): Promise<{ world: World; messages: string[] }> {
  const world = new World(3, { client: {}, peer: {} });
  const messages: string[] = [];
  await convergeWith(world, [], 60, (_object, _type, reason, message) => {
    messages.push(`${reason}: ${message}`);
  });
  return { world, messages };
}

Deno.test("cluster actor with TLS: the CA, then every certificate, then the peers that mount them", async () => {
  const { world, messages } = await tlsCluster();
  const creates = world.calls.filter((call) => call.startsWith("create "));
  // Secret writes come first and end their pass; the CA alone, since it signs every leaf.
  assert.deepEqual(creates.slice(0, 9), [
    "create secrets c-tls-ca",
    "create secrets c-0-tls",
    "create secrets c-1-tls",
    "create secrets c-2-tls",
    "create secrets c-tls-operator",
    "create secrets c-tls-client",
    "create services c",
    "create services c-client",
    "create etcdpeers c-0",
  ]);
  for (const peerName of ["c-0", "c-1", "c-2"]) {
    const peer = world.stores.peers.get(`${namespace}/${peerName}`)!;
    assert.deepEqual(peer.spec.tls, {
      client: { secretName: `${peerName}-tls` },
      peer: { secretName: `${peerName}-tls` },
    });
    assert.match(peer.metadata.annotations?.[tlsDigestAnnotation] ?? "", /^[0-9a-f]{64}$/);
  }
  assert.deepEqual(secretKeys(world, "c-tls-ca"), ["ca.crt", "tls.crt", "tls.key"]);
  // The operator dials with its own certificate; the members are found by https URLs.
  assert.match(world.clientTLS?.cert ?? "", /BEGIN CERTIFICATE/);
  assert.ok(world.members.every((member) => member.peerURL.startsWith("https://")));
  const status = world.stores.clusters.get(key)!.status?.tls as {
    certificates: { secretName: string; role: string }[];
  };
  assert.deepEqual(status.certificates.map((c) => c.role).sort(), [
    "applicationClient",
    "ca",
    "member",
    "member",
    "member",
    "operatorClient",
  ]);
  assert.equal(messages.filter((m) => m.startsWith("CertificateIssued")).length, 6);
  // No key material in any Event (or status).
  for (const text of [...messages, JSON.stringify(status)]) {
    assert.doesNotMatch(text, /PRIVATE KEY|BEGIN/);
  }
  // Converged: nothing restarts (the pods started with the Secrets' digest).
  assert.ok(!world.calls.some((call) => call.startsWith("delete replicasets")));
});

Deno.test("cluster actor with TLS: scale-up adds an https learner whose Secret exists before its peer", async () => {
  const { world } = await tlsCluster();
  world.calls.length = 0;
  world.scale(4);
  await converge(world, []);
  assert.deepEqual(world.calls.slice(0, 3), [
    "create secrets c-3-tls",
    "etcd addLearner c-3",
    "create etcdpeers c-3",
  ]);
  world.calls.length = 0;
  world.scale(3);
  await converge(world, []);
  assert.ok(world.calls.includes("delete secrets c-3-tls"), world.calls.join("; "));
});

Deno.test("cluster actor with TLS: a CA rotation goes through its three phases, one member restart at a time, the leader last after moving leadership", async () => {
  const { world, messages } = await tlsCluster();
  world.calls.length = 0;
  const phases: string[] = [];
  world.editSpec((spec) => ({ ...spec, tls: { ...spec.tls, certificates: { caRotation: 1 } } }));
  const leader = world.members.find((member) => member.id === world.leaderId)!.name;
  await convergeWith(world, [], 120, (_object, _type, reason, message) => {
    messages.push(`${reason}: ${message}`);
    if (reason === "CARotationStarted" || reason === "CARotationPhase") phases.push(reason);
    if (reason === "MemberRestartedForTLS") phases.push(message.split(":")[0]);
    if (reason === "LeaderMoved") phases.push("LeaderMoved");
  });
  const restarts = world.calls.filter((call) => call.startsWith("delete replicasets"));
  assert.equal(restarts.length, 9, world.calls.join("; "));
  const followers = ["c-2", "c-1", "c-0"].filter((peerName) => peerName !== leader);
  const round = [...followers.map((p) => `restarting ${p}`), "LeaderMoved", `restarting ${leader}`];
  assert.deepEqual(phases.slice(0, 5), ["CARotationStarted", ...round]);
  assert.equal(phases[5], "CARotationPhase");
  // Three rounds of restarts, each with the leader last.
  assert.equal(phases.filter((phase) => phase === "LeaderMoved").length, 3, phases.join(", "));
  assert.equal(phases.filter((phase) => phase === "CARotationPhase").length, 2);
  assert.equal(phases.at(-1)?.startsWith("restarting"), true);
  // Done: the CA Secret holds the new CA alone, every leaf was re-issued from it.
  assert.deepEqual(secretKeys(world, "c-tls-ca"), ["ca.crt", "tls.crt", "tls.key"]);
  assert.equal(
    messages.filter((m) => m.startsWith("CertificateRenewed")).length,
    5,
    messages.join("\n"),
  );
  const status = world.stores.clusters.get(key)!.status?.tls as { caRotationPhase?: string };
  assert.equal(status.caRotationPhase, undefined);
  for (const text of messages) assert.doesNotMatch(text, /PRIVATE KEY|BEGIN/);
});

async function until(condition: () => boolean): Promise<void> {
  for (let turn = 0; !condition(); turn++) {
    if (turn > 1_000) throw new Error("never happened");
    await Promise.resolve();
  }
}

/** An actor on `world` whose status writes, observations and steps land in `trace`, in order. */
async function tracedActor(world: World, trace: string[]) {
  const kube = {
    ...world.kube,
    mergePatch: (
      resource: Resource,
      target: { namespace?: string; name: string },
      patch: { status?: { observedGeneration?: number } },
      options: { subresource?: string } = {},
    ) => {
      if (options.subresource) {
        trace.push(`status observedGeneration=${patch.status?.observedGeneration ?? "unchanged"}`);
      }
      return world.kube.mergePatch(resource, target, patch as never, options as never);
    },
  } as unknown as import("../../../../actors/cluster/actor.ts").ClusterKube;
  /** While set, observations wait for it: a slow member. */
  let slowEtcd: Promise<void> | undefined;
  const etcd: EtcdAccess = {
    ...world.etcd,
    observe: async (endpoints, memberEndpoint) => {
      trace.push("etcd observe");
      await slowEtcd;
      return await world.etcd.observe(endpoints, memberEndpoint);
    },
    addLearner: (endpoints, peerURL) => {
      trace.push("etcd addLearner");
      return world.etcd.addLearner(endpoints, peerURL);
    },
  };
  const actor = clusterActor(key, {
    kube,
    etcdAccess: () => etcd,
    stores: world.stores,
    events: { record: () => {} },
    memberAccess: directAccess("podIP"),
    log: createLogger("error", {}, () => {}),
  });
  const context: ActorContext<ClusterMessage> = {
    kind: "EtcdCluster",
    name: key,
    clock: systemClock,
    self: () => true,
    scheduleSelf: () => () => {},
    onMessage: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  const listeners = new Set<() => void>();
  const behavior = await actor.init(context);
  return {
    pass: () => behavior.handle({ kind: "reconcile" }, context),
    /** A watch event reaches the actor's mailbox. */
    notify: () => listeners.forEach((listener) => listener()),
    /** Makes etcd slow to answer until the returned function is called. */
    slow: () => {
      const { promise, resolve } = Promise.withResolvers<void>();
      slowEtcd = promise;
      return () => {
        slowEtcd = undefined;
        resolve();
      };
    },
  };
}

Deno.test("cluster actor: a spec change is acknowledged from the last pass's observation before etcd is asked again; its step waits for the fresh one", async () => {
  const world = new World(1);
  await converge(world, []);
  const trace: string[] = [];
  const actor = await tracedActor(world, trace);
  await actor.pass(); // a periodic pass: it learns what etcd says
  trace.length = 0;
  world.scale(2);
  await actor.pass();
  assert.deepEqual(trace.slice(0, 3), [
    "status observedGeneration=2",
    "etcd observe",
    "etcd addLearner",
  ]);
});

Deno.test("cluster actor: with no observation of its own yet, a spec change is acknowledged after observing etcd and before the first step", async () => {
  const world = new World(1);
  await converge(world, []);
  world.scale(2);
  const trace: string[] = [];
  const actor = await tracedActor(world, trace); // a restarted actor remembers nothing
  await actor.pass();
  assert.deepEqual(trace.slice(0, 3), [
    "etcd observe",
    "status observedGeneration=2",
    "etcd addLearner",
  ]);
});

Deno.test("cluster actor: a spec change while etcd is slow to answer a periodic pass ends that pass before any write or step; the next acts for the new spec", async () => {
  const world = new World(1);
  await converge(world, []);
  const trace: string[] = [];
  const actor = await tracedActor(world, trace);
  await actor.pass();
  trace.length = 0;
  const answer = actor.slow();
  const periodic = actor.pass();
  await until(() => trace.includes("etcd observe"));
  actor.notify(); // a pod event: the pass goes on waiting
  world.scale(2);
  actor.notify(); // the spec change: the pass is dropped
  await periodic;
  assert.deepEqual(trace, ["etcd observe"]);
  answer();
  await actor.pass();
  assert.deepEqual(trace.slice(1, 4), [
    "status observedGeneration=2",
    "etcd observe",
    "etcd addLearner",
  ]);
});

Deno.test("cluster actor: other news during a slow observation does not drop the pass", async () => {
  const world = new World(1);
  await converge(world, []);
  world.scale(2);
  const trace: string[] = [];
  const actor = await tracedActor(world, trace);
  const answer = actor.slow();
  const pass = actor.pass();
  await until(() => trace.includes("etcd observe"));
  actor.notify();
  answer();
  await pass;
  assert.deepEqual(trace.slice(0, 3), [
    "etcd observe",
    "status observedGeneration=2",
    "etcd addLearner",
  ]);
});
