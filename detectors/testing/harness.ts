import { type Alert, AlertStore } from '@intentwatch/alerts';
import type { Collector } from '@intentwatch/collector';
import { collectorSettings } from '@intentwatch/collector/settings';
import { composeSettings, coreSettings } from '@intentwatch/core';
import { openTestStore, timedJsonEvents, timedOtlpJson } from '@intentwatch/testkit';
import { startCollector } from '@intentwatch/testkit/collector';
import type { Detector } from '../src/define-detector.js';
import { DetectorRunner, type RunReport } from '../src/runner/detector-runner.js';
import { detectorSettings } from '../src/settings.js';
import { type Scenario, type ScenarioSpan, idsOf } from './scenario.js';

/** The settings the harness's parts read: core, the collector and the detectors. */
const SETTINGS = composeSettings(coreSettings, collectorSettings, detectorSettings);
const openStore = (env: NodeJS.ProcessEnv) => openTestStore(env, { settings: SETTINGS });
type TestStore = Awaited<ReturnType<typeof openStore>>;
type Config = TestStore['config'];

/** Test configuration: a short grace and lag so that out-of-order cases play in seconds. */
export const TEST_ENV = { INTENTWATCH_GRACE_MS: '3000', INTENTWATCH_DETECT_LAG_MS: '500', INTENTWATCH_BATCH_MS: '10' };

export interface PlayOptions {
  /** Deliver each span on its own, in this order of indexes into `scenario.spans` (default: by `delivery`, then as listed). */
  order?: number[];
  /** Start of the scenario (epoch ms); default 20 minutes ago. */
  baseMs?: number;
}

/**
 * A real collector on port 0 in front of a real embedded store, and a detector runner: scenarios
 * go in as OTLP over HTTP, exactly as agents and brokers send them, and alerts come out of the
 * AlertStore the API reads.
 */
export class DetectorHarness {
  readonly store: TestStore;
  readonly collector: Collector;
  readonly alerts: AlertStore;
  readonly runner: DetectorRunner;
  readonly url: string;

  private constructor(store: TestStore, collector: Collector, url: string) {
    this.store = store;
    this.collector = collector;
    this.url = url;
    this.alerts = new AlertStore(store.store);
    this.runner = new DetectorRunner(store.store, store.config, this.alerts);
  }

  static async start(env: NodeJS.ProcessEnv = {}): Promise<DetectorHarness> {
    const store = await openStore({ ...TEST_ENV, ...env });
    const { collector, url } = await startCollector(store.store, store.config);
    return new DetectorHarness(store, collector, url);
  }

  get config(): Readonly<Config> {
    return this.store.config;
  }

  async close(): Promise<void> {
    await this.collector.close();
    await this.store.dispose();
  }

  /** Sends spans through the collector (OTLP/JSON, or the JSON event endpoints for `viaJson` spans). */
  async send(spans: readonly ScenarioSpan[], baseMs: number): Promise<void> {
    const otlp = spans.filter((s) => !s.viaJson);
    if (otlp.length > 0) await this.#post('/v1/traces', timedOtlpJson(otlp, baseMs));
    const tokenJson = spans.filter((s) => s.viaJson && 'token.event' in s.attrs);
    if (tokenJson.length > 0) await this.#post('/v1/token-events', timedJsonEvents(tokenJson, baseMs));
    const taskJson = spans.filter((s) => s.viaJson && 'task.event' in s.attrs);
    if (taskJson.length > 0) await this.#post('/v1/task-events', timedJsonEvents(taskJson, baseMs));
  }

  /**
   * Plays a scenario: delivers its spans batch by batch (by `delivery`, or one by one in
   * `order`), running the detector after each batch, and — for a detector that waits for late
   * events — once more after its settle time. Returns the detector's alerts about the scenario.
   */
  async play(detector: Detector, scenario: Scenario, options: PlayOptions = {}): Promise<Alert[]> {
    const align = (scenario.alignStartS ?? 0) * 1000;
    const unaligned = Date.now() - 20 * 60_000;
    const baseMs = options.baseMs ?? (align > 0 ? unaligned - (unaligned % align) : unaligned);
    const batches: ScenarioSpan[][] = options.order
      ? options.order.map((i) => [scenario.spans[i] as ScenarioSpan])
      : [...groupBy(scenario.spans, (s) => s.delivery ?? 0).entries()].sort(([a], [b]) => a - b).map(([, v]) => v);
    for (const batch of batches) {
      await this.send(batch, baseMs);
      await this.run(detector);
    }
    const settle = detector.settleMs(this.config);
    if (settle > 0) {
      await new Promise((r) => setTimeout(r, settle + 50));
      await this.run(detector);
    }
    return this.alertsAbout(detector.id, scenario);
  }

  run(detector: Detector, now?: number): Promise<RunReport> {
    return this.runner.runOnce(detector, now);
  }

  /** The detector's alerts naming one of the scenario's tokens (as token or session root). */
  async alertsAbout(detectorId: string, scenario: Scenario): Promise<Alert[]> {
    const { tokens } = idsOf(scenario);
    const found = new Map<string, Alert>();
    for (const tokenId of tokens) {
      const page = await this.alerts.list({ detector: detectorId, tokenId, limit: 500 });
      for (const a of page.alerts) found.set(a.id, a);
    }
    return [...found.values()].sort((a, b) => a.tokenId.localeCompare(b.tokenId) || a.id.localeCompare(b.id));
  }

  async #post(path: string, body: string): Promise<void> {
    const res = await fetch(`${this.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const text = await res.text();
    if (!res.ok) throw new Error(`${path} answered ${res.status}: ${text}`);
    if (text.includes('rejected') && /"rejectedSpans"|"rejected":\[\{/.test(text)) throw new Error(`${path} rejected spans: ${text}`);
  }
}

function groupBy<T, K>(items: readonly T[], key: (t: T) => K): Map<K, T[]> {
  const m = new Map<K, T[]>();
  for (const it of items) m.set(key(it), [...(m.get(key(it)) ?? []), it]);
  return m;
}

/** A deterministic shuffle (mulberry32), so a failing order can be replayed. */
export function shuffled(n: number, seed: number): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  let a = seed >>> 0;
  const rand = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [idx[i], idx[j]] = [idx[j] as number, idx[i] as number];
  }
  return idx;
}
