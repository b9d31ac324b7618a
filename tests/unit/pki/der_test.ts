// The DER encoder and reader as byte tables (X.690 examples).
import assert from "node:assert/strict";
import {
  type Bytes,
  children,
  octetString,
  oid,
  readElement,
  readOid,
  readTime,
  sequence,
  smallInteger,
  time,
  unsignedInteger,
} from "../../../pki/der.ts";

const hex = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

Deno.test("integers are minimal, with a leading zero only when the top bit is set", () => {
  const table: [Bytes, string][] = [
    [Uint8Array.of(0), "020100"],
    [Uint8Array.of(0, 0, 5), "020105"],
    [Uint8Array.of(0x7f), "02017f"],
    [Uint8Array.of(0x80), "02020080"],
    [Uint8Array.of(0, 0x80, 1), "0203008001"],
    [new Uint8Array(), "020100"],
  ];
  for (const [magnitude, expected] of table) {
    assert.equal(hex(unsignedInteger(magnitude)), expected);
  }
  assert.equal(hex(smallInteger(2)), "020102");
  assert.equal(hex(smallInteger(256)), "02020100");
});

Deno.test("object identifiers encode base 128 and read back", () => {
  const table: [string, string][] = [
    ["2.5.29.17", "0603551d11"],
    ["1.2.840.10045.4.3.2", "06082a8648ce3d040302"],
    ["1.3.6.1.5.5.7.3.1", "06082b06010505070301"],
  ];
  for (const [dotted, expected] of table) {
    assert.equal(hex(oid(dotted)), expected);
    assert.equal(readOid(readElement(oid(dotted))), dotted);
  }
});

Deno.test("lengths from 128 on take the long form, and nested elements read back", () => {
  const long = octetString(new Uint8Array(300));
  assert.equal(hex(long.subarray(0, 4)), "0482012c");
  const outer = sequence(long, smallInteger(7));
  const [first, second] = children(readElement(outer));
  assert.equal(first.contents.length, 300);
  assert.equal(hex(second.encoded), "020107");
  assert.throws(() => readElement(outer.subarray(0, 10)), /runs past/);
});

Deno.test("times are UTCTime until 2049 and GeneralizedTime after, to the second", () => {
  const table: [string, string][] = [
    ["2026-12-03T05:11:16.900Z", "170d3236313230333035313131365a"],
    ["2050-01-01T00:00:00Z", "180f32303530303130313030303030305a"],
  ];
  for (const [iso, expected] of table) {
    assert.equal(hex(time(new Date(iso))), expected);
    assert.deepEqual(
      readTime(readElement(time(new Date(iso)))),
      new Date(Math.floor(Date.parse(iso) / 1000) * 1000),
    );
  }
});
