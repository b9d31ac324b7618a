import assert from "node:assert/strict";
import { nodeState, podsToForceDelete } from "../../../actors/node_health.ts";
import type { NodeObject, PodObject } from "../../../actors/types.ts";

const node = (
  name: string,
  ready?: { status: string; reason?: string; at?: string },
): NodeObject => ({
  metadata: { name },
  status: ready
    ? {
      conditions: [
        { type: "MemoryPressure", status: "False" },
        {
          type: "Ready",
          status: ready.status,
          reason: ready.reason,
          lastTransitionTime: ready.at ?? "2026-12-03T06:00:00Z",
        },
      ],
    }
    : {},
});

const pod = (name: string, nodeName?: string): PodObject => ({
  metadata: { name, namespace: "ns", uid: `uid-${name}` },
  spec: nodeName ? { nodeName } : {},
});

Deno.test("a node is ready only when its Ready condition is True; since when it changed", () => {
  const cases: [string, NodeObject, { ready: boolean; detail: string; sinceMs?: number }][] = [
    ["ready", node("a", { status: "True", reason: "KubeletReady" }), {
      ready: true,
      detail: "Ready=True (KubeletReady)",
      sinceMs: Date.parse("2026-12-03T06:00:00Z"),
    }],
    ["kubelet stopped posting", node("b", { status: "Unknown", reason: "NodeStatusUnknown" }), {
      ready: false,
      detail: "Ready=Unknown (NodeStatusUnknown)",
      sinceMs: Date.parse("2026-12-03T06:00:00Z"),
    }],
    ["kubelet says not ready", node("c", { status: "False", at: "garbage" }), {
      ready: false,
      detail: "Ready=False",
    }],
    ["never reported", node("d"), { ready: false, detail: "no Ready" }],
  ];
  for (const [name, object, expected] of cases) {
    assert.deepEqual(nodeState(object), { name: object.metadata.name, ...expected }, name);
  }
});

Deno.test("only pods bound to a node known to be not ready are force-deleted", () => {
  const nodes = new Map([
    ["up", nodeState(node("up", { status: "True" }))],
    ["down", nodeState(node("down", { status: "Unknown" }))],
  ]);
  const pods = [
    pod("on-up", "up"),
    pod("on-down", "down"),
    pod("unscheduled"),
    pod("on-gone", "gone"),
  ];
  assert.deepEqual(
    podsToForceDelete(pods, (name) => nodes.get(name)).map((p) => p.metadata.name),
    ["on-down"],
  );
});
