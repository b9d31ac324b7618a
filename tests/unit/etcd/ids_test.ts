// Member ids: decimal strings from etcd3 to the hex etcdctl prints, exactly, above 2^53 too.
import assert from "node:assert/strict";
import { memberIdFromDecimal, memberIdToDecimal, normalizeMemberId } from "../../../etcd/ids.ts";

Deno.test("a decimal id from etcd3 becomes the lowercase hex etcdctl prints", () => {
  assert.equal(memberIdFromDecimal("3421693031823878733"), "2f7c4baefc4aaa4d");
});

Deno.test("ids above 2^53 convert exactly, where a JavaScript number would round", () => {
  assert.equal(memberIdFromDecimal("13708079132129262402"), "be3ce15797827b42");
  assert.equal(memberIdFromDecimal("9007199254740993"), "20000000000001");
  assert.notEqual(Number("9007199254740993").toString(16), "20000000000001");
});

Deno.test("the largest 64-bit id converts both ways", () => {
  assert.equal(memberIdFromDecimal("18446744073709551615"), "ffffffffffffffff");
  assert.equal(memberIdToDecimal("ffffffffffffffff"), "18446744073709551615");
});

Deno.test("a small id has no leading zeros, as etcdctl's %x prints it", () => {
  assert.equal(memberIdFromDecimal("1116189416861635950"), "f7d805c5e16956e");
  assert.equal(memberIdFromDecimal("10"), "a");
});

Deno.test("hex ids go back to the decimal strings etcd3 requests take", () => {
  assert.equal(memberIdToDecimal("be3ce15797827b42"), "13708079132129262402");
  assert.equal(memberIdToDecimal("0f7d805c5e16956e"), "1116189416861635950");
});

Deno.test("typed ids in upper case or with leading zeros normalize to the canonical form", () => {
  assert.equal(normalizeMemberId("BE3CE15797827B42"), "be3ce15797827b42");
  assert.equal(normalizeMemberId("0f7d805c5e16956e"), "f7d805c5e16956e");
});

Deno.test("malformed or oversized ids are refused rather than silently mangled", () => {
  assert.throws(() => memberIdFromDecimal("0x10"), /not a decimal member id/);
  assert.throws(() => memberIdFromDecimal("-1"), /not a decimal member id/);
  assert.throws(() => memberIdFromDecimal("18446744073709551616"), /does not fit in 64 bits/);
  assert.throws(() => memberIdToDecimal("xyz"), /not a hex member id/);
  assert.throws(() => memberIdToDecimal("1ffffffffffffffff"), /not a hex member id/);
});
