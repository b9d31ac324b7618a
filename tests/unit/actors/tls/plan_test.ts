// Certificate planning as tables: what to issue, renew, rotate and restart, from what is seen.
import assert from "node:assert/strict";
import {
  type CASecretView,
  type CertificateFacts,
  type LeafSecretView,
  type MemberTLSView,
  planTLS,
  type TLSObservation,
  type TLSStep,
  trustKeyIds,
} from "../../../../actors/tls/plan.ts";
import { resolveTLS } from "../../../../actors/tls/settings.ts";
import type { EtcdClusterTLS } from "../../../../actors/types.ts";

const hour = 3_600_000;
const day = 24 * hour;
const now = new Date("2027-01-01T00:00:00Z");
const at = (offsetMs: number) => new Date(now.getTime() + offsetMs);

const caA: CertificateFacts = {
  commonName: "etcd CA ns/c",
  organization: "etcd.improbable.io",
  notBefore: at(-100 * day),
  notAfter: at(3000 * day),
  dnsNames: [],
  subjectKeyId: "aa",
  authorityKeyId: "aa",
};
const caB: CertificateFacts = {
  ...caA,
  notBefore: at(-day),
  subjectKeyId: "bb",
  authorityKeyId: "bb",
};

const memberNames = (peer: string) => [`${peer}.c.ns.svc`, "c-client.ns.svc"];

function leaf(
  commonName: string,
  overrides: Partial<CertificateFacts> = {},
  trust: string[] = ["aa"],
): LeafSecretView {
  const isMember = /^c-\d+$/.test(commonName);
  return {
    certificate: {
      commonName,
      organization: isMember ? undefined : "etcd.improbable.io",
      notBefore: at(-10 * day),
      notAfter: at(80 * day),
      dnsNames: isMember ? memberNames(commonName) : [],
      subjectKeyId: `leaf-${commonName}`,
      authorityKeyId: "aa",
      ...overrides,
    },
    trustKeyIds: trust,
  };
}

const member = (peerName: string, overrides: Partial<MemberTLSView> = {}): MemberTLSView => ({
  peerName,
  leader: peerName === "c-0",
  healthy: true,
  runningDigest: "d1",
  desiredDigest: "d1",
  ...overrides,
});

const managed: EtcdClusterTLS = { client: {}, peer: {} };

function goodLeaves(trust: string[] = ["aa"], aki = "aa"): Map<string, LeafSecretView> {
  return new Map([
    ["c-0-tls", leaf("c-0", { authorityKeyId: aki }, trust)],
    ["c-1-tls", leaf("c-1", { authorityKeyId: aki }, trust)],
    ["c-2-tls", leaf("c-2", { authorityKeyId: aki }, trust)],
    ["c-tls-operator", leaf("etcd-operator", { authorityKeyId: aki }, trust)],
    ["c-tls-client", leaf("c-client", { authorityKeyId: aki }, trust)],
  ]);
}

function observation(overrides: Partial<TLSObservation> & { spec?: EtcdClusterTLS } = {}) {
  const { spec, ...rest } = overrides;
  const seen: TLSObservation = {
    now,
    clusterName: "c",
    namespace: "ns",
    tls: resolveTLS(spec ?? managed),
    members: [member("c-0"), member("c-1"), member("c-2")],
    ca: { current: caA, rotation: 0 },
    leaves: goodLeaves(),
    userProvided: new Map(),
    ...rest,
  };
  return seen;
}

/** Steps reduced to what a table can say at a glance. */
function summary(steps: readonly TLSStep[]): string[] {
  return steps.map((step) => {
    switch (step.kind) {
      case "issueLeaf":
        return `issueLeaf ${step.issue.secretName}: ${step.reason}`;
      case "updateTrust":
        return `updateTrust ${step.secretName}`;
      case "restartMember":
        return `restartMember ${step.peerName}${
          step.moveLeaderFirst ? " after moving leadership" : ""
        }`;
      case "startCARotation":
        return `startCARotation: ${step.reason}`;
      case "wait":
        return `wait: ${step.reason}`;
      default:
        return step.kind;
    }
  });
}

const table: [string, TLSObservation, string[]][] = [
  ["no spec.tls: plain HTTP, nothing to do", observation({ spec: {}, ca: undefined }), []],
  ["converged: nothing to do", observation(), []],
  ["no CA yet: the CA first, alone", observation({ ca: undefined, leaves: new Map() }), [
    "issueCA",
  ]],
  [
    "a CA and no leaves: every member's, the operator's and the applications' certificates",
    observation({ leaves: new Map() }),
    [
      "issueLeaf c-0-tls: it is missing or unreadable",
      "issueLeaf c-1-tls: it is missing or unreadable",
      "issueLeaf c-2-tls: it is missing or unreadable",
      "issueLeaf c-tls-operator: it is missing or unreadable",
      "issueLeaf c-tls-client: it is missing or unreadable",
    ],
  ],
  [
    "peer TLS only: member certificates, no client certificates",
    observation({ spec: { peer: {} }, leaves: new Map() }),
    [
      "issueLeaf c-0-tls: it is missing or unreadable",
      "issueLeaf c-1-tls: it is missing or unreadable",
      "issueLeaf c-2-tls: it is missing or unreadable",
    ],
  ],
  [
    "a leaf inside the renewal window (30 days by default) is renewed",
    observation({
      leaves: new Map([...goodLeaves(), ["c-1-tls", leaf("c-1", { notAfter: at(29 * day) })]]),
    }),
    ["issueLeaf c-1-tls: it expires at 2027-01-30T00:00:00.000Z"],
  ],
  [
    "a leaf just outside the renewal window is kept",
    observation({
      leaves: new Map([...goodLeaves(), ["c-1-tls", leaf("c-1", { notAfter: at(31 * day) })]]),
    }),
    [],
  ],
  [
    "the renewal window is configurable",
    observation({
      spec: { ...managed, certificates: { renewBefore: "1000h" } },
      leaves: new Map([...goodLeaves(), ["c-1-tls", leaf("c-1", { notAfter: at(40 * day) })]]),
    }),
    ["issueLeaf c-1-tls: it expires at 2027-02-10T00:00:00.000Z"],
  ],
  [
    "a shortened validity re-issues every leaf that lives longer, once",
    observation({ spec: { ...managed, certificates: { validity: "1000h" } } }),
    ["c-0-tls", "c-1-tls", "c-2-tls", "c-tls-operator", "c-tls-client"].map((name) =>
      `issueLeaf ${name}: it lives 2160h, longer than spec.tls.certificates.validity (1000h)`
    ),
  ],
  [
    "a leaf issued under the shortened validity (plus the clock-skew allowance) is kept",
    observation({
      spec: { ...managed, certificates: { validity: "1000h" } },
      leaves: new Map(
        [...goodLeaves()].map(([name, view]) => [name, {
          ...view,
          certificate: {
            ...view.certificate!,
            notBefore: at(-5 * 60_000),
            notAfter: at(1000 * hour),
          },
        }]),
      ),
    }),
    [],
  ],
  [
    "a member certificate whose names differ from the member's is re-issued",
    observation({
      leaves: new Map([...goodLeaves(), ["c-2-tls", leaf("c-2", { dnsNames: ["c-2.c.ns.svc"] })]]),
    }),
    ["issueLeaf c-2-tls: its names [c-2.c.ns.svc] are not [c-2.c.ns.svc, c-client.ns.svc]"],
  ],
  [
    "a leaf signed by another CA is re-issued",
    observation({
      leaves: new Map([...goodLeaves(), [
        "c-tls-client",
        leaf("c-client", { authorityKeyId: "zz" }),
      ]]),
    }),
    ["issueLeaf c-tls-client: it was signed by a CA that no longer signs"],
  ],
  [
    "a good leaf whose ca.crt is not the trust bundle gets the bundle, not a new certificate",
    observation({
      leaves: new Map([...goodLeaves(), ["c-0-tls", leaf("c-0", {}, ["aa", "zz"])]]),
    }),
    ["updateTrust c-0-tls"],
  ],
  [
    "raising caRotation starts a CA rotation, before anything else",
    observation({
      spec: { ...managed, certificates: { caRotation: 1 } },
      leaves: new Map([...goodLeaves(), ["c-0-tls", leaf("c-0", {}, [])]]),
    }),
    ["startCARotation: spec.tls.certificates.caRotation is 1 (the CA was made for 0)"],
  ],
  [
    "a CA inside its renewal window (1 year by default) starts a rotation",
    observation({ ca: { current: { ...caA, notAfter: at(364 * day) }, rotation: 0 } }),
    ["startCARotation: the CA expires at 2027-12-31T00:00:00.000Z"],
  ],
  [
    "a leaf cut short by its CA's expiry is not renewed over and over",
    observation({
      spec: { ...managed, certificates: { caRenewBefore: "1h" } },
      ca: { current: { ...caA, notAfter: at(10 * day) }, rotation: 0 },
      leaves: new Map(
        [...goodLeaves()].map(([name, view]) => [name, {
          ...view,
          certificate: { ...view.certificate!, notAfter: at(10 * day) },
        }]),
      ),
    }),
    [],
  ],
  [
    "phase 1 (new CA trusted): every leaf gets the bundle of both CAs",
    observation({ ca: { current: caA, next: caB, rotation: 1 } }),
    [
      "updateTrust c-0-tls",
      "updateTrust c-1-tls",
      "updateTrust c-2-tls",
      "updateTrust c-tls-operator",
      "updateTrust c-tls-client",
    ],
  ],
  [
    "phase 1, bundles written: followers restart first, highest ordinal first",
    observation({
      ca: { current: caA, next: caB, rotation: 1 },
      leaves: goodLeaves(["aa", "bb"]),
      members: ["c-0", "c-1", "c-2"].map((name) => member(name, { desiredDigest: "d2" })),
    }),
    ["restartMember c-2"],
  ],
  [
    "phase 1: the leader restarts last, after leadership moves",
    observation({
      ca: { current: caA, next: caB, rotation: 1 },
      leaves: goodLeaves(["aa", "bb"]),
      members: [member("c-0", { desiredDigest: "d2" }), member("c-1"), member("c-2")],
    }),
    ["restartMember c-0 after moving leadership"],
  ],
  [
    "phase 1, every member runs the bundle: the new CA signs from now on",
    observation({ ca: { current: caA, next: caB, rotation: 1 }, leaves: goodLeaves(["aa", "bb"]) }),
    ["promoteNextCA"],
  ],
  [
    "phase 1 does not move on while a member is unhealthy",
    observation({
      ca: { current: caA, next: caB, rotation: 1 },
      leaves: goodLeaves(["aa", "bb"]),
      members: [member("c-0"), member("c-1", { healthy: false }), member("c-2")],
    }),
    ["wait: the CA rotation (TrustingNewCA) waits until c-1 is healthy"],
  ],
  [
    "phase 2 (new CA signs): every leaf is re-issued from it",
    observation({
      ca: { current: caB, previous: caA, rotation: 1 },
      leaves: goodLeaves(["aa", "bb"]),
    }),
    [
      "issueLeaf c-0-tls: it was signed by a CA that no longer signs",
      "issueLeaf c-1-tls: it was signed by a CA that no longer signs",
      "issueLeaf c-2-tls: it was signed by a CA that no longer signs",
      "issueLeaf c-tls-operator: it was signed by a CA that no longer signs",
      "issueLeaf c-tls-client: it was signed by a CA that no longer signs",
    ],
  ],
  [
    "phase 2, every member runs a leaf of the new CA: the old CA is dropped",
    observation({
      ca: { current: caB, previous: caA, rotation: 1 },
      leaves: goodLeaves(["aa", "bb"], "bb"),
    }),
    ["dropPreviousCA"],
  ],
  [
    "phase 3 (old CA dropped): the bundles lose it",
    observation({ ca: { current: caB, rotation: 1 }, leaves: goodLeaves(["aa", "bb"], "bb") }),
    [
      "updateTrust c-0-tls",
      "updateTrust c-1-tls",
      "updateTrust c-2-tls",
      "updateTrust c-tls-operator",
      "updateTrust c-tls-client",
    ],
  ],
  [
    "no restart while any member is unhealthy",
    observation({
      members: [
        member("c-0"),
        member("c-1", { desiredDigest: "d2" }),
        member("c-2", { healthy: false }),
      ],
    }),
    ["wait: members c-1 need a restart for new TLS material, which waits until c-2 is healthy"],
  ],
  [
    "a member whose pod has not started yet is not restarted",
    observation({
      members: [
        member("c-0"),
        member("c-1"),
        member("c-2", { runningDigest: undefined, desiredDigest: "d2" }),
      ],
    }),
    [],
  ],
  [
    "a lone member restarts without moving leadership",
    observation({
      members: [member("c-0", { desiredDigest: "d2" })],
      leaves: new Map([...goodLeaves()].filter(([name]) => !/^c-[12]-/.test(name))),
    }),
    ["restartMember c-0"],
  ],
];

for (const [name, seen, expected] of table) {
  Deno.test(`TLS plan: ${name}`, () => {
    assert.deepEqual(summary(planTLS(seen)), expected);
  });
}

Deno.test("a new CA and leaves carry exactly the decided names and validities", () => {
  const [ca] = planTLS(observation({ ca: undefined }));
  assert.deepEqual(ca, {
    kind: "issueCA",
    subject: { commonName: "etcd CA ns/c", organization: "etcd.improbable.io" },
    notBefore: new Date("2026-12-31T23:55:00Z"),
    notAfter: at(3650 * day),
    rotation: 0,
  });
  const steps = planTLS(observation({ leaves: new Map() }));
  const issues = steps.flatMap((step) => step.kind === "issueLeaf" ? [step.issue] : []);
  assert.deepEqual(issues[1], {
    secretName: "c-1-tls",
    role: "member",
    subject: { commonName: "c-1" },
    profile: { kind: "member", dnsNames: ["c-1.c.ns.svc", "c-client.ns.svc"] },
    notBefore: new Date("2026-12-31T23:55:00Z"),
    notAfter: at(90 * day),
  });
  assert.deepEqual(issues.slice(3).map((issue) => [issue.role, issue.subject, issue.profile]), [
    ["operatorClient", { commonName: "etcd-operator", organization: "etcd.improbable.io" }, {
      kind: "client",
    }],
    ["applicationClient", { commonName: "c-client", organization: "etcd.improbable.io" }, {
      kind: "client",
    }],
  ]);
});

Deno.test("a leaf never outlives the CA that signs it", () => {
  const steps = planTLS(observation({
    ca: { current: { ...caA, notAfter: at(400 * day) }, rotation: 0 },
    leaves: new Map(),
    spec: { ...managed, certificates: { validity: "17520h" } },
  }));
  for (const step of steps) {
    assert.ok(step.kind === "issueLeaf");
    assert.deepEqual(step.issue.notAfter, at(400 * day));
  }
});

const userSpec: EtcdClusterTLS = {
  client: { userProvided: { serverSecretName: "server", operatorSecretName: "op" } },
  peer: { userProvided: { secretName: "peer" } },
};
const userCert = (dnsNames: string[]): CertificateFacts => ({
  ...caA,
  dnsNames,
  authorityKeyId: "u",
});
const allNamed = userCert(["c-0.c.ns.svc", "c-1.c.ns.svc", "c-2.c.ns.svc"]);

const userTable: [string, Partial<TLSObservation>, string[]][] = [
  [
    "user-provided Secrets that are all there and name every member: nothing to issue",
    { userProvided: new Map([["server", allNamed], ["op", userCert([])], ["peer", allNamed]]) },
    [],
  ],
  [
    "a missing user-provided Secret is waited for",
    { userProvided: new Map([["server", allNamed], ["peer", allNamed]]) },
    ["wait: Secret op is missing or holds no readable tls.crt"],
  ],
  [
    "a serving certificate that does not name a member blocks every restart",
    {
      userProvided: new Map([["server", allNamed], ["op", userCert([])], [
        "peer",
        userCert(["c-0.c.ns.svc", "c-1.c.ns.svc"]),
      ]]),
      members: [member("c-0", { desiredDigest: "d2" }), member("c-1"), member("c-2")],
    },
    ["wait: the certificate in Secret peer does not name c-2.c.ns.svc"],
  ],
  [
    "a wildcard for the cluster's subdomain names every member; a changed Secret rolls members",
    {
      userProvided: new Map([["server", userCert(["*.c.ns.svc"])], ["op", userCert([])], [
        "peer",
        userCert(["*.c.ns.svc"]),
      ]]),
      members: [
        member("c-0"),
        member("c-1", { desiredDigest: "d2" }),
        member("c-2", { desiredDigest: "d2" }),
      ],
    },
    ["restartMember c-2"],
  ],
  [
    "a wildcard one label too deep does not count",
    {
      userProvided: new Map([["server", userCert(["*.ns.svc"])], ["op", userCert([])], [
        "peer",
        allNamed,
      ]]),
      members: [member("c-0")],
    },
    ["wait: the certificate in Secret server does not name c-0.c.ns.svc"],
  ],
];

for (const [name, overrides, expected] of userTable) {
  Deno.test(`TLS plan: ${name}`, () => {
    const seen = observation({ spec: userSpec, ca: undefined, leaves: new Map(), ...overrides });
    assert.deepEqual(summary(planTLS(seen)), expected);
  });
}

/**
 * A small world that applies the planner's steps: Secrets change at once, a member runs what its
 * Secret held when it last restarted. After every step, every member must still trust every
 * other member's running certificate, and the operator's current client certificate.
 */
Deno.test("a whole CA rotation converges in phases and never leaves two members unable to talk", () => {
  type Running = { aki: string; trust: string[] };
  const cas = new Map([["aa", caA], ["bb", caB]]);
  let ca: CASecretView = { current: caA, rotation: 0 };
  const leaves = goodLeaves(["aa"]);
  const digest = (name: string) => {
    const view = leaves.get(name)!;
    return JSON.stringify([view.certificate?.authorityKeyId, [...view.trustKeyIds].sort()]);
  };
  const running = new Map<string, Running>();
  const peers = ["c-0", "c-1", "c-2"];
  for (const peer of peers) running.set(peer, { aki: "aa", trust: ["aa"] });
  let leader = "c-0";
  const kinds: string[] = [];
  const restarts: string[] = [];
  const nextKey = "bb";
  for (let pass = 0; pass < 50; pass++) {
    const seen = observation({
      spec: { ...managed, certificates: { caRotation: 1 } },
      ca,
      leaves,
      members: peers.map((peer) => ({
        peerName: peer,
        leader: peer === leader,
        healthy: true,
        runningDigest: JSON.stringify([
          running.get(peer)!.aki,
          [...running.get(peer)!.trust].sort(),
        ]),
        desiredDigest: digest(`${peer}-tls`),
      })),
    });
    const steps = planTLS(seen);
    if (steps.length === 0) break;
    for (const step of steps) {
      kinds.push(step.kind);
      if (step.kind === "startCARotation") {
        ca = { ...ca, next: cas.get(nextKey)!, rotation: step.rotation };
      } else if (step.kind === "promoteNextCA") {
        ca = { current: ca.next!, previous: ca.current, rotation: ca.rotation };
      } else if (step.kind === "dropPreviousCA") {
        ca = { current: ca.current, rotation: ca.rotation };
      } else if (step.kind === "issueLeaf") {
        const old = leaves.get(step.issue.secretName)!;
        leaves.set(step.issue.secretName, {
          certificate: {
            ...old.certificate!,
            authorityKeyId: ca.current.subjectKeyId,
            notBefore: step.issue.notBefore,
            notAfter: step.issue.notAfter,
          },
          trustKeyIds: trustKeyIds(ca),
        });
      } else if (step.kind === "updateTrust") {
        leaves.set(step.secretName, {
          ...leaves.get(step.secretName)!,
          trustKeyIds: trustKeyIds(ca),
        });
      } else if (step.kind === "restartMember") {
        if (step.moveLeaderFirst) leader = peers.find((peer) => peer !== step.peerName)!;
        const view = leaves.get(`${step.peerName}-tls`)!;
        running.set(step.peerName, {
          aki: view.certificate!.authorityKeyId,
          trust: [...view.trustKeyIds],
        });
        restarts.push(step.peerName);
      } else {
        assert.fail(`unexpected step ${JSON.stringify(step)}`);
      }
      const operatorAki = leaves.get("c-tls-operator")!.certificate!.authorityKeyId;
      for (const [peer, state] of running) {
        for (const [other, otherState] of running) {
          assert.ok(
            state.trust.includes(otherState.aki),
            `${peer} does not trust ${other} after ${step.kind}`,
          );
        }
        assert.ok(
          state.trust.includes(operatorAki),
          `${peer} refuses the operator after ${step.kind}`,
        );
      }
    }
  }
  assert.deepEqual(ca, { current: caB, rotation: 1 });
  assert.deepEqual(
    planTLS(observation({ spec: { ...managed, certificates: { caRotation: 1 } }, ca, leaves })),
    [],
    "converged",
  );
  const phases = kinds.filter((kind) =>
    !["issueLeaf", "updateTrust", "restartMember"].includes(kind)
  );
  assert.deepEqual(phases, ["startCARotation", "promoteNextCA", "dropPreviousCA"]);
  // Three rolls, each follower-first from the highest ordinal, the leader (moved to c-2) last.
  assert.equal(restarts.length, 9);
  assert.deepEqual(restarts.slice(0, 3), ["c-2", "c-1", "c-0"]);
  for (const peer of peers) running.get(peer)!.trust.forEach((key) => assert.equal(key, "bb"));
});
