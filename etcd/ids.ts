// Member ids: etcd3 hands out 64-bit ids as decimal strings; people and etcdctl read them as hex.

/** The largest id etcd can hand out: ids are unsigned 64-bit integers. */
const maxId = (1n << 64n) - 1n;

/**
 * Hex form of a decimal id, lowercase without leading zeros, exactly as etcdctl and etcd's own
 * logs print it (`%x`). BigInt because ids are 64-bit: above 2^53 a JavaScript number rounds.
 */
export function memberIdFromDecimal(decimalId: string): string {
  if (!/^[0-9]+$/.test(decimalId)) throw new Error(`not a decimal member id: "${decimalId}"`);
  return toHex(BigInt(decimalId));
}

/** Decimal form of a hex id (with or without leading zeros), as etcd3 requests expect it. */
export function memberIdToDecimal(hexId: string): string {
  if (!/^[0-9a-fA-F]{1,16}$/.test(hexId)) throw new Error(`not a hex member id: "${hexId}"`);
  return BigInt(`0x${hexId}`).toString(10);
}

/** Canonical hex form of a hex id someone typed (upper case, leading zeros). */
export function normalizeMemberId(hexId: string): string {
  return memberIdFromDecimal(memberIdToDecimal(hexId));
}

function toHex(id: bigint): string {
  if (id > maxId) throw new Error(`member id ${id} does not fit in 64 bits`);
  return id.toString(16);
}
