import assert from "node:assert/strict";
import {
  histogramDelta,
  histogramMean,
  histogramQuantile,
  parseReactionHistograms,
} from "../../../bench/load/breakdown.ts";

const exposition = (started: [number, number, number], sum: number) =>
  [
    "# TYPE etcd_operator_cluster_reaction_seconds histogram",
    `etcd_operator_cluster_reaction_seconds_bucket{phase="started",le="0.01"} ${started[0]}`,
    `etcd_operator_cluster_reaction_seconds_bucket{phase="started",le="0.1"} ${started[1]}`,
    `etcd_operator_cluster_reaction_seconds_bucket{phase="started",le="+Inf"} ${started[2]}`,
    `etcd_operator_cluster_reaction_seconds_sum{phase="started"} ${sum}`,
    `etcd_operator_cluster_reaction_seconds_count{phase="started"} ${started[2]}`,
  ].join("\n");

Deno.test("the breakdown keeps only the changes observed between two scrapes", () => {
  const before = parseReactionHistograms(exposition([5, 5, 5], 0.01));
  const after = parseReactionHistograms(exposition([7, 9, 10], 0.61));
  const delta = histogramDelta(before, after).get("started")!;
  assert.deepEqual(delta.buckets, [[0.01, 2], [0.1, 4], [Infinity, 5]]);
  assert.equal(delta.count, 5);
  assert.ok(Math.abs(histogramMean(delta) - 0.12) < 1e-9);
});

Deno.test("quantiles interpolate within their bucket; one in +Inf is the largest finite bound", () => {
  const histogram = { buckets: [[0.01, 2], [0.1, 4], [Infinity, 5]] as const, sum: 0, count: 5 };
  assert.ok(Math.abs(histogramQuantile(histogram, 0.2) - 0.005) < 1e-9);
  assert.ok(Math.abs(histogramQuantile(histogram, 0.6) - 0.055) < 1e-9);
  assert.equal(histogramQuantile(histogram, 0.99), 0.1);
  assert.ok(Number.isNaN(histogramQuantile(undefined, 0.5)));
});
