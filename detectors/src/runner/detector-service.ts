import { randomUUID } from 'node:crypto';
import { type CoreSettings, type Store, createLogger } from '@intentwatch/core';
import { type Job, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { AlertStore } from '@intentwatch/alerts';
import type { Detector } from '../define-detector.js';
import { DETECTORS } from '../rules/index.js';
import type { DetectorSettings } from '../settings.js';
import { type CommittedRows, LiveDetection } from '../live/live-detection.js';
import { DetectorRunner, type RunReport } from './detector-runner.js';

export type DetectorServiceConfig = Pick<CoreSettings, 'redisUrl'> &
  Pick<DetectorSettings, 'detectIntervalMs' | 'graceMs' | 'clockSkewMs' | 'detectLagMs' | 'defaultMaxSessionS' | 'anomaly'> &
  Partial<Pick<DetectorSettings, 'live'>>;

export interface DetectorServiceOptions {
  store: Store;
  config: DetectorServiceConfig;
  /** The detectors to run (default: all of them). */
  detectors?: readonly Detector[];
  /** BullMQ key prefix in Redis (default `intentwatch`); tests pass a random one. */
  queuePrefix?: string;
  /** Called after every run (scheduled or live), and with the error of a run that threw (for tests and metrics). */
  onRun?: (detector: string, outcome: RunReport | Error) => void;
}

const QUEUE = 'detectors';
const DEFAULTS = { queuePrefix: 'intentwatch' };
/** How long a live run waits for another worker's run of the same detector before leaving its rows to the scheduled runs. */
const LIVE_LOCK_WAIT_MS = 5000;
/** Longest a scheduled run waits for the live runs in progress before it takes its turn anyway. */
const LIVE_PRECEDENCE_MS = 2000;

/**
 * Runs every detector every `detectIntervalMs`. Without `redisUrl`: an in-process loop that runs
 * them in turn (a failing one is skipped to the next; a tick never overlaps the previous). With
 * `redisUrl`: one BullMQ job scheduler per detector id (upserted, so a redeploy updates instead
 * of duplicating) and a worker in this process; any number of processes may run workers. A
 * per-detector Redis lock makes sure one window is processed by one worker at a time, and the
 * watermark in the store means a window skipped by a busy worker is simply part of the next
 * one — none is processed twice, none is lost. A run that throws is logged, counted
 * (`intentwatch_detector_failures_total`) and retried at the next tick; the others keep running.
 *
 * With live detection on (`INTENTWATCH_LIVE_DETECTION`), rows the collector commits in this
 * process reach {@link DetectorService.observe}, and the detectors run at once on what they make
 * suspect (see LiveDetection), under the same per-detector turn or Redis lock as scheduled runs.
 */
export class DetectorService {
  readonly #log = createLogger('detectors.runner');
  readonly #options: DetectorServiceOptions & typeof DEFAULTS;
  readonly #runner: DetectorRunner;
  readonly #detectors: readonly Detector[];
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #running = new Map<string, Promise<void>>();
  #stopped = false;
  #queue: Queue | undefined;
  #worker: Worker | undefined;
  #connections: Redis[] = [];
  #lockConnection: Redis | undefined;
  #live: LiveDetection | undefined;
  /** Whether a collector feeds live detection (the scheduled pass then reconciles). */
  #liveFed = false;

  private constructor(options: DetectorServiceOptions) {
    this.#options = { ...DEFAULTS, ...options };
    this.#detectors = options.detectors ?? DETECTORS;
    // With several workers a watermark may move under us: read it from the store at every run.
    this.#runner = new DetectorRunner(options.store, options.config, new AlertStore(options.store), {
      cacheWatermarks: !options.config.redisUrl,
    });
    if (options.config.live?.enabled) {
      this.#live = new LiveDetection({
        store: options.store,
        config: { ...options.config, live: options.config.live },
        detectors: this.#detectors,
        run: (detector, run) => this.#liveRun(detector, () => this.#runner.runLive(detector, run)),
        record: (detector, findings) => this.#liveRun(detector, () => this.#runner.recordLive(detector, findings)),
      });
    }
  }

  /** Rows the collector of this process committed: screened and, when suspect, judged at once (no-op with live detection off). */
  observe(rows: CommittedRows): void {
    if (!this.#live) return;
    this.#liveFed = true;
    this.#live.observe(rows);
  }

  /** Resolves once every observed row has been screened and its live runs recorded (for tests). */
  async liveIdle(): Promise<void> {
    await this.#live?.idle();
  }

  /** Starts the loops (or the BullMQ schedulers and worker) and resolves once they run. */
  static async start(options: DetectorServiceOptions): Promise<DetectorService> {
    const service = new DetectorService(options);
    if (options.config.redisUrl) await service.#startBullmq(options.config.redisUrl);
    else service.#startLoops();
    return service;
  }

  /** `bullmq` when jobs run through Redis, `in-process` otherwise. */
  get mode(): 'bullmq' | 'in-process' {
    return this.#queue ? 'bullmq' : 'in-process';
  }

  /** Stops scheduling and waits for runs in progress. Job schedulers stay in Redis for other workers. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#live?.close();
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
    await Promise.allSettled([...this.#running.values()]);
    await this.#runner.flush().catch((e: unknown) => this.#log.warn({ err: String(e) }, 'could not store the last watermarks'));
    await this.#worker?.close();
    await this.#queue?.close();
    await Promise.allSettled(this.#connections.map((c) => c.quit()));
  }

  /**
   * One loop runs every detector in turn at each tick, with one clock: their windows coincide,
   * so the work of finding late lifecycle events is shared, and the engine is not asked for six
   * things at once (the embedded engine answers concurrent queries no faster than in turn).
   */
  #startLoops(): void {
    const interval = this.#options.config.detectIntervalMs;
    const tick = async () => {
      if (this.#stopped) return;
      const started = Date.now();
      const run = (async () => {
        for (const detector of this.#detectors) {
          if (this.#stopped) return;
          // Live runs go first: they are what an analyst is waiting for.
          await this.#live?.idle(LIVE_PRECEDENCE_MS);
          await this.#runGuarded(detector, false, started);
        }
      })();
      this.#running.set('loop', run);
      await run;
      this.#running.delete('loop');
      if (this.#stopped) return;
      // With live detection the scheduled pass reconciles: it leaves the engine free between
      // passes, for live runs, at least as long as the pass took (and a full interval), instead
      // of running back to back under load.
      const took = Date.now() - started;
      const wait = this.#liveFed ? Math.max(interval, took) : Math.max(0, interval - took);
      this.#timers.set(
        'loop',
        setTimeout(() => void tick(), wait),
      );
    };
    void tick();
    this.#log.info({ detectors: this.#detectors.map((d) => d.id), intervalMs: interval }, 'detectors running in-process');
  }

  async #startBullmq(redisUrl: string): Promise<void> {
    const prefix = this.#options.queuePrefix;
    const queueConnection = new Redis(redisUrl, { maxRetriesPerRequest: null });
    const workerConnection = new Redis(redisUrl, { maxRetriesPerRequest: null });
    const lockConnection = new Redis(redisUrl, { maxRetriesPerRequest: 3 });
    this.#connections = [queueConnection, workerConnection, lockConnection];
    this.#lockConnection = lockConnection;
    // Without a listener ioredis prints each failed reconnection to stderr, outside the JSON log;
    // the worker's error handler below already reports Redis being unreachable.
    lockConnection.on('error', () => undefined);
    this.#queue = new Queue(QUEUE, { connection: queueConnection, prefix });
    // A queue without a listener prints each Redis error to stderr; the worker's handler reports them.
    this.#queue.on('error', () => undefined);
    const every = this.#options.config.detectIntervalMs;
    const queue = this.#queue;
    const upsertSchedulers = async () => {
      for (const d of this.#detectors) {
        await queue.upsertJobScheduler(
          d.id,
          { every },
          { name: d.id, data: { detector: d.id }, opts: { removeOnComplete: true, removeOnFail: 100 } },
        );
      }
    };
    await upsertSchedulers();
    // A Redis that comes back without its data (restarted without persistence, failed over to an
    // empty replica) has lost the schedulers, and no detector would run again: every reconnection
    // upserts them, which changes nothing when they survived.
    queueConnection.on('ready', () => {
      if (this.#stopped) return;
      upsertSchedulers().catch((e: unknown) => this.#log.warn({ err: String(e) }, 'could not upsert the detector schedulers'));
    });
    const byId = new Map(this.#detectors.map((d) => [d.id, d]));
    // A lock outlives any sane run; it is released as soon as the run ends.
    const lockTtlMs = Math.max(60_000, every * 30);
    this.#worker = new Worker(
      QUEUE,
      async (job: Job<{ detector: string }>) => {
        const detector = byId.get(job.data.detector);
        if (!detector || this.#stopped) return { skipped: true };
        const key = `${prefix}:${QUEUE}:lock:${detector.id}`;
        const token = randomUUID();
        const locked = await lockConnection.set(key, token, 'PX', lockTtlMs, 'NX');
        // Another worker is on this detector's window: the next tick takes over from its watermark.
        if (locked !== 'OK') return { skipped: true };
        const run = this.#runGuarded(detector, true);
        this.#running.set(`${detector.id}:${job.id}`, run);
        try {
          await run;
        } finally {
          this.#running.delete(`${detector.id}:${job.id}`);
          await lockConnection.eval(RELEASE, 1, key, token).catch(() => undefined);
        }
        return { skipped: false };
      },
      { connection: workerConnection, prefix, concurrency: Math.max(1, this.#detectors.length) },
    );
    this.#worker.on('error', (e) => this.#log.error({ err: e.message }, 'detector worker error'));
    await this.#worker.waitUntilReady();
    this.#log.info({ detectors: [...byId.keys()], intervalMs: every, prefix }, 'detectors running as BullMQ jobs');
  }

  /**
   * One live run, reported like a scheduled one. With BullMQ, under the detector's Redis lock:
   * another worker may be recording the same detector's alerts, and a live run waits for it (a
   * little) rather than record beside it.
   */
  async #liveRun(detector: Detector, work: () => Promise<RunReport>): Promise<void> {
    const lock = this.#lockConnection;
    if (!lock) return this.#report(detector, work, { live: true });
    const key = `${this.#options.queuePrefix}:${QUEUE}:lock:${detector.id}`;
    const token = randomUUID();
    const deadline = Date.now() + LIVE_LOCK_WAIT_MS;
    while ((await lock.set(key, token, 'PX', 60_000, 'NX')) !== 'OK') {
      if (this.#stopped || Date.now() > deadline) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    try {
      await this.#report(detector, work, { live: true });
    } finally {
      await lock.eval(RELEASE, 1, key, token).catch(() => undefined);
    }
  }

  async #report(detector: Detector, work: () => Promise<RunReport>, how: { rethrow?: boolean; live?: boolean } = {}): Promise<void> {
    try {
      const report = await work();
      this.#options.onRun?.(detector.id, report);
      if (report.raised > 0 || report.reopened > 0) {
        this.#log.info(
          { detector: detector.id, raised: report.raised, reopened: report.reopened, findings: report.findings, live: Boolean(how.live) },
          'alerts raised',
        );
      }
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      this.#log.error(
        { detector: detector.id, err: err.message, live: Boolean(how.live) },
        how.live ? 'live detector run failed; the scheduled runs will examine its rows' : 'detector run failed; retrying at the next tick',
      );
      this.#options.onRun?.(detector.id, err);
      if (how.rethrow) throw err;
    }
  }

  /** One run; errors are logged and reported, never thrown (unless `rethrow`, so BullMQ records the failed job). */
  async #runGuarded(detector: Detector, rethrow = false, now?: number): Promise<void> {
    await this.#report(detector, () => this.#runner.runOnce(detector, now), { rethrow });
  }
}

/** Deletes the lock only if this worker still holds it (compare-and-delete). */
const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";
