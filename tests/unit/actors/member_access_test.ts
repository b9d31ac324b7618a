// How the operator reaches a member, as tables: the mode it picks, the pod it probes, the route.
import assert from "node:assert/strict";
import {
  type AccessDecision,
  type AccessFacts,
  decideAccess,
  type EndpointMode,
  livePodUids,
  memberRoute,
  probeTarget,
  staleForwards,
} from "../../../actors/member_access.ts";
import {
  chooseEndpointMode,
  directAccess,
  type MemberAccess,
  memberClientEndpoint,
  probeAddress,
  provisionalAccess,
} from "../../../actors/member_dialer.ts";
import type { PodObject } from "../../../actors/types.ts";

function pod(
  name: string,
  options: {
    ip?: string;
    peer?: boolean;
    deleting?: boolean;
    hostNetwork?: boolean;
    uid?: string;
  } = {},
): PodObject {
  return {
    metadata: {
      name,
      namespace: "ns",
      uid: options.uid ?? `uid-${name}`,
      labels: options.peer === false ? {} : {
        "etcd.improbable.io/cluster-name": "my-cluster",
        "etcd.improbable.io/peer-name": name,
      },
      ...(options.deleting ? { deletionTimestamp: "2026-01-01T00:00:00Z" } : {}),
    },
    spec: options.hostNetwork ? { hostNetwork: true } : {},
    status: options.ip ? { podIP: options.ip, phase: "Running" } : { phase: "Pending" },
  };
}

const decisions:
  readonly (readonly [string, AccessFacts, AccessDecision["kind"], EndpointMode?])[] = [
    [
      "port-forward is forced even in a pod",
      {
        flag: "port-forward",
        inCluster: true,
      },
      "decided",
      "portForward",
    ],
    [
      "port-forward is forced outside",
      {
        flag: "port-forward",
        inCluster: false,
      },
      "decided",
      "portForward",
    ],
    [
      "auto in a pod dials pod IPs without probing (never DNS names, which Endpoints can steer)",
      {
        flag: "auto",
        inCluster: true,
      },
      "decided",
      "podIP",
    ],
    ["direct in a pod dials pod IPs", { flag: "direct", inCluster: true }, "decided", "podIP"],
    [
      "direct outside dials pod IPs without probing",
      {
        flag: "direct",
        inCluster: false,
      },
      "decided",
      "podIP",
    ],
    ["auto outside asks for a probe first", { flag: "auto", inCluster: false }, "probe"],
    [
      "a pod IP that accepted the connection is routed",
      {
        flag: "auto",
        inCluster: false,
        probe: "connected",
      },
      "decided",
      "podIP",
    ],
    [
      "a refusal came from the pod's host, so pod IPs are routed",
      {
        flag: "auto",
        inCluster: false,
        probe: "refused",
      },
      "decided",
      "podIP",
    ],
    [
      "a probe that timed out means port-forward",
      {
        flag: "auto",
        inCluster: false,
        probe: "timedOut",
      },
      "decided",
      "portForward",
    ],
    [
      "no route to the pod network means port-forward",
      {
        flag: "auto",
        inCluster: false,
        probe: "noRoute",
      },
      "decided",
      "portForward",
    ],
    [
      "no pod to probe means port-forward, which works from anywhere",
      {
        flag: "auto",
        inCluster: false,
        probe: "noTarget",
      },
      "decided",
      "portForward",
    ],
  ];

for (const [name, facts, kind, mode] of decisions) {
  Deno.test(`member access: ${name}`, () => {
    const decision = decideAccess(facts);
    assert.equal(decision.kind, kind);
    if (decision.kind === "decided") {
      assert.equal(decision.mode, mode);
      assert.ok(decision.reason.length > 0);
    }
  });
}

const probeTargets: readonly (readonly [string, PodObject[], string | undefined])[] = [
  ["no pods: nothing to probe", [], undefined],
  ["a pod without an IP is not probed", [pod("a-0")], undefined],
  ["a member's pod is preferred", [
    pod("other", { ip: "10.0.0.9", peer: false }),
    pod("a-0", { ip: "10.0.0.5" }),
  ], "10.0.0.5"],
  [
    "any pod on the pod network will do",
    [pod("other", { ip: "10.0.0.9", peer: false })],
    "10.0.0.9",
  ],
  ["a host-network pod has a node's IP and says nothing about pod routes", [
    pod("node-agent", { ip: "192.168.1.4", peer: false, hostNetwork: true }),
  ], undefined],
  ["a pod being deleted is skipped", [pod("a-0", { ip: "10.0.0.5", deleting: true })], undefined],
];

for (const [name, pods, expected] of probeTargets) {
  Deno.test(`member access probe target: ${name}`, () => {
    assert.equal(probeTarget(pods), expected);
  });
}

const pods = [
  pod("my-cluster-0", { ip: "10.0.0.10" }),
  pod("my-cluster-1", { ip: "10.0.0.11", deleting: true }),
  pod("my-cluster-2"),
];

const routes = [
  ["podIP", "my-cluster-0", { kind: "url", url: "http://10.0.0.10:2379" }],
  ["podIP", "my-cluster-1", undefined],
  ["podIP", "my-cluster-2", undefined],
  ["portForward", "my-cluster-0", {
    kind: "forward",
    pod: { namespace: "ns", name: "my-cluster-0", uid: "uid-my-cluster-0" },
    port: 2379,
  }],
  ["portForward", "my-cluster-1", undefined],
  ["portForward", "my-cluster-2", undefined],
  ["portForward", "my-cluster-9", undefined],
] as const;

for (const [mode, peerName, expected] of routes) {
  Deno.test(`member route in ${mode} mode to ${peerName}: ${expected?.kind ?? "none"}`, () => {
    assert.deepEqual(memberRoute(mode, "ns", "my-cluster", peerName, pods), expected);
  });
}

Deno.test("forwards close for pods that are gone or replaced under their name; terminating pods keep theirs", () => {
  const open = [
    { namespace: "ns", name: "a-0", uid: "u0" },
    { namespace: "ns", name: "a-1", uid: "u1-old" },
    { namespace: "ns", name: "a-2", uid: "u2" },
  ];
  const now = [
    pod("a-0", { uid: "u0", ip: "10.0.0.1", deleting: true }),
    pod("a-1", { uid: "u1-new", ip: "10.0.0.2" }),
  ];
  assert.deepEqual(staleForwards(open, livePodUids(now)).map((target) => target.uid), [
    "u1-old",
    "u2",
  ]);
});

Deno.test("direct access dials the route's URL and refuses a forward", () => {
  const access = directAccess("podIP");
  assert.equal(
    memberClientEndpoint(access, "ns", "my-cluster", "my-cluster-0", pods),
    "http://10.0.0.10:2379",
  );
  assert.throws(() =>
    access.urlOf({ kind: "forward", pod: { namespace: "ns", name: "x", uid: "u" }, port: 1 })
  );
});

Deno.test("auto mode outside a pod probes a member's IP once and port-forwards when it does not answer", async () => {
  const probed: string[] = [];
  const chosen = await chooseEndpointMode({
    facts: { flag: "auto", inCluster: false },
    listPods: () => Promise.resolve(pods),
    probe: (ip) => {
      probed.push(ip);
      return Promise.resolve("timedOut");
    },
  });
  assert.equal(chosen.mode, "portForward");
  assert.deepEqual(probed, ["10.0.0.10"]);
});

Deno.test("a forced mode lists and probes nothing", async () => {
  const chosen = await chooseEndpointMode({
    facts: { flag: "direct", inCluster: false },
    listPods: () => Promise.reject(new Error("no list expected")),
    probe: () => Promise.reject(new Error("no probe expected")),
  });
  assert.equal(chosen.mode, "podIP");
});

Deno.test("the probe tells a refusing loopback port (routed) from a listening one", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  const accepted = listener.accept().then((conn) => conn.close());
  assert.equal(await probeAddress("127.0.0.1", port, 2_000), "connected");
  await accepted;
  listener.close();
  assert.equal(await probeAddress("127.0.0.1", port, 2_000), "refused");
});

function recordingForwards(): MemberAccess & { readonly retained: number[]; closed: boolean } {
  const retained: number[] = [];
  return {
    mode: "portForward",
    urlOf: (route) => route.kind === "url" ? route.url : `http://127.0.0.1:4${route.port}`,
    retain: (pods) => void retained.push(pods.length),
    close() {
      this.closed = true;
    },
    retained,
    closed: false,
  };
}

Deno.test("auto mode with nothing to probe at start port-forwards, then dials pod IPs once a member's IP answers", async () => {
  const forwards = recordingForwards();
  const probed: string[] = [];
  const decisions: string[] = [];
  const access = provisionalAccess(forwards, (ip) => {
    probed.push(ip);
    return Promise.resolve("refused");
  }, (mode, reason) => decisions.push(`${mode}: ${reason}`));
  assert.equal(access.mode, "portForward");
  access.retain([pod("c-0")]); // no IP yet: nothing to probe
  assert.deepEqual(probed, []);
  access.retain([pod("c-0", { ip: "10.0.0.10", peer: true })]);
  access.retain([pod("c-0", { ip: "10.0.0.10", peer: true })]); // a probe is already running
  assert.equal(await access.decided, "podIP");
  assert.deepEqual(probed, ["10.0.0.10"]);
  assert.equal(access.mode, "podIP");
  assert.equal(forwards.closed, true, "the forwards' listeners are closed");
  assert.deepEqual(decisions, ["podIP: a pod IP answered the probe (refused)"]);
  const routed = memberClientEndpoint(access, "ns", "c", "c-0", [
    pod("c-0", { ip: "10.0.0.10", peer: true }),
  ]);
  assert.equal(routed, "http://10.0.0.10:2379");
  access.retain([pod("c-1", { ip: "10.0.0.11", peer: true })]);
  assert.deepEqual(probed, ["10.0.0.10"], "decided once");
});

Deno.test("auto mode with nothing to probe at start keeps port-forwarding when the first member IP does not answer", async () => {
  const forwards = recordingForwards();
  let probes = 0;
  const access = provisionalAccess(forwards, () => {
    probes++;
    return Promise.resolve("timedOut");
  }, () => {});
  access.retain([pod("c-0", { ip: "10.0.0.10", peer: true })]);
  assert.equal(await access.decided, "portForward");
  assert.equal(access.mode, "portForward");
  assert.equal(forwards.closed, false);
  access.retain([pod("c-1", { ip: "10.0.0.11", peer: true })]);
  assert.equal(probes, 1);
  assert.deepEqual(forwards.retained, [1, 1], "forwards still follow the pods");
});
