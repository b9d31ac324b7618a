// status.tls as data: every certificate's expiry and renewal time, and the rotation phase.
import assert from "node:assert/strict";
import type { CertificateFacts, TLSObservation } from "../../../../actors/tls/plan.ts";
import { resolveTLS } from "../../../../actors/tls/settings.ts";
import { tlsStatus } from "../../../../actors/tls/status.ts";

const day = 86_400_000;
const now = new Date("2027-01-01T00:00:00Z");
const at = (days: number) => new Date(now.getTime() + days * day);
const facts = (keyId: string, notAfter: Date, authority = keyId): CertificateFacts => ({
  notBefore: now,
  notAfter,
  dnsNames: [],
  subjectKeyId: keyId,
  authorityKeyId: authority,
});

const seen: TLSObservation = {
  now,
  clusterName: "c",
  namespace: "ns",
  tls: resolveTLS({ peer: {} }),
  members: [{ peerName: "c-0", leader: true, healthy: true, desiredDigest: "d" }],
  ca: { current: facts("aa", at(3650)), rotation: 0 },
  leaves: new Map([["c-0-tls", { certificate: facts("l0", at(90), "aa"), trustKeyIds: ["aa"] }]]),
  userProvided: new Map(),
};

Deno.test("status.tls lists the CA and each leaf with when it expires and is renewed", () => {
  assert.deepEqual(tlsStatus(seen), {
    certificates: [
      {
        secretName: "c-tls-ca",
        role: "ca",
        notAfter: "2036-12-29T00:00:00.000Z",
        renewAt: "2035-12-30T00:00:00.000Z", // 365 days: 2036 is a leap year,
      },
      {
        secretName: "c-0-tls",
        role: "member",
        notAfter: "2027-04-01T00:00:00.000Z",
        renewAt: "2027-03-02T00:00:00.000Z",
      },
    ],
  });
});

Deno.test("status.tls shows each CA rotation phase, including the last roll after the drop", () => {
  const table: [string, Partial<TLSObservation>, string | undefined][] = [
    ["steady", {}, undefined],
    [
      "new CA trusted",
      { ca: { current: facts("aa", at(3650)), next: facts("bb", at(3650)), rotation: 1 } },
      "TrustingNewCA",
    ],
    [
      "new CA signs",
      { ca: { current: facts("bb", at(3650)), previous: facts("aa", at(3650)), rotation: 1 } },
      "ReissuingFromNewCA",
    ],
    [
      "old CA dropped, a leaf still trusts it",
      {
        ca: { current: facts("bb", at(3650)), rotation: 1 },
        leaves: new Map([["c-0-tls", {
          certificate: facts("l0", at(90), "bb"),
          trustKeyIds: ["aa", "bb"],
        }]]),
      },
      "DroppingOldCA",
    ],
  ];
  for (const [name, overrides, phase] of table) {
    assert.equal(tlsStatus({ ...seen, ...overrides })?.caRotationPhase, phase, name);
  }
});

Deno.test("no TLS, no status.tls; user-provided certificates show their expiry only", () => {
  assert.equal(tlsStatus({ ...seen, tls: resolveTLS(undefined) }), undefined);
  const user = tlsStatus({
    ...seen,
    tls: resolveTLS({ peer: { userProvided: { secretName: "peer" } } }),
    ca: undefined,
    leaves: new Map(),
    userProvided: new Map([["peer", facts("u", at(30), "x")]]),
  });
  assert.deepEqual(user, {
    certificates: [{
      secretName: "peer",
      role: "userProvided",
      notAfter: "2027-01-31T00:00:00.000Z",
    }],
  });
});
