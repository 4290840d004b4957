import { randomUUID } from 'node:crypto';
import { type CoreSettings, type Store, createLogger } from '@intentwatch/core';
import { type Job, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { AlertStore } from '@intentwatch/alerts';
import type { Detector } from '../define-detector.js';
import { DETECTORS } from '../rules/index.js';
import type { DetectorSettings } from '../settings.js';
import { DetectorRunner, type RunReport } from './detector-runner.js';

export type DetectorServiceConfig = Pick<CoreSettings, 'redisUrl'> &
  Pick<DetectorSettings, 'detectIntervalMs' | 'graceMs' | 'clockSkewMs' | 'detectLagMs' | 'defaultMaxSessionS' | 'anomaly'>;

export interface DetectorServiceOptions {
  store: Store;
  config: DetectorServiceConfig;
  /** The detectors to run (default: all of them). */
  detectors?: readonly Detector[];
  /** BullMQ key prefix in Redis (default `intentwatch`); tests pass a random one. */
  queuePrefix?: string;
  /** Called after every run, and with the error of a run that threw (for tests and metrics). */
  onRun?: (detector: string, outcome: RunReport | Error) => void;
}

const QUEUE = 'detectors';
const DEFAULTS = { queuePrefix: 'intentwatch' };

/**
 * Runs every detector every `detectIntervalMs`. Without `redisUrl`: an in-process loop that runs
 * them in turn (a failing one is skipped to the next; a tick never overlaps the previous). With
 * `redisUrl`: one BullMQ job scheduler per detector id (upserted, so a redeploy updates instead
 * of duplicating) and a worker in this process; any number of processes may run workers. A
 * per-detector Redis lock makes sure one window is processed by one worker at a time, and the
 * watermark in the store means a window skipped by a busy worker is simply part of the next
 * one — none is processed twice, none is lost. A run that throws is logged, counted
 * (`intentwatch_detector_failures_total`) and retried at the next tick; the others keep running.
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

  private constructor(options: DetectorServiceOptions) {
    this.#options = { ...DEFAULTS, ...options };
    this.#detectors = options.detectors ?? DETECTORS;
    // With several workers a watermark may move under us: read it from the store at every run.
    this.#runner = new DetectorRunner(options.store, options.config, new AlertStore(options.store), {
      cacheWatermarks: !options.config.redisUrl,
    });
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
          await this.#runGuarded(detector, false, started);
        }
      })();
      this.#running.set('loop', run);
      await run;
      this.#running.delete('loop');
      if (this.#stopped) return;
      this.#timers.set(
        'loop',
        setTimeout(() => void tick(), Math.max(0, interval - (Date.now() - started))),
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

  /** One run; errors are logged and reported, never thrown (unless `rethrow`, so BullMQ records the failed job). */
  async #runGuarded(detector: Detector, rethrow = false, now?: number): Promise<void> {
    try {
      const report = await this.#runner.runOnce(detector, now);
      this.#options.onRun?.(detector.id, report);
      if (report.raised > 0 || report.reopened > 0) {
        this.#log.info(
          { detector: detector.id, raised: report.raised, reopened: report.reopened, findings: report.findings },
          'alerts raised',
        );
      }
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      this.#log.error({ detector: detector.id, err: err.message }, 'detector run failed; retrying at the next tick');
      this.#options.onRun?.(detector.id, err);
      if (rethrow) throw err;
    }
  }
}

/** Deletes the lock only if this worker still holds it (compare-and-delete). */
const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";
