// Numbers for the load bench's report: medians, percentiles, growth, and Markdown tables.

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Nearest-rank percentile: p99 of 20 samples is the largest one, never an interpolation. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

/**
 * Growth of a sampled series: median of the last 10 % minus median of the first 10 % (at least
 * one sample each), so one GC pause at either end does not read as a leak or as a recovery.
 */
export function growth(samples: readonly number[]): number {
  if (samples.length < 2) return NaN;
  const tenth = Math.max(1, Math.floor(samples.length / 10));
  return median(samples.slice(-tenth)) - median(samples.slice(0, tenth));
}

export const mib = (bytes: number) => bytes / 1024 ** 2;

/** A number for a table cell; NaN and undefined (not measured) print as "n/a". */
export function cell(value: number | undefined, digits = 1): string {
  return value === undefined || Number.isNaN(value) ? "n/a" : value.toFixed(digits);
}

export function markdownTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const widths = headers.map((header, column) =>
    Math.max(header.length, 3, ...rows.map((row) => row[column].length))
  );
  const line = (cells: readonly string[]) =>
    `| ${cells.map((text, column) => text.padEnd(widths[column])).join(" | ")} |`;
  return [
    line(headers),
    `| ${widths.map((width) => "-".repeat(width)).join(" | ")} |`,
    ...rows.map(line),
  ].join("\n");
}
