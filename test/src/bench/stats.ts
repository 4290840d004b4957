/**
 * The arithmetic behind the benchmark figures, kept apart from the harness so that it is
 * tested on its own: percentiles of latency samples and the least-squares slope of RSS over time.
 */

/**
 * The p-th percentile (0–100) of `values` by the nearest-rank method: the smallest value such
 * that at least p % of the samples are at or below it. Nearest rank never invents a value that
 * was not measured, which is what a latency report should quote.
 *
 * Throws on an empty list or a p outside 0–100.
 *
 * @example percentile([15, 20, 35, 40, 50], 40) // 20
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new RangeError('percentile requires at least one value');
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be between 0 and 100 (got ${p})`);
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] as number;
}

export interface LatencySummary {
  count: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** p50/p95/p99/max of latency samples in milliseconds, rounded to 0.1 ms; null when there are none. */
export function summarizeLatencies(valuesMs: readonly number[]): LatencySummary | null {
  if (valuesMs.length === 0) return null;
  const round = (n: number) => Math.round(n * 10) / 10;
  return {
    count: valuesMs.length,
    p50Ms: round(percentile(valuesMs, 50)),
    p95Ms: round(percentile(valuesMs, 95)),
    p99Ms: round(percentile(valuesMs, 99)),
    maxMs: round(Math.max(...valuesMs)),
  };
}

/**
 * The slope of the least-squares line through (x, y) points: how fast y grows per unit of x.
 * Used for RSS in MB against minutes, so a flat memory profile reads as ≈ 0 MB/min.
 *
 * Throws when fewer than two points or all x are equal (no line is defined).
 *
 * @example leastSquaresSlope([{ x: 0, y: 1 }, { x: 1, y: 3 }, { x: 2, y: 5 }]) // 2
 */
export function leastSquaresSlope(points: readonly { x: number; y: number }[]): number {
  if (points.length < 2) throw new RangeError('leastSquaresSlope requires at least two points');
  let sx = 0;
  let sy = 0;
  for (const p of points) {
    sx += p.x;
    sy += p.y;
  }
  const mx = sx / points.length;
  const my = sy / points.length;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  if (den === 0) throw new RangeError('leastSquaresSlope requires at least two distinct x values');
  return num / den;
}

export interface Detection {
  detector: string;
  tokenId: string;
}

export interface QualityReport {
  /** Injected violations that raised an alert of their detector on their token. */
  truePositives: number;
  /** Injected violations that raised none. */
  missed: Detection[];
  /** Alerts that match no injected violation (by detector and token). */
  falsePositives: Detection[];
  recall: number;
  precision: number;
}

/**
 * Precision and recall of alerts against the injected violations, matched by detector and
 * token. Several alerts for one injected violation (e.g. one per target) count once; every
 * alert that matches nothing injected is a false positive. With nothing injected recall is 1;
 * with no alert precision is 1 (nothing claimed, nothing wrong).
 */
export function detectionQuality(injected: readonly Detection[], alerts: readonly Detection[]): QualityReport {
  const key = (d: Detection) => `${d.detector}\u0000${d.tokenId}`;
  const expected = new Map(injected.map((d) => [key(d), d]));
  const found = new Set<string>();
  const falsePositives: Detection[] = [];
  let matchedAlerts = 0;
  for (const a of alerts) {
    if (expected.has(key(a))) {
      found.add(key(a));
      matchedAlerts++;
    } else {
      falsePositives.push(a);
    }
  }
  const missed = [...expected.entries()].filter(([k]) => !found.has(k)).map(([, d]) => d);
  return {
    truePositives: found.size,
    missed,
    falsePositives,
    recall: expected.size === 0 ? 1 : found.size / expected.size,
    precision: alerts.length === 0 ? 1 : matchedAlerts / alerts.length,
  };
}
