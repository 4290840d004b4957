import { type Store, counter, gauge, histogram, msToDateTime64 } from '@intentwatch/core';
import { AlertStore, type RecordResult } from '../alerts/alert-store.js';
import type { DetectContext, Detector, DetectorConfig, RunWindow } from '../define-detector.js';
import { IntentResolver } from '../intent/intent-resolver.js';
import { Watermarks } from './watermarks.js';

export interface RunReport extends RecordResult {
  detector: string;
  findings: number;
  durationMs: number;
  window: RunWindow;
}

const runSeconds = histogram(
  'intentwatch_detector_run_duration_seconds',
  'Time of one detector run (window, detection, alert upsert)',
  ['detector'],
  [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
);
const lagSeconds = gauge('intentwatch_detector_lag_seconds', 'Now minus the detector watermark after its last run', ['detector']);
const failures = counter('intentwatch_detector_failures_total', 'Detector runs that threw (retried at the next tick)', ['detector']);
const findingsTotal = counter('intentwatch_detector_findings_total', 'Violations found (evidence, before dedup into alerts)', ['detector']);

/** Cap on tokens/tasks re-examined in one run: a flood of lifecycle events must not make one query unbounded. */
const MAX_RECHECK = 50_000;

/**
 * Runs one detector over the data that arrived since its watermark and records its alerts.
 * Not safe to call concurrently for the same detector (the scheduler serialises runs per
 * detector in-process, and with a per-detector Redis lock across workers).
 */
export class DetectorRunner {
  readonly #store: Store;
  readonly #config: DetectorConfig;
  readonly #alerts: AlertStore;
  readonly #watermarks: Watermarks;

  constructor(store: Store, config: DetectorConfig, alerts = new AlertStore(store)) {
    this.#store = store;
    this.#config = config;
    this.#alerts = alerts;
    this.#watermarks = new Watermarks(store);
  }

  get watermarks(): Watermarks {
    return this.#watermarks;
  }

  /**
   * One run: window from the watermark (minus the lag) to now (minus the detector's settle
   * time), detection, session roots, alert upsert, then the watermark moves — only after the
   * alerts are stored, so a crash repeats a window (harmless) and never skips one.
   */
  async runOnce(detector: Detector, now = Date.now()): Promise<RunReport> {
    const started = performance.now();
    const end = runSeconds.startTimer({ detector: detector.id });
    try {
      const watermark = await this.#watermarks.get(detector.id);
      const window = await this.#window(detector, watermark, now);
      const intent = new IntentResolver(this.#store);
      const ctx: DetectContext = {
        store: this.#store,
        config: this.#config,
        now,
        window,
        intent,
        params: {
          since: msToDateTime64(window.sinceMs),
          until: msToDateTime64(window.untilMs),
          recheckSince: msToDateTime64(window.recheckSinceMs),
          recheckTokens: window.recheckTokens,
          recheckTasks: window.recheckTasks,
          skewMs: this.#config.clockSkewMs,
          graceMs: this.#config.graceMs,
        },
      };
      const findings = window.untilMs > window.sinceMs ? await detector.detect(ctx) : [];
      const unrooted = findings.filter((f) => !f.rootTokenId);
      if (unrooted.length > 0) {
        const sessions = await intent.sessions(unrooted.map((f) => f.tokenId));
        for (const f of unrooted) f.rootTokenId = sessions.get(f.tokenId)?.rootTokenId ?? f.tokenId;
      }
      findingsTotal.inc({ detector: detector.id }, findings.length);
      const recorded = await this.#alerts.record(detector, findings, now);
      if (window.untilMs > (watermark ?? 0)) await this.#watermarks.set(detector.id, window.untilMs);
      lagSeconds.set({ detector: detector.id }, Math.max(0, (Date.now() - Math.max(window.untilMs, watermark ?? 0)) / 1000));
      return { detector: detector.id, findings: findings.length, ...recorded, durationMs: performance.now() - started, window };
    } catch (e) {
      failures.inc({ detector: detector.id });
      throw e;
    } finally {
      end();
    }
  }

  async #window(detector: Detector, watermark: number | undefined, now: number): Promise<RunWindow> {
    const untilMs = now - detector.settleMs(this.#config);
    const sinceMs = watermark === undefined ? 0 : Math.max(0, Math.min(watermark, untilMs) - this.#config.detectLagMs);
    const window: RunWindow = {
      sinceMs,
      untilMs,
      recheckSinceMs: Math.max(0, sinceMs - this.#config.graceMs),
      recheck: false,
      recheckTokens: [],
      recheckTasks: [],
    };
    // The first run reads everything; later runs re-examine what late lifecycle events explain.
    if (!detector.recheck || watermark === undefined || untilMs <= sinceMs) return window;
    const range = { since: msToDateTime64(sinceMs), until: msToDateTime64(untilMs) };
    const [tokens, tasks] = await Promise.all([
      this.#store.query<{ token_id: string }>(
        `SELECT DISTINCT token_id FROM token_events
         WHERE ingested_at > {since:DateTime64(3)} AND ingested_at <= {until:DateTime64(3)} LIMIT ${MAX_RECHECK}`,
        range,
      ),
      this.#store.query<{ task_id: string }>(
        `SELECT DISTINCT task_id FROM task_events
         WHERE ingested_at > {since:DateTime64(3)} AND ingested_at <= {until:DateTime64(3)} AND task_id != '' LIMIT ${MAX_RECHECK}`,
        range,
      ),
    ]);
    const tokenSet = new Set(tokens.map((r) => r.token_id));
    const taskIds = tasks.map((r) => r.task_id);
    if (taskIds.length > 0) {
      const granted = await this.#store.query<{ token_id: string }>(
        `SELECT DISTINCT token_id FROM token_events WHERE task_id IN {tasks:Array(String)} LIMIT ${MAX_RECHECK}`,
        { tasks: taskIds },
      );
      for (const r of granted) tokenSet.add(r.token_id);
    }
    if (tokenSet.size > 0) {
      for (const t of await new IntentResolver(this.#store).descendants(tokenSet)) tokenSet.add(t);
    }
    window.recheck = tokenSet.size > 0 || taskIds.length > 0;
    window.recheckTokens = [...tokenSet].slice(0, MAX_RECHECK);
    window.recheckTasks = taskIds;
    return window;
  }
}
