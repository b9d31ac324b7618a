// A small ASN.1 DER encoder and reader: just the types X.509 certificates are built from.
//
// Encoding follows X.690 DER: definite lengths in the fewest bytes, minimal INTEGERs, UTCTime up
// to 2049 and GeneralizedTime from 2050 (RFC 5280 §4.1.2.5). No dependency; no I/O.

/** Bytes backed by a plain ArrayBuffer, which WebCrypto takes. */
export type Bytes = Uint8Array<ArrayBuffer>;

export const tags = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  utf8String: 0x0c,
  printableString: 0x13,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
} as const;

/** Bytes joined end to end. */
export function concat(parts: readonly Bytes[]): Bytes {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function lengthBytes(length: number): Bytes {
  if (length < 0x80) return Uint8Array.of(length);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

/** One TLV: a tag byte, its DER length and the contents. */
export function tlv(tag: number, contents: Bytes): Bytes {
  return concat([Uint8Array.of(tag), lengthBytes(contents.length), contents]);
}

export const sequence = (...items: Bytes[]) => tlv(tags.sequence, concat(items));
/** A SET OF, its elements sorted by their encodings as DER requires. */
export function setOf(...items: Bytes[]): Bytes {
  const sorted = [...items].sort(compareBytes);
  return tlv(tags.set, concat(sorted));
}
export const nullValue = () => tlv(tags.null, new Uint8Array());
export const boolean = (value: boolean) => tlv(tags.boolean, Uint8Array.of(value ? 0xff : 0));
export const octetString = (bytes: Bytes) => tlv(tags.octetString, bytes);
/** A BIT STRING of whole bytes (no unused bits), as keys and signatures are. */
export const bitString = (bytes: Bytes) => tlv(tags.bitString, concat([Uint8Array.of(0), bytes]));
export const utf8String = (text: string) => tlv(tags.utf8String, new TextEncoder().encode(text));
export const printableString = (text: string) =>
  tlv(tags.printableString, new TextEncoder().encode(text));
/** `[n]` EXPLICIT: the whole inner encoding wrapped in a constructed context tag. */
export const explicit = (n: number, inner: Bytes) => tlv(0xa0 | n, inner);
/** `[n]` IMPLICIT on a primitive type: the contents under a context tag. */
export const implicitPrimitive = (n: number, contents: Bytes) => tlv(0x80 | n, contents);

function compareBytes(a: Bytes, b: Bytes): number {
  for (let index = 0; index < Math.min(a.length, b.length); index++) {
    if (a[index] !== b[index]) return a[index] - b[index];
  }
  return a.length - b.length;
}

/** A non-negative INTEGER from its big-endian magnitude: minimal, with a 0 byte if the top bit is set. */
export function unsignedInteger(magnitude: Bytes): Bytes {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const trimmed = magnitude.subarray(start);
  const contents = trimmed.length === 0
    ? Uint8Array.of(0)
    : trimmed[0] & 0x80
    ? concat([Uint8Array.of(0), trimmed])
    : trimmed;
  return tlv(tags.integer, contents);
}

export function smallInteger(value: number): Bytes {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`not encodable: ${value}`);
  const bytes: number[] = [];
  for (let rest = value; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return unsignedInteger(Uint8Array.from(bytes));
}

/** An OBJECT IDENTIFIER from its dotted form. */
export function oid(dotted: string): Bytes {
  const arcs = dotted.split(".").map(Number);
  const bytes: number[] = [arcs[0] * 40 + arcs[1]];
  for (const arc of arcs.slice(2)) {
    const base128: number[] = [];
    for (let rest = arc; base128.length === 0 || rest > 0; rest = Math.floor(rest / 128)) {
      base128.unshift((rest % 128) | (base128.length ? 0x80 : 0));
    }
    bytes.push(...base128);
  }
  return tlv(tags.oid, Uint8Array.from(bytes));
}

/** RFC 5280 time: UTCTime through 2049, GeneralizedTime after; whole seconds, always Z. */
export function time(at: Date): Bytes {
  const iso = at.toISOString(); // 2026-01-02T03:04:05.678Z
  const digits = iso.slice(0, 19).replace(/[-T:]/g, "") + "Z";
  return at.getUTCFullYear() < 2050
    ? tlv(tags.utcTime, new TextEncoder().encode(digits.slice(2)))
    : tlv(tags.generalizedTime, new TextEncoder().encode(digits));
}

/** One decoded TLV. `encoded` is the whole element (tag, length, contents). */
export interface Element {
  readonly tag: number;
  readonly contents: Bytes;
  readonly encoded: Bytes;
}

/** The element at `offset` of `bytes`. Throws on a truncated or indefinite-length encoding. */
export function readElement(bytes: Bytes, offset = 0): Element {
  if (offset + 2 > bytes.length) throw new Error("DER: truncated element");
  const tag = bytes[offset];
  if ((tag & 0x1f) === 0x1f) throw new Error("DER: multi-byte tags are not supported");
  let length = bytes[offset + 1];
  let header = 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4) throw new Error("DER: unsupported length encoding");
    length = 0;
    for (let index = 0; index < count; index++) {
      length = length * 256 + bytes[offset + 2 + index];
    }
    header += count;
  }
  const end = offset + header + length;
  if (end > bytes.length) throw new Error("DER: element runs past its container");
  return {
    tag,
    contents: bytes.subarray(offset + header, end),
    encoded: bytes.subarray(offset, end),
  };
}

/** The elements inside a constructed element (a SEQUENCE, SET or explicit tag). */
export function children(element: Element): Element[] {
  const items: Element[] = [];
  for (let offset = 0; offset < element.contents.length;) {
    const item = readElement(element.contents, offset);
    items.push(item);
    offset += item.encoded.length;
  }
  return items;
}

export function readOid(element: Element): string {
  if (element.tag !== tags.oid) throw new Error("DER: expected an OBJECT IDENTIFIER");
  const bytes = element.contents;
  const arcs = [Math.floor(bytes[0] / 40), bytes[0] % 40];
  let value = 0;
  for (const byte of bytes.subarray(1)) {
    value = value * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      arcs.push(value);
      value = 0;
    }
  }
  return arcs.join(".");
}

export function readTime(element: Element): Date {
  const text = new TextDecoder().decode(element.contents);
  const match = /^(\d{2}|\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (!match || (element.tag !== tags.utcTime && element.tag !== tags.generalizedTime)) {
    throw new Error(`DER: unsupported time ${text}`);
  }
  const year = element.tag === tags.utcTime
    ? (Number(match[1]) >= 50 ? 1900 : 2000) + Number(match[1])
    : Number(match[1]);
  const [month, day, hour, minute, second] = match.slice(2).map(Number);
  return new Date(Date.UTC(year, month - 1, day, hour, minute, second));
}

/** The bytes of a BIT STRING with no unused bits. */
export function readBitString(element: Element): Bytes {
  if (element.tag !== tags.bitString || element.contents[0] !== 0) {
    throw new Error("DER: expected a BIT STRING of whole bytes");
  }
  return element.contents.subarray(1);
}

export function readString(element: Element): string {
  return new TextDecoder().decode(element.contents);
}
