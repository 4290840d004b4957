import { type SpanRow, type Store, type TaskEventRow, type TokenEventRow, counter, createLogger, histogram } from '@intentwatch/core';
import type { Finding } from '@intentwatch/alerts';
import type { Detector, DetectorConfig } from '../define-detector.js';
import type { LiveRun } from '../runner/detector-runner.js';
import type { DetectorSettings } from '../settings.js';
import { GrantState } from './grant-state.js';
import { LIVE_DETECTORS, type LiveDetectorId, screenTokenEvent, screenUse } from './screen.js';
import { UsageTally } from './usage-tally.js';

/** Rows the collector committed in this process (one request's, or several). */
export interface CommittedRows {
  spans: readonly SpanRow[];
  tokenEvents: readonly TokenEventRow[];
  taskEvents: readonly TaskEventRow[];
}

export interface LiveDetectionOptions {
  store: Store;
  config: DetectorConfig & Pick<DetectorSettings, 'live'>;
  detectors: readonly Detector[];
  /** Runs one detector's SQL live; resolves when its alerts are recorded (errors are the caller's to report). */
  run: (detector: Detector, run: LiveRun) => Promise<void>;
  /** Records findings judged in memory, as a run of the detector would. */
  record: (detector: Detector, findings: Finding[]) => Promise<void>;
}

/** Rows waiting to be screened past which the oldest are left to the scheduled runs. */
const MAX_WAITING_ROWS = 200_000;

const suspectsTotal = counter('intentwatch_live_suspects_total', 'Committed uses and lifecycle events the live screen sent to a detector', [
  'detector',
]);
const skippedTotal = counter(
  'intentwatch_live_rows_skipped_total',
  'Committed rows live detection did not screen (too many waiting, or the store did not answer); the scheduled runs examine them',
);

const LIVE_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const cycleSeconds = histogram(
  'intentwatch_live_screen_cycle_seconds',
  'Time of one screening cycle: the committed batches waiting, their grants and tasks looked up, judged, and the suspects handed to the live runs',
  [],
  LIVE_BUCKETS,
);
const screenedSeconds = histogram(
  'intentwatch_live_screen_delay_seconds',
  'From a batch handed to live detection after its commit to the end of the cycle that screened it (the wait for the cycle before included)',
  [],
  LIVE_BUCKETS,
);

interface Suspects {
  /** Suspects for the detector's SQL (rows the detector cannot judge in memory). */
  tokens: Set<string>;
  agents: Set<string>;
  minIngestedMs: number;
  maxIngestedMs: number;
  /** Findings judged in memory (`judgeUse`), to record as they are. */
  findings: Finding[];
}

/**
 * Live detection: every batch the collector commits in this process is screened in memory
 * against the state of its grants (screen.ts), and each detector it makes suspect runs at once
 * on just those tokens (`DetectorRunner.runLive`) — so an alert follows its span by a commit and
 * one small query, instead of waiting for the next scheduled pass. The scheduled runs go on as
 * before and reconcile: they find what the screen could not know (late grants, events ingested by
 * other processes, state read before a restart) and add nothing to what live runs recorded.
 *
 * Batches are screened one cycle at a time (rows committed during a cycle form the next one);
 * each detector's live runs follow one another, on whatever its cycles made suspect meanwhile.
 */
export class LiveDetection {
  readonly #log = createLogger('detectors.live');
  readonly #options: LiveDetectionOptions;
  readonly #state: GrantState;
  readonly #tally: UsageTally | undefined;
  readonly #detectors = new Map<LiveDetectorId, Detector>();
  /** The live detectors that judge every use in memory. */
  readonly #useJudges: Detector[] = [];
  #waiting: CommittedRows[] = [];
  /** When each waiting batch was handed in (performance.now()), in the order of `#waiting`. */
  #waitingSince: number[] = [];
  #waitingRows = 0;
  #cycle: Promise<void> | undefined;
  #closed = false;
  /** Suspects waiting for their detector's next live run, and the live run in progress per detector. */
  readonly #queued = new Map<LiveDetectorId, Suspects>();
  readonly #running = new Map<LiveDetectorId, Promise<void>>();

  constructor(options: LiveDetectionOptions) {
    this.#options = options;
    const { live, anomaly } = options.config;
    this.#state = new GrantState(options.store, { maxEntries: live.cacheTokens, ttlMs: live.cacheTtlMs });
    for (const d of options.detectors) {
      if (!(LIVE_DETECTORS as readonly string[]).includes(d.id)) continue;
      this.#detectors.set(d.id as LiveDetectorId, d);
      if (d.judgeUse) this.#useJudges.push(d);
    }
    this.#tally = this.#detectors.has('usage_anomaly')
      ? new UsageTally(anomaly, Math.max(10, Math.floor(live.cacheTokens / 10)))
      : undefined;
  }

  /** Takes committed rows; screening happens in the background. */
  observe(rows: CommittedRows): void {
    if (this.#closed) return;
    const spans = rows.spans.filter((s) => s.token_id !== '');
    const size = spans.length + rows.tokenEvents.length + rows.taskEvents.length;
    if (size === 0) return;
    this.#waiting.push({ spans, tokenEvents: rows.tokenEvents, taskEvents: rows.taskEvents });
    this.#waitingSince.push(performance.now());
    this.#waitingRows += size;
    while (this.#waitingRows > MAX_WAITING_ROWS && this.#waiting.length > 1) {
      this.#waitingSince.shift();
      const dropped = this.#waiting.shift() as CommittedRows;
      const n = dropped.spans.length + dropped.tokenEvents.length + dropped.taskEvents.length;
      this.#waitingRows -= n;
      skippedTotal.inc(n);
    }
    this.#cycle ??= this.#drain();
  }

  /**
   * Resolves once everything observed so far has been screened and its live runs have ended —
   * or, with `maxWaitMs`, after that long at most.
   */
  async idle(maxWaitMs?: number): Promise<void> {
    const deadline = maxWaitMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + maxWaitMs;
    for (;;) {
      const busy = [...(this.#cycle ? [this.#cycle] : []), ...this.#running.values()];
      if (busy.length === 0 || Date.now() >= deadline) return;
      if (maxWaitMs === undefined) {
        await Promise.all(busy);
        continue;
      }
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(busy), new Promise((r) => (timer = setTimeout(r, Math.max(0, deadline - Date.now()))))]);
      clearTimeout(timer);
    }
  }

  /** Stops taking rows and waits for the cycle in progress. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#waiting = [];
    this.#waitingSince = [];
    this.#waitingRows = 0;
    this.#queued.clear();
    await this.idle();
  }

  /**
   * Starts the detector's live run on what is queued for it, unless one is in progress: each
   * detector has its own line, so a slow run of one does not hold up the others, and suspects
   * that arrive meanwhile go into its next run together.
   */
  #kick(id: LiveDetectorId): void {
    if (this.#running.has(id)) return;
    const found = this.#queued.get(id);
    if (!found) return;
    this.#queued.delete(id);
    const detector = this.#detectors.get(id) as Detector;
    const run = (async () => {
      if (found.findings.length > 0) await this.#options.record(detector, found.findings);
      if (found.tokens.size > 0 || found.agents.size > 0) {
        await this.#options.run(detector, {
          tokens: [...found.tokens],
          agents: [...found.agents],
          sinceMs: found.minIngestedMs - 1,
          untilMs: found.maxIngestedMs,
        });
      }
    })()
      .catch((e: unknown) => this.#log.warn({ err: String(e), detector: id }, 'live run failed; the scheduled runs will examine its rows'))
      .finally(() => {
        this.#running.delete(id);
        if (!this.#closed) this.#kick(id);
      });
    this.#running.set(id, run);
  }

  async #drain(): Promise<void> {
    try {
      while (this.#waiting.length > 0 && !this.#closed) {
        const batches = this.#waiting;
        const since = this.#waitingSince;
        this.#waiting = [];
        this.#waitingSince = [];
        this.#waitingRows = 0;
        const started = performance.now();
        try {
          await this.#screenAndRun(batches);
          const ended = performance.now();
          cycleSeconds.observe((ended - started) / 1000);
          for (const at of since) screenedSeconds.observe((ended - at) / 1000);
        } catch (e) {
          const rows = batches.reduce((n, b) => n + b.spans.length + b.tokenEvents.length + b.taskEvents.length, 0);
          skippedTotal.inc(rows);
          this.#log.warn({ err: String(e), rows }, 'live detection could not screen committed rows; the scheduled runs will examine them');
        }
      }
    } finally {
      this.#cycle = undefined;
    }
  }

  async #screenAndRun(batches: readonly CommittedRows[]): Promise<void> {
    const uses = batches.flatMap((b) => b.spans);
    const tokenEvents = batches.flatMap((b) => b.tokenEvents);
    const taskEvents = batches.flatMap((b) => b.taskEvents);

    // What the events change is read again at its next use.
    this.#state.forgetTasks([...new Set(taskEvents.map((e) => e.task_id))]);
    await this.#state.forgetTokens(
      [...new Set(tokenEvents.map((e) => e.token_id))],
      [...new Set(tokenEvents.filter((e) => e.event === 'revoked').map((e) => e.token_id))],
    );

    const suspects = new Map<LiveDetectorId, Suspects>();
    const entry = (id: LiveDetectorId, ingestedAt: string): Suspects | undefined => {
      if (!this.#detectors.has(id)) return undefined;
      let s = suspects.get(id);
      if (!s) {
        s = { tokens: new Set(), agents: new Set(), minIngestedMs: Number.POSITIVE_INFINITY, maxIngestedMs: 0, findings: [] };
        suspects.set(id, s);
      }
      const ms = Date.parse(ingestedAt);
      if (ms < s.minIngestedMs) s.minIngestedMs = ms;
      if (ms > s.maxIngestedMs) s.maxIngestedMs = ms;
      return s;
    };
    const mark = (id: LiveDetectorId, ingestedAt: string, token?: string, agent?: string) => {
      const s = entry(id, ingestedAt);
      if (token) s?.tokens.add(token);
      if (agent) s?.agents.add(agent);
    };

    if (uses.length > 0) {
      const lineages = await this.#state.lineages(uses.map((u) => u.token_id));
      const taskOf = (u: SpanRow) => lineages.get(u.token_id)?.grant?.taskId || u.task_id;
      const tasks = await this.#state.tasks([...uses.map(taskOf), ...[...lineages.values()].map((l) => l.session.taskId)]);
      for (const u of uses) {
        const lineage = lineages.get(u.token_id);
        const facts = { lineage, task: tasks.get(taskOf(u)), sessionTask: tasks.get(lineage?.session.taskId ?? '') };
        for (const detector of this.#useJudges) {
          const findings = (detector.judgeUse as NonNullable<Detector['judgeUse']>)(u, facts, this.#options.config);
          if (findings.length === 0) continue;
          const root = facts.lineage?.session.rootTokenId;
          for (const f of findings) if (!f.rootTokenId && root) f.rootTokenId = root;
          entry(detector.id as LiveDetectorId, u.ingested_at)?.findings.push(...findings);
        }
        for (const id of screenUse(u, facts, this.#options.config)) {
          if (!this.#detectors.get(id)?.judgeUse) mark(id, u.ingested_at, u.token_id);
        }
      }
      if (this.#tally) {
        const usage = this.#tally.add(uses);
        for (const u of uses) {
          if (usage.tokens.has(u.token_id)) mark('usage_anomaly', u.ingested_at, u.token_id);
          if (usage.agents.has(u.agent_id)) mark('usage_anomaly', u.ingested_at, undefined, u.agent_id);
        }
      }
    }
    if (tokenEvents.length > 0) {
      const lineages = await this.#state.lineages(
        [...tokenEvents.map((e) => e.token_id), ...tokenEvents.map((e) => e.parent_id)].filter(Boolean),
      );
      const tasks = await this.#state.tasks([...lineages.values()].map((l) => l.session.taskId));
      for (const e of tokenEvents) {
        for (const id of screenTokenEvent(e)) {
          const judge = this.#detectors.get(id)?.judgeEvent;
          if (!judge) {
            mark(id, e.ingested_at, e.token_id);
            continue;
          }
          const lineage = lineages.get(e.token_id);
          const parent = e.parent_id ? lineages.get(e.parent_id) : undefined;
          const findings = judge(e, { lineage, parent, sessionTask: tasks.get(lineage?.session.taskId ?? '') }, this.#options.config);
          if (findings.length > 0) entry(id, e.ingested_at)?.findings.push(...findings);
        }
      }
    }

    for (const [id, found] of suspects) {
      suspectsTotal.inc({ detector: id }, found.tokens.size + found.agents.size + found.findings.length);
      const queued = this.#queued.get(id);
      if (queued) merge(queued, found);
      else this.#queued.set(id, found);
      this.#kick(id);
    }
  }
}

function merge(into: Suspects, from: Suspects): void {
  into.findings.push(...from.findings);
  for (const t of from.tokens) into.tokens.add(t);
  for (const a of from.agents) into.agents.add(a);
  into.minIngestedMs = Math.min(into.minIngestedMs, from.minIngestedMs);
  into.maxIngestedMs = Math.max(into.maxIngestedMs, from.maxIngestedMs);
}
