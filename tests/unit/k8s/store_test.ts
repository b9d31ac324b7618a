import assert from "node:assert/strict";
import type { KubeObject } from "../../../k8s/objects.ts";
import { applyWatchEvent, ObjectStore, relistEvents } from "../../../k8s/store.ts";

function pod(name: string, resourceVersion: string, uid = `uid-${name}`): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { namespace: "ns", name, uid, resourceVersion },
  };
}

function summary(events: readonly { type: string; object: KubeObject }[]): string[] {
  return events.map((event) =>
    `${event.type} ${event.object.metadata.name}@${event.object.metadata.resourceVersion}`
  );
}

Deno.test("ADDED for an unknown key is an addition and lands in the store", () => {
  const objects = new Map<string, KubeObject>();
  const event = applyWatchEvent(objects, "ADDED", pod("a", "1"));
  assert.equal(event.type, "added");
  assert.equal(objects.get("ns/a")?.metadata.resourceVersion, "1");
});

Deno.test("MODIFIED replaces the stored object; for a key we did not know it is an addition", () => {
  const objects = new Map<string, KubeObject>([["ns/a", pod("a", "1")]]);
  assert.equal(applyWatchEvent(objects, "MODIFIED", pod("a", "2")).type, "modified");
  assert.equal(objects.get("ns/a")?.metadata.resourceVersion, "2");
  assert.equal(applyWatchEvent(objects, "MODIFIED", pod("b", "3")).type, "added");
  assert.equal(objects.size, 2);
});

Deno.test("a repeated ADDED for a known key is a modification", () => {
  const objects = new Map<string, KubeObject>([["ns/a", pod("a", "1")]]);
  assert.equal(applyWatchEvent(objects, "ADDED", pod("a", "2")).type, "modified");
});

Deno.test("DELETED removes the key and hands handlers the object's final state", () => {
  const objects = new Map<string, KubeObject>([["ns/a", pod("a", "1")]]);
  const event = applyWatchEvent(objects, "DELETED", pod("a", "5"));
  assert.deepEqual(summary([event]), ["deleted a@5"]);
  assert.equal(objects.has("ns/a"), false);
});

Deno.test("a relist deletes objects that vanished while we were disconnected", () => {
  const previous = new Map([["ns/a", pod("a", "1")], ["ns/b", pod("b", "2")], [
    "ns/c",
    pod("c", "3"),
  ]]);
  const events = relistEvents(previous, [pod("a", "1"), pod("c", "7"), pod("d", "8")], false);
  assert.deepEqual(summary(events), ["deleted b@2", "modified c@7", "added d@8"]);
});

Deno.test("a periodic resync re-announces unchanged objects; a 410 relist does not", () => {
  const previous = new Map([["ns/a", pod("a", "1")]]);
  assert.deepEqual(summary(relistEvents(previous, [pod("a", "1")], true)), ["resync a@1"]);
  assert.deepEqual(summary(relistEvents(previous, [pod("a", "1")], false)), []);
});

Deno.test("a name reused by a new object is a deletion of the old and an addition of the new", () => {
  const previous = new Map([["ns/a", pod("a", "1", "old")]]);
  const events = relistEvents(previous, [pod("a", "9", "new")], false);
  assert.deepEqual(summary(events), ["deleted a@1", "added a@9"]);
  assert.equal(events[0].object.metadata.uid, "old");
});

Deno.test("the store holds exactly the fresh list after a relist", () => {
  const store = new ObjectStore<KubeObject>();
  store.apply("ADDED", pod("a", "1"));
  store.apply("ADDED", pod("b", "2"));
  const events = store.replace([pod("b", "4"), pod("c", "5")], false);
  assert.deepEqual(summary(events), ["deleted a@1", "modified b@4", "added c@5"]);
  assert.deepEqual([...store.keys()].sort(), ["ns/b", "ns/c"]);
  assert.equal(store.get("ns/b")?.metadata.resourceVersion, "4");
  assert.equal(store.size, 2);
});

Deno.test("cluster-scoped objects are keyed by name alone", () => {
  const store = new ObjectStore<KubeObject>();
  store.apply("ADDED", { metadata: { name: "n1", resourceVersion: "1" } });
  assert.deepEqual(store.keys(), ["n1"]);
});

function cluster(resourceVersion: string, generation: number, uid = "uid-c"): KubeObject {
  return {
    apiVersion: "etcd.improbable.io/v1alpha1",
    kind: "EtcdCluster",
    metadata: { namespace: "ns", name: "c", uid, resourceVersion, generation },
  };
}

Deno.test("the store remembers when each generation first arrived, not when status last changed", () => {
  let now = 100;
  const store = new ObjectStore<KubeObject>(() => now);
  store.apply("ADDED", cluster("1", 1));
  assert.equal(store.generationChangedAt("ns/c"), 100);
  now = 200;
  store.apply("MODIFIED", cluster("2", 1)); // a status write
  assert.equal(store.generationChangedAt("ns/c"), 100);
  now = 300;
  store.apply("MODIFIED", cluster("3", 2)); // a spec change
  assert.equal(store.generationChangedAt("ns/c"), 300);
  now = 400;
  store.replace([cluster("4", 2)], false); // a relist that finds the same generation
  assert.equal(store.generationChangedAt("ns/c"), 300);
  store.replace([cluster("5", 2, "uid-new")], false); // re-created under the name
  assert.equal(store.generationChangedAt("ns/c"), 400);
  store.apply("DELETED", cluster("6", 2, "uid-new"));
  assert.equal(store.generationChangedAt("ns/c"), undefined);
});
