// Prometheus counters, gauges and histograms with labels, rendered in the text exposition format.
export type Labels = Readonly<Record<string, string>>;

/** One value of a scrape-time metric; `labels` may be omitted for a metric without labels. */
export interface Sample {
  readonly labels?: Labels;
  readonly value: number;
}

const labelKey = (labels: Labels) =>
  Object.keys(labels).sort().map((name) => `${name}="${escapeLabel(labels[name])}"`).join(",");

function escapeLabel(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll("\n", "\\n").replaceAll('"', '\\"');
}

/** JavaScript writes "Infinity"; the exposition format wants "+Inf". */
function formatValue(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

const sampleLine = (name: string, key: string, value: number) =>
  `${name}${key ? `{${key}}` : ""} ${formatValue(value)}`;

function includes(labels: Labels, partial: Labels): boolean {
  return Object.entries(partial).every(([name, value]) => labels[name] === value);
}

interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge" | "histogram";
  render(): string[];
}

/**
 * The series of one family, keyed by their labels. Series can be deleted: a label value that
 * names something which has gone (a stopped actor) would otherwise be exported forever.
 */
class SeriesMap<V> {
  private readonly entries = new Map<string, { readonly labels: Labels; value: V }>();

  get(labels: Labels): V | undefined {
    return this.entries.get(labelKey(labels))?.value;
  }

  set(labels: Labels, value: V): void {
    const key = labelKey(labels);
    const entry = this.entries.get(key);
    if (entry) entry.value = value;
    else this.entries.set(key, { labels: { ...labels }, value });
  }

  /** Deletes the series with exactly these labels. */
  remove(labels: Labels): void {
    this.entries.delete(labelKey(labels));
  }

  /** Deletes every series whose labels include all of `partial`'s name=value pairs. */
  removeMatching(partial: Labels): void {
    for (const [key, entry] of this.entries) {
      if (includes(entry.labels, partial)) this.entries.delete(key);
    }
  }

  [Symbol.iterator](): IterableIterator<[string, V]> {
    return [...this.entries].map(([key, entry]): [string, V] => [key, entry.value]).values();
  }
}

export class Counter implements Family {
  readonly type = "counter";
  private readonly series = new SeriesMap<number>();
  constructor(readonly name: string, readonly help: string) {}
  inc(labels: Labels = {}, amount = 1): void {
    this.series.set(labels, (this.series.get(labels) ?? 0) + amount);
  }
  remove(labels: Labels): void {
    this.series.remove(labels);
  }
  removeMatching(partial: Labels): void {
    this.series.removeMatching(partial);
  }
  render(): string[] {
    return [...this.series].map(([key, value]) => sampleLine(this.name, key, value));
  }
}

export class Gauge implements Family {
  readonly type = "gauge";
  private readonly series = new SeriesMap<number>();
  constructor(readonly name: string, readonly help: string) {}
  set(labels: Labels, value: number): void {
    this.series.set(labels, value);
  }
  remove(labels: Labels): void {
    this.series.remove(labels);
  }
  removeMatching(partial: Labels): void {
    this.series.removeMatching(partial);
  }
  render(): string[] {
    return [...this.series].map(([key, value]) => sampleLine(this.name, key, value));
  }
}

interface HistogramEntry {
  readonly buckets: number[];
  sum: number;
  count: number;
}

export class Histogram implements Family {
  readonly type = "histogram";
  private readonly series = new SeriesMap<HistogramEntry>();
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[] = [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30],
  ) {}
  observe(labels: Labels, value: number): void {
    const entry = this.series.get(labels) ??
      { buckets: this.bounds.map(() => 0), sum: 0, count: 0 };
    this.bounds.forEach((bound, index) => {
      if (value <= bound) entry.buckets[index]++;
    });
    entry.sum += value;
    entry.count++;
    this.series.set(labels, entry);
  }
  remove(labels: Labels): void {
    this.series.remove(labels);
  }
  removeMatching(partial: Labels): void {
    this.series.removeMatching(partial);
  }
  render(): string[] {
    const lines: string[] = [];
    for (const [key, entry] of this.series) {
      const prefix = key ? `${key},` : "";
      this.bounds.forEach((bound, index) => {
        lines.push(`${this.name}_bucket{${prefix}le="${bound}"} ${entry.buckets[index]}`);
      });
      lines.push(`${this.name}_bucket{${prefix}le="+Inf"} ${entry.count}`);
      lines.push(sampleLine(`${this.name}_sum`, key, entry.sum));
      lines.push(sampleLine(`${this.name}_count`, key, entry.count));
    }
    return lines;
  }
}

/**
 * A gauge or counter whose values are read when scraped (memory, CPU time, open files): the
 * source keeps the number, so copying it into a Gauge on a timer would only make it stale.
 * `read` returning undefined or throwing renders no samples, so one unreadable source never
 * fails the whole scrape.
 */
export class ScrapedMetric implements Family {
  constructor(
    readonly type: "counter" | "gauge",
    readonly name: string,
    readonly help: string,
    private readonly read: () => number | readonly Sample[] | undefined,
  ) {}
  render(): string[] {
    return this.samples().map((sample) =>
      sampleLine(this.name, labelKey(sample.labels ?? {}), sample.value)
    );
  }
  private samples(): readonly Sample[] {
    try {
      const read = this.read();
      if (read === undefined) return [];
      return typeof read === "number" ? [{ value: read }] : read;
    } catch {
      return [];
    }
  }
}

export class Registry {
  private readonly families: Family[] = [];
  counter(name: string, help: string): Counter {
    return this.add(new Counter(name, help));
  }
  gauge(name: string, help: string): Gauge {
    return this.add(new Gauge(name, help));
  }
  histogram(name: string, help: string, bounds?: readonly number[]): Histogram {
    return this.add(new Histogram(name, help, bounds));
  }
  /** A gauge whose value(s) `read` returns at every scrape. */
  scrapedGauge(
    name: string,
    help: string,
    read: () => number | readonly Sample[] | undefined,
  ): ScrapedMetric {
    return this.add(new ScrapedMetric("gauge", name, help, read));
  }
  /** A counter kept by someone else (the kernel's CPU time), read at every scrape. */
  scrapedCounter(
    name: string,
    help: string,
    read: () => number | readonly Sample[] | undefined,
  ): ScrapedMetric {
    return this.add(new ScrapedMetric("counter", name, help, read));
  }
  private add<F extends Family>(family: F): F {
    this.families.push(family);
    return family;
  }
  render(): string {
    return this.families.map((family) =>
      [
        `# HELP ${family.name} ${family.help}`,
        `# TYPE ${family.name} ${family.type}`,
        ...family.render(),
      ]
        .join("\n")
    ).join("\n") + "\n";
  }
}
