import assert from "node:assert/strict";
import { failure, type K8sError, type K8sResult, success } from "../../../k8s/errors.ts";
import { aggregationKey, type EventClient, eventName, EventRecorder } from "../../../k8s/events.ts";
import { silentLog } from "../../../k8s/log.ts";
import type { KubeObject } from "../../../k8s/objects.ts";

interface Call {
  readonly verb: "create" | "patch";
  readonly name: string;
  readonly body: Record<string, unknown>;
}

/** Records every call; `failNext` makes the next call of a verb fail with the given error. */
function fakeClient() {
  const calls: Call[] = [];
  const failNext: { create?: K8sError; patch?: K8sError } = {};
  const client: EventClient = {
    create: <T extends KubeObject>(_resource: unknown, body: T) => {
      calls.push({
        verb: "create",
        name: body.metadata.name ?? "",
        body: body as unknown as Record<string, unknown>,
      });
      const error = failNext.create;
      failNext.create = undefined;
      return Promise.resolve<K8sResult<T>>(error ? failure(error) : success(body));
    },
    mergePatch: <T extends KubeObject>(
      _resource: unknown,
      target: { name: string },
      patch: unknown,
    ) => {
      calls.push({ verb: "patch", name: target.name, body: patch as Record<string, unknown> });
      const error = failNext.patch;
      failNext.patch = undefined;
      return Promise.resolve<K8sResult<T>>(error ? failure(error) : success({ metadata: {} } as T));
    },
  };
  return { client, calls, failNext };
}

const cluster: KubeObject = {
  apiVersion: "etcd.improbable.io/v1alpha1",
  kind: "EtcdCluster",
  metadata: { namespace: "ns", name: "c", uid: "u-1" },
};
const now = () => new Date(Date.UTC(2024, 4, 1, 12, 0, 0));

Deno.test("an event names its object, source component and timestamps", async () => {
  const { client, calls } = fakeClient();
  await new EventRecorder(client, { now, log: silentLog, instance: "pod-1" })
    .record(cluster, "Normal", "ServiceCreated", "created service c");
  assert.equal(calls.length, 1);
  const body = calls[0].body;
  assert.deepEqual(body.involvedObject, {
    apiVersion: "etcd.improbable.io/v1alpha1",
    kind: "EtcdCluster",
    namespace: "ns",
    name: "c",
    uid: "u-1",
  });
  assert.deepEqual(body.source, { component: "etcd-operator" });
  assert.equal(body.reportingComponent, "etcd-operator");
  assert.equal(body.reportingInstance, "pod-1");
  assert.equal(body.type, "Normal");
  assert.equal(body.reason, "ServiceCreated");
  assert.equal(body.count, 1);
  assert.equal(body.firstTimestamp, "2024-05-01T12:00:00Z");
  assert.equal(body.lastTimestamp, "2024-05-01T12:00:00Z");
  assert.deepEqual(body.metadata, { name: calls[0].name, namespace: "ns" });
});

Deno.test("a repeated identical event bumps the count of the first one", async () => {
  const { client, calls } = fakeClient();
  const recorder = new EventRecorder(client, { now, log: silentLog });
  for (let time = 0; time < 3; time++) {
    await recorder.record(cluster, "Warning", "EvenReplicas", "use odd");
  }
  assert.deepEqual(calls.map((call) => call.verb), ["create", "patch", "patch"]);
  assert.deepEqual(calls.map((call) => call.body.count), [1, 2, 3]);
  assert.ok(calls.every((call) => call.name === calls[0].name));
  assert.equal(calls[2].body.lastTimestamp, "2024-05-01T12:00:00Z");
});

Deno.test("a different message or reason is a different event", async () => {
  const { client, calls } = fakeClient();
  const recorder = new EventRecorder(client, { now, log: silentLog });
  await recorder.record(cluster, "Normal", "PeerCreated", "created c-0");
  await recorder.record(cluster, "Normal", "PeerCreated", "created c-1");
  await recorder.record(cluster, "Normal", "MemberAdded", "created c-1");
  assert.deepEqual(calls.map((call) => call.verb), ["create", "create", "create"]);
});

Deno.test("repeats recorded at the same moment create one event, not two", async () => {
  const { client, calls } = fakeClient();
  const recorder = new EventRecorder(client, { now, log: silentLog });
  await Promise.all([1, 2, 3].map(() => recorder.record(cluster, "Normal", "Same", "same")));
  assert.deepEqual(calls.map((call) => call.verb), ["create", "patch", "patch"]);
});

Deno.test("an expired event is created afresh instead of patched", async () => {
  const { client, calls, failNext } = fakeClient();
  const recorder = new EventRecorder(client, { now, log: silentLog });
  await recorder.record(cluster, "Normal", "R", "m");
  failNext.patch = { kind: "notFound", message: "not found", status: 404 };
  await recorder.record(cluster, "Normal", "R", "m");
  assert.deepEqual(calls.map((call) => call.verb), ["create", "patch", "create"]);
  assert.equal(calls[2].body.count, 1);
});

Deno.test("a failed write is logged, never thrown at the caller", async () => {
  const { client, failNext } = fakeClient();
  const logged: string[] = [];
  const recorder = new EventRecorder(client, {
    now,
    log: (_level, message) => logged.push(message),
  });
  failNext.create = { kind: "forbidden", message: "events is forbidden", status: 403 };
  await recorder.record(cluster, "Warning", "R", "m");
  assert.deepEqual(logged, ["could not record event"]);
  const throwing: EventClient = { ...client, create: () => Promise.reject(new Error("boom")) };
  await new EventRecorder(throwing, { log: silentLog }).record(cluster, "Warning", "R", "m");
});

Deno.test("long messages are cut so the server does not refuse them", async () => {
  const { client, calls } = fakeClient();
  await new EventRecorder(client, { now, log: silentLog }).record(
    cluster,
    "Normal",
    "R",
    "x".repeat(5000),
  );
  assert.equal(String(calls[0].body.message).length, 1024);
});

Deno.test("event names are the object's name and a hex suffix, within 253 characters", () => {
  const name = eventName("c-0", new Date(0x18f2a), () => 0.5);
  assert.equal(name, "c-0.18f2a8000");
  assert.ok(eventName("x".repeat(300), new Date(), Math.random).length <= 253);
});

Deno.test("the aggregation key ignores nothing a reader would see", () => {
  const involved = { apiVersion: "v1", kind: "Pod", namespace: "ns", name: "p", uid: "u" };
  const key = aggregationKey(involved, "Normal", "R", "m");
  assert.equal(key, aggregationKey({ ...involved }, "Normal", "R", "m"));
  assert.notEqual(key, aggregationKey({ ...involved, uid: "v" }, "Normal", "R", "m"));
  assert.notEqual(key, aggregationKey(involved, "Warning", "R", "m"));
});
