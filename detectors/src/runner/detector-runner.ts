import { Lineage, type Store, counter, gauge, histogram, msToDateTime64 } from '@intentwatch/core';
import { AlertStore, type Finding, type RecordResult } from '@intentwatch/alerts';
import type { DetectContext, Detector, DetectorConfig, LiveScope, RunWindow } from '../define-detector.js';
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
const liveRunSeconds = histogram(
  'intentwatch_detector_live_run_duration_seconds',
  'Time of one live run (the uses and events of committed batches that the screen made suspect: detection, alert upsert)',
  ['detector'],
  [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
);
const lagSeconds = gauge('intentwatch_detector_lag_seconds', 'Now minus the detector watermark after its last run', ['detector']);
const failures = counter('intentwatch_detector_failures_total', 'Detector runs that threw (retried at the next tick)', ['detector']);
const findingsTotal = counter('intentwatch_detector_findings_total', 'Violations found (evidence, before dedup into alerts)', ['detector']);

/** Cap on tokens/tasks re-examined in one run: a flood of lifecycle events must not make one query unbounded. */
const MAX_RECHECK = 50_000;

/** A live run's slice: the suspects of committed batches and the ingestion times of their rows. */
export interface LiveRun extends LiveScope {
  /** The window: rows ingested in (sinceMs, untilMs]. */
  sinceMs: number;
  untilMs: number;
}

export interface DetectorRunnerOptions {
  /**
   * Keep each detector's watermark in memory after the first read (default true). Safe when this
   * runner is the only one running its detectors; with several workers (BullMQ) the watermark
   * must be read from the store at every run, since another worker may have moved it.
   */
  cacheWatermarks?: boolean;
  /**
   * With cached watermarks, store a moved watermark at most this often (default 5000 ms), since
   * an insert costs more than a whole run on the embedded engine. A restart then resumes at most
   * this much earlier, which only repeats work (detection is idempotent). `flush` stores the rest.
   */
  persistEveryMs?: number;
}

/**
 * Runs one detector over the data that arrived since its watermark and records its alerts; or,
 * live, over what committed batches made suspect. Detection only reads; the recording of one
 * detector's alerts takes turns in this process (the recorder must not run twice at once for a
 * detector), and across processes the scheduler holds a per-detector Redis lock. Scheduled runs
 * of one detector must not overlap each other (the service runs them in turn).
 */
export class DetectorRunner {
  readonly #store: Store;
  readonly #config: DetectorConfig;
  readonly #alerts: AlertStore;
  readonly #watermarks: Watermarks;
  readonly #cacheWatermarks: boolean;
  readonly #cachedWatermarks = new Map<string, number>();
  readonly #persistEveryMs: number;
  /** Watermarks as last stored, per detector (for throttled persistence). */
  readonly #persisted = new Map<string, number>();
  /** The recording in progress (or queued last) per detector: recordings of one detector take turns. */
  readonly #turns = new Map<string, Promise<unknown>>();
  /** The last window's re-examined tokens and tasks: detectors run in one tick share a window. */
  #recheckMemo: { key: string; value: Promise<{ tokens: string[]; tasks: string[] }> } | undefined;

  constructor(store: Store, config: DetectorConfig, alerts = new AlertStore(store), options: DetectorRunnerOptions = {}) {
    this.#store = store;
    this.#config = config;
    this.#alerts = alerts;
    this.#watermarks = new Watermarks(store);
    this.#cacheWatermarks = options.cacheWatermarks ?? true;
    this.#persistEveryMs = this.#cacheWatermarks ? (options.persistEveryMs ?? 5000) : 0;
  }

  /** Stores every cached watermark that moved since it was last stored. */
  async flush(): Promise<void> {
    for (const [detector, watermark] of this.#cachedWatermarks) {
      if (this.#persisted.get(detector) !== watermark) {
        await this.#watermarks.set(detector, watermark);
        this.#persisted.set(detector, watermark);
      }
    }
  }

  /** Forgets cached watermarks (after someone else moved them, e.g. a test replaying history). */
  forgetWatermarks(): void {
    this.#cachedWatermarks.clear();
    this.#persisted.clear();
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
    return this.#timed(detector, runSeconds, async () => {
      const watermark =
        (this.#cacheWatermarks ? this.#cachedWatermarks.get(detector.id) : undefined) ?? (await this.#watermarks.get(detector.id));
      const window = await this.#window(detector, watermark, now);
      const { findings, recorded } = await this.#detectAndRecord(detector, window, now);
      if (window.untilMs > (watermark ?? 0)) {
        if (this.#cacheWatermarks) this.#cachedWatermarks.set(detector.id, window.untilMs);
        const persisted = this.#persisted.get(detector.id);
        if (persisted === undefined || window.untilMs - persisted >= this.#persistEveryMs) {
          await this.#watermarks.set(detector.id, window.untilMs);
          this.#persisted.set(detector.id, window.untilMs);
        }
      }
      lagSeconds.set({ detector: detector.id }, Math.max(0, (Date.now() - Math.max(window.untilMs, watermark ?? 0)) / 1000));
      return { findings, recorded, window };
    });
  }

  /**
   * A live run: the detector over the rows ingested in (sinceMs, untilMs], reading only the uses
   * of the suspects (and their lifecycle events in that window). It records alerts exactly as a
   * scheduled run would — the same SQL, the same findings — and leaves the watermark alone: the
   * scheduled run still passes over the same rows, as reconciliation, and finds its evidence
   * already recorded.
   */
  async runLive(detector: Detector, run: LiveRun, now = Date.now()): Promise<RunReport> {
    const window = liveWindow(run.sinceMs, run.untilMs, { tokens: run.tokens, agents: run.agents });
    return this.#timed(detector, liveRunSeconds, async () => ({ ...(await this.#detectAndRecord(detector, window, now)), window }));
  }

  /**
   * Records findings live detection judged in memory (`judgeUse`, `judgeEvent`): the alert upsert
   * of a run, in the detector's turn, with nothing read. Findings name their session root.
   */
  async recordLive(detector: Detector, findings: Finding[], now = Date.now()): Promise<RunReport> {
    return this.#timed(detector, liveRunSeconds, async () => {
      findingsTotal.inc({ detector: detector.id }, findings.length);
      const recorded = await this.#inTurn(detector.id, () => this.#alerts.record(detector, findings, now));
      return { findings: findings.length, recorded, window: liveWindow(now, now, { tokens: [], agents: [] }) };
    });
  }

  /** A run's report, its duration on `histogram`, and its failure counted. */
  async #timed(
    detector: Detector,
    histogram: typeof runSeconds,
    work: () => Promise<{ findings: number; recorded: RecordResult; window: RunWindow }>,
  ): Promise<RunReport> {
    const started = performance.now();
    const end = histogram.startTimer({ detector: detector.id });
    try {
      const { findings, recorded, window } = await work();
      return { detector: detector.id, findings, ...recorded, durationMs: performance.now() - started, window };
    } catch (e) {
      failures.inc({ detector: detector.id });
      throw e;
    } finally {
      end();
    }
  }

  /** Runs `work` after every earlier recording of the same detector in this process has ended. */
  #inTurn<T>(detectorId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#turns.get(detectorId) ?? Promise.resolve();
    const mine = previous.then(work, work);
    const settled = mine.then(
      () => undefined,
      () => undefined,
    );
    this.#turns.set(detectorId, settled);
    void settled.then(() => {
      if (this.#turns.get(detectorId) === settled) this.#turns.delete(detectorId);
    });
    return mine;
  }

  /**
   * Detection over `window` (read-only: a live run and a scheduled run of one detector may detect
   * at the same time), session roots for findings without one, then the alert upsert, which takes
   * the detector's turn: its alerts are recorded by one run at a time.
   */
  async #detectAndRecord(detector: Detector, window: RunWindow, now: number): Promise<{ findings: number; recorded: RecordResult }> {
    const lineage = new Lineage(this.#store);
    const ctx: DetectContext = {
      store: this.#store,
      config: this.#config,
      now,
      window,
      intent: new IntentResolver(this.#store),
      lineage,
      params: {
        since: msToDateTime64(window.sinceMs),
        until: msToDateTime64(window.untilMs),
        recheckSince: msToDateTime64(window.recheckSinceMs),
        recheckTokens: window.recheckTokens,
        recheckTasks: window.recheckTasks,
        onlyTokens: window.only?.tokens ?? [],
        onlyAgents: window.only?.agents ?? [],
        skewMs: this.#config.clockSkewMs,
        graceMs: this.#config.graceMs,
      },
    };
    const findings = window.untilMs > window.sinceMs ? await detector.detect(ctx) : [];
    const unrooted = findings.filter((f) => !f.rootTokenId);
    if (unrooted.length > 0) {
      const sessions = await lineage.sessions(unrooted.map((f) => f.tokenId));
      for (const f of unrooted) f.rootTokenId = sessions.get(f.tokenId)?.rootTokenId ?? f.tokenId;
    }
    findingsTotal.inc({ detector: detector.id }, findings.length);
    const recorded = await this.#inTurn(detector.id, () => this.#alerts.record(detector, findings, now));
    return { findings: findings.length, recorded };
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
    const key = `${sinceMs}-${untilMs}`;
    if (this.#recheckMemo?.key !== key) this.#recheckMemo = { key, value: this.#recheckSet(sinceMs, untilMs) };
    const { tokens, tasks } = await this.#recheckMemo.value.catch((e: unknown) => {
      this.#recheckMemo = undefined;
      throw e;
    });
    window.recheck = tokens.length > 0 || tasks.length > 0;
    window.recheckTokens = tokens;
    window.recheckTasks = tasks;
    return window;
  }

  /**
   * Tokens and tasks whose lifecycle events arrived in (since, until], and the tokens whose uses
   * those events may judge differently (lineage decides which): for a revocation, a renewal or a
   * refresh (which joins a token to a session), the token's whole session and everything
   * delegated from it; for an issue or an exchange, the token and its descendants; for a task
   * event, the tokens granted for the task and their descendants.
   */
  async #recheckSet(sinceMs: number, untilMs: number): Promise<{ tokens: string[]; tasks: string[] }> {
    const [row] = await this.#store.query<{ tokens: string[]; tasks: string[]; lineageWide: string[] }>(
      `WITH
         (SELECT groupUniqArray(${MAX_RECHECK})(task_id) FROM task_events
          WHERE ingested_at > {since:DateTime64(3)} AND ingested_at <= {until:DateTime64(3)} AND task_id != '') AS tasks
       SELECT tasks,
         groupUniqArray(${MAX_RECHECK})(token_id) AS tokens,
         groupUniqArrayIf(${MAX_RECHECK})(token_id, event IN ('revoked', 'renewed', 'refreshed')) AS lineageWide
       FROM token_events
       WHERE (ingested_at > {since:DateTime64(3)} AND ingested_at <= {until:DateTime64(3)}) OR (task_id != '' AND has(tasks, task_id))`,
      { since: msToDateTime64(sinceMs), until: msToDateTime64(untilMs) },
    );
    const named = row?.tokens ?? [];
    const lineage = new Lineage(this.#store);
    const tokenSet = new Set(named);
    for (const list of (await lineage.descendants(named)).values()) for (const t of list) tokenSet.add(t);
    if (row?.lineageWide.length) for (const t of await lineage.affected(row.lineageWide)) tokenSet.add(t);
    return { tokens: [...tokenSet].slice(0, MAX_RECHECK), tasks: row?.tasks ?? [] };
  }
}

/** The window of a live run: rows ingested in (sinceMs, untilMs], nothing re-examined. */
function liveWindow(sinceMs: number, untilMs: number, only: LiveScope): RunWindow {
  return { sinceMs, untilMs, recheckSinceMs: sinceMs, recheck: false, recheckTokens: [], recheckTasks: [], only };
}
