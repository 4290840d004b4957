import type { SpanRow } from '@intentwatch/core';
import { LRUCache } from 'lru-cache';
import type { DetectorConfig } from '../define-detector.js';
import { countMadFloor, fanoutMadFloor, robustScore } from '../rules/usage_anomaly/robust-score.js';

/** Distinct targets counted per bucket; more make the bucket's fan-out read as this many. */
const MAX_TARGETS = 256;

interface Bucket {
  requests: number;
  targets: Set<string>;
  /** Requests when this bucket last made its entity suspect (0: never). */
  flaggedAt: number;
}

/** The agents and tokens whose usage a batch made suspect. */
export interface UsageSuspects {
  agents: Set<string>;
  tokens: Set<string>;
}

/**
 * The live screen of `usage_anomaly`: per agent and per token, requests and distinct targets per
 * bucket of event time, counted from the uses committed in this process, and the detector's own
 * robust score against the buckets before. A bucket that scores above the threshold makes its
 * entity suspect — once, and again each time its count doubles — and the detector's SQL then
 * scores it from the store (whose baseline may hold more than this process has seen). After a
 * restart the tally starts empty and says nothing until it has seen a warm-up's worth of
 * buckets; the scheduled runs cover that time.
 */
export class UsageTally {
  readonly #series: LRUCache<string, Map<number, Bucket>>;
  readonly #config: DetectorConfig['anomaly'];

  constructor(config: DetectorConfig['anomaly'], maxSeries: number) {
    this.#config = config;
    this.#series = new LRUCache({ max: maxSeries });
  }

  /** Counts the uses, then scores the buckets they touched. */
  add(uses: readonly SpanRow[]): UsageSuspects {
    const b = this.#config.bucketS;
    const touched = new Map<string, Set<number>>();
    for (const u of uses) {
      const bucket = Math.floor(Date.parse(u.time) / 1000 / b) * b;
      if (!Number.isFinite(bucket)) continue;
      const entities = u.agent_id !== '' ? [`agent|${u.agent_id}`, `token|${u.token_id}`] : [`token|${u.token_id}`];
      for (const key of entities) {
        let series = this.#series.get(key);
        if (!series) {
          series = new Map();
          this.#series.set(key, series);
        }
        let c = series.get(bucket);
        if (!c) {
          c = { requests: 0, targets: new Set(), flaggedAt: 0 };
          series.set(bucket, c);
          this.#trim(series);
        }
        c.requests++;
        if (c.targets.size < MAX_TARGETS) c.targets.add(u.target);
        let t = touched.get(key);
        if (!t) {
          t = new Set();
          touched.set(key, t);
        }
        t.add(bucket);
      }
    }
    const suspects: UsageSuspects = { agents: new Set(), tokens: new Set() };
    for (const [key, buckets] of touched) {
      const series = this.#series.get(key);
      if (!series) continue;
      for (const bucket of buckets) {
        const c = series.get(bucket);
        if (!c || (c.flaggedAt > 0 && c.requests < 2 * c.flaggedAt) || !this.#anomalous(series, bucket, c)) continue;
        c.flaggedAt = c.requests;
        const [kind, entity] = [key.slice(0, key.indexOf('|')), key.slice(key.indexOf('|') + 1)];
        (kind === 'agent' ? suspects.agents : suspects.tokens).add(entity);
      }
    }
    return suspects;
  }

  #anomalous(series: Map<number, Bucket>, bucket: number, c: Bucket): boolean {
    const { bucketS: b, baselineBuckets, warmupBuckets, threshold } = this.#config;
    const baseline = [...series.entries()].filter(([at]) => at < bucket && at >= bucket - baselineBuckets * b).map(([, h]) => h);
    if (baseline.length < warmupBuckets) return false;
    const rate = robustScore(
      c.requests,
      baseline.map((h) => h.requests),
      countMadFloor,
    );
    const fanout = robustScore(
      c.targets.size,
      baseline.map((h) => h.targets.size),
      fanoutMadFloor,
    );
    return rate.z > threshold || fanout.z > threshold;
  }

  /** Keeps a series to the buckets a score can still read: the newest and its baseline. */
  #trim(series: Map<number, Bucket>): void {
    const { bucketS: b, baselineBuckets } = this.#config;
    if (series.size <= baselineBuckets + 2) return;
    const newest = Math.max(...series.keys());
    for (const at of series.keys()) if (at < newest - (baselineBuckets + 1) * b) series.delete(at);
  }
}
