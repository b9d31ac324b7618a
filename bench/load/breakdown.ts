// Where the reaction time goes, from the operator's own histogram of its reaction phases.
//
// The bench times a spec change from outside (patch sent → status seen); the operator times it
// from the watch event that brought the new generation to each phase of its pass
// (etcd_operator_cluster_reaction_seconds{phase}). Scraped before and after a sample, the
// difference holds that sample's changes only.

export const reactionMetric = "etcd_operator_cluster_reaction_seconds";

export const reactionPhases = ["started", "observed", "writing", "acknowledged"] as const;
export type ReactionPhase = typeof reactionPhases[number];

/** One phase's histogram: cumulative counts by upper bound (le), ascending; +Inf last. */
export interface PhaseHistogram {
  readonly buckets: readonly (readonly [number, number])[];
  readonly sum: number;
  readonly count: number;
}

export type ReactionHistograms = ReadonlyMap<string, PhaseHistogram>;

/** Parses the reaction histogram out of a Prometheus text exposition. */
export function parseReactionHistograms(text: string): ReactionHistograms {
  const byPhase = new Map<string, { buckets: [number, number][]; sum: number; count: number }>();
  const phaseOf = (labels: string) => /(?:^|,)phase="([^"]*)"/.exec(labels)?.[1] ?? "unknown";
  const entry = (phase: string) => {
    let found = byPhase.get(phase);
    if (!found) byPhase.set(phase, found = { buckets: [], sum: 0, count: 0 });
    return found;
  };
  const series = new RegExp(`^${reactionMetric}_(bucket|sum|count)\\{([^}]*)\\}\\s+(\\S+)`, "gm");
  for (const [, part, labels, value] of text.matchAll(series)) {
    const phase = entry(phaseOf(labels));
    if (part === "sum") phase.sum = Number(value);
    else if (part === "count") phase.count = Number(value);
    else {
      const le = /(?:^|,)le="([^"]*)"/.exec(labels)?.[1] ?? "+Inf";
      phase.buckets.push([le === "+Inf" ? Infinity : Number(le), Number(value)]);
    }
  }
  for (const phase of byPhase.values()) phase.buckets.sort((a, b) => a[0] - b[0]);
  return byPhase;
}

export async function scrapeReaction(metricsUrl: string): Promise<ReactionHistograms> {
  const response = await fetch(metricsUrl, { signal: AbortSignal.timeout(5_000) });
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`${metricsUrl}: ${response.status}`);
  }
  return parseReactionHistograms(await response.text());
}

/** What was observed between two scrapes. */
export function histogramDelta(
  before: ReactionHistograms,
  after: ReactionHistograms,
): ReactionHistograms {
  const delta = new Map<string, PhaseHistogram>();
  for (const [phase, later] of after) {
    const earlier = before.get(phase);
    const earlierCount = (le: number) => earlier?.buckets.find(([bound]) => bound === le)?.[1] ?? 0;
    delta.set(phase, {
      buckets: later.buckets.map(([le, count]) => [le, count - earlierCount(le)] as const),
      sum: later.sum - (earlier?.sum ?? 0),
      count: later.count - (earlier?.count ?? 0),
    });
  }
  return delta;
}

/**
 * The q-quantile in seconds, interpolated within its bucket as Prometheus' histogram_quantile
 * does; NaN without observations. A quantile in the +Inf bucket is the largest finite bound.
 */
export function histogramQuantile(histogram: PhaseHistogram | undefined, q: number): number {
  if (!histogram || histogram.count <= 0) return NaN;
  const rank = q * histogram.count;
  let lowerBound = 0;
  let below = 0;
  for (const [le, cumulative] of histogram.buckets) {
    if (cumulative >= rank) {
      if (le === Infinity) return lowerBound;
      const inBucket = cumulative - below;
      return inBucket > 0 ? lowerBound + (le - lowerBound) * ((rank - below) / inBucket) : le;
    }
    lowerBound = le;
    below = cumulative;
  }
  return lowerBound;
}

export function histogramMean(histogram: PhaseHistogram | undefined): number {
  return histogram && histogram.count > 0 ? histogram.sum / histogram.count : NaN;
}
