// metav1.MicroTime: RFC 3339 with exactly six fractional digits, which Lease and eventTime demand.

/**
 * `2024-05-01T12:00:00.123000Z`. A Date holds milliseconds, so the last three digits are zero;
 * the API server rejects `Date.toISOString()`'s three digits with a 400 (see NOTES.md).
 */
export function formatMicroTime(date: Date): string {
  const iso = date.toISOString(); // always YYYY-MM-DDTHH:MM:SS.mmmZ in UTC
  return `${iso.slice(0, -1)}000Z`;
}

/** metav1.Time: RFC 3339 to the second, as `firstTimestamp`/`lastTimestamp` use. */
export function formatTime(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

const rfc3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/;

/** Parses Time or MicroTime (any number of fractional digits); undefined when malformed. */
export function parseMicroTime(text: string | undefined): Date | undefined {
  const match = text ? rfc3339.exec(text) : null;
  if (!match) return undefined;
  const [, seconds, fraction = "", zone] = match;
  const millis = (fraction + "000").slice(0, 3);
  const date = new Date(`${seconds}.${millis}${zone}`);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
