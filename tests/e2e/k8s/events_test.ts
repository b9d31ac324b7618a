// Events recorded by the operator's identity land on the server, and repeats fold into a count.
import assert from "node:assert/strict";
import { EventRecorder } from "../../../k8s/events.ts";
import { silentLog } from "../../../k8s/log.ts";
import type { KubeObject } from "../../../k8s/objects.ts";
import { resources } from "../../../k8s/resources.ts";
import { kubectlOk, temporaryNamespace } from "../support/cluster.ts";
import { operatorClient, valueOf } from "./support.ts";

interface CoreEvent {
  readonly metadata: { readonly name: string };
  readonly involvedObject: { readonly kind: string; readonly name: string; readonly uid: string };
  readonly reason: string;
  readonly message: string;
  readonly type: string;
  readonly count: number;
  readonly source: { readonly component?: string };
  readonly firstTimestamp: string;
  readonly lastTimestamp: string;
}

async function eventsIn(namespace: string): Promise<CoreEvent[]> {
  const output = await kubectlOk(["get", "events", "-n", namespace, "-o", "json"]);
  return (JSON.parse(output).items as CoreEvent[]).sort((a, b) => a.reason.localeCompare(b.reason));
}

Deno.test("events are recorded against their object and repeats bump the count", async () => {
  await using namespace = await temporaryNamespace("k8s-events");
  using client = await operatorClient();
  const owner: KubeObject = valueOf(
    await client.create(resources.services, {
      apiVersion: "v1",
      kind: "Service",
      metadata: { namespace: namespace.name, name: "my-cluster" },
      spec: { clusterIP: "None", ports: [{ port: 2379 }] },
    } as KubeObject),
  );
  // The server's answer carries apiVersion, kind and uid: all an involvedObject needs.
  const involved = owner;
  const recorder = new EventRecorder(client, { log: silentLog, instance: "e2e" });
  for (let time = 0; time < 3; time++) {
    await recorder.record(
      involved,
      "Warning",
      "EvenReplicas",
      "2 members tolerate no more failures than 1",
    );
  }
  await recorder.record(
    involved,
    "Normal",
    "ServiceCreated",
    "created headless service my-cluster",
  );
  await recorder.flush();

  const [even, created] = await eventsIn(namespace.name);
  assert.equal(even.reason, "EvenReplicas");
  assert.equal(even.type, "Warning");
  assert.equal(even.count, 3);
  assert.equal(even.source.component, "etcd-operator");
  assert.deepEqual(
    [even.involvedObject.kind, even.involvedObject.name, even.involvedObject.uid],
    ["Service", "my-cluster", owner.metadata.uid],
  );
  assert.ok(Date.parse(even.lastTimestamp) >= Date.parse(even.firstTimestamp));
  assert.equal(created.reason, "ServiceCreated");
  assert.equal(created.type, "Normal");
  assert.equal(created.count, 1);
  assert.equal((await eventsIn(namespace.name)).length, 2);
});

Deno.test("an event that cannot be written is logged and does not reach the caller", async () => {
  using client = await operatorClient();
  const logged: string[] = [];
  const recorder = new EventRecorder(client, { log: (_level, message) => logged.push(message) });
  // No such namespace: the create fails with notFound, and record still resolves.
  const ghost = {
    apiVersion: "v1",
    kind: "Service",
    namespace: `absent-${crypto.randomUUID().slice(0, 8)}`,
    name: "x",
  };
  await recorder.record(ghost, "Normal", "Nothing", "goes nowhere");
  assert.deepEqual(logged, ["could not record event"]);
});
