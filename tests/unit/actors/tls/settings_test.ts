// spec.tls with its defaults applied, and Go durations as the CRD takes them.
import assert from "node:assert/strict";
import { parseDuration, resolveTLS } from "../../../../actors/tls/settings.ts";

Deno.test("durations are Go's: units h, m, s, ms, us, ns, combined and fractional", () => {
  const table: [string, number | undefined][] = [
    ["2160h", 2160 * 3_600_000],
    ["1h30m", 5_400_000],
    ["1.5h", 5_400_000],
    ["90s", 90_000],
    ["250ms", 250],
    ["1d", undefined],
    ["", undefined],
    ["-1h", undefined],
    ["h", undefined],
  ];
  for (const [text, expected] of table) assert.equal(parseDuration(text), expected, text);
});

Deno.test("no spec.tls is plain HTTP on both ports; a present port without Secrets is operator-managed", () => {
  assert.deepEqual(resolveTLS(undefined).client, { kind: "off" });
  assert.deepEqual(resolveTLS(undefined).peer, { kind: "off" });
  const resolved = resolveTLS({
    client: {},
    peer: { userProvided: { secretName: "peer-certs" } },
  });
  assert.deepEqual(resolved.client, { kind: "operatorManaged" });
  assert.deepEqual(resolved.peer, { kind: "userProvided", secretNames: ["peer-certs"] });
});

Deno.test("certificates default to 90 days renewed 30 days before, a 10-year CA rotated 1 year before", () => {
  const day = 86_400_000;
  assert.deepEqual(resolveTLS({ client: {} }).policy, {
    validityMs: 90 * day,
    renewBeforeMs: 30 * day,
    caValidityMs: 3650 * day,
    caRenewBeforeMs: 365 * day,
    caRotation: 0,
  });
  const custom =
    resolveTLS({ client: {}, certificates: { validity: "24h", caRotation: 3 } }).policy;
  assert.equal(custom.validityMs, day);
  assert.equal(custom.caRotation, 3);
});
