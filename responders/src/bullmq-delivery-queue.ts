import { createLogger } from '@intentwatch/core';
import { DelayedError, type Job, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { DeliveryHandler, DeliveryJob, DeliveryQueue } from './delivery-queue.js';

export interface BullmqDeliveryQueueOptions {
  redisUrl: string;
  /** Key prefix of the queue in Redis (default `intentwatch`); tests pass a random one. */
  prefix?: string;
  /** Queue name (default `responder-deliveries`). */
  name?: string;
  /** Deliveries in flight per worker (default 8). */
  concurrency?: number;
  /**
   * How often BullMQ runs a delivery step again when it fails on our side (the store unreachable
   * mid-step), with exponential backoff from `stepBackoffMs` (defaults 20 and 1000 ms: about six
   * days in all). Past that the job fails for good; the request stays open in the store and the
   * responder's sweep queues it again once the store answers.
   */
  stepAttempts?: number;
  stepBackoffMs?: number;
}

const DEFAULTS = { prefix: 'intentwatch', name: 'responder-deliveries', concurrency: 8, stepAttempts: 20, stepBackoffMs: 1000 };

/**
 * Deliveries as BullMQ jobs on Redis: any number of workers share them, a delayed retry waits in
 * Redis (so closing or losing a worker mid-retry loses nothing: the next worker picks the job up
 * when it is due), and the job id is the `webhook-id`, so a request queued twice — by two
 * workers, or a restart — runs once.
 *
 * Retries of a delivery are not BullMQ attempts: the handler decides the wait (backoff, or the
 * receiver's `Retry-After`), the job moves to the delayed set with the next attempt number.
 * BullMQ's own attempts cover only failures of our side (the store unreachable mid-step).
 *
 * A job id stays taken while BullMQ keeps the finished job, so adding a request whose job has
 * ended would do nothing. `add` therefore runs such a job again when the store says the request
 * is open: a job that failed for good on our side, or one that finished before the request was
 * opened again (held requests an admin released).
 */
export class BullmqDeliveryQueue implements DeliveryQueue {
  readonly #log = createLogger('detectors.responders.bullmq');
  readonly #options: Required<BullmqDeliveryQueueOptions>;
  readonly #connection: Redis;
  readonly #queue: Queue;
  #worker: Worker | undefined;
  #workerConnection: Redis | undefined;

  constructor(options: BullmqDeliveryQueueOptions) {
    this.#options = { ...DEFAULTS, ...options };
    this.#connection = new Redis(this.#options.redisUrl, { maxRetriesPerRequest: null });
    this.#queue = new Queue(this.#options.name, { connection: this.#connection, prefix: this.#options.prefix });
    // A queue without a listener prints each Redis error to stderr, outside the JSON log; the
    // worker's error handler already reports Redis being unreachable.
    this.#queue.on('error', () => undefined);
  }

  /** A Redis connection other parts may share (the rate limiter). */
  get redis(): Redis {
    return this.#connection;
  }

  get prefix(): string {
    return this.#options.prefix;
  }

  async add(job: DeliveryJob, delayMs = 0, openedAt?: number): Promise<boolean> {
    const state = await this.#queue.getJobState(job.webhookId);
    if (state === 'unknown') {
      await this.#queue.add('deliver', job, {
        jobId: job.webhookId,
        delay: delayMs,
        attempts: this.#options.stepAttempts,
        backoff: { type: 'exponential', delay: this.#options.stepBackoffMs },
        // Kept a while so that the job id keeps de-duplicating a request queued again.
        removeOnComplete: { age: 7 * 24 * 3600, count: 100_000 },
        removeOnFail: { age: 30 * 24 * 3600 },
      });
      return true;
    }
    if (state !== 'failed' && !(state === 'completed' && openedAt !== undefined)) return false;
    const existing = await this.#queue.getJob(job.webhookId);
    if (!existing) return this.add(job, delayMs, openedAt);
    // Finished after the request was last opened: the store's row read by the caller predates
    // that step, whose own save says where the request stands.
    if (state === 'completed' && (existing.finishedOn ?? 0) >= (openedAt ?? 0)) return false;
    try {
      await existing.updateData(job);
      await existing.retry(state, { resetAttemptsMade: true, resetAttemptsStarted: true });
    } catch (e) {
      // Another worker ran it again first (it is no longer in that state): nothing to do.
      this.#log.debug({ webhookId: job.webhookId, err: (e as Error).message }, 'job already queued again');
      return false;
    }
    this.#log.info({ webhookId: job.webhookId, was: state }, 'revoke delivery queued again under its webhook-id');
    return true;
  }

  async claim(key: string, ttlMs: number): Promise<boolean> {
    return (await this.#connection.set(`${this.#options.prefix}:claim:${key}`, '1', 'PX', Math.max(1, Math.round(ttlMs)), 'NX')) === 'OK';
  }

  /** Where BullMQ holds a request's job: waiting, delayed, active, completed, failed, or unknown. */
  async jobState(webhookId: string): Promise<string> {
    return this.#queue.getJobState(webhookId);
  }

  /** BullMQ de-duplicates by job id across workers, so this process need not track what it holds. */
  holds(): boolean {
    return false;
  }

  start(handler: DeliveryHandler): void {
    if (this.#worker) return;
    this.#workerConnection = new Redis(this.#options.redisUrl, { maxRetriesPerRequest: null });
    this.#worker = new Worker(
      this.#options.name,
      async (job: Job<DeliveryJob>, token?: string) => {
        const outcome = await handler(job.data);
        if (!outcome) return;
        await job.updateData({ ...job.data, attempt: job.data.attempt + 1 });
        await job.moveToDelayed(Date.now() + outcome.retryInMs, token);
        throw new DelayedError();
      },
      { connection: this.#workerConnection, prefix: this.#options.prefix, concurrency: this.#options.concurrency },
    );
    this.#worker.on('error', (e) => this.#log.error({ err: e.message }, 'delivery worker error'));
    this.#worker.on('failed', (job, e) => {
      const final = job !== undefined && job.attemptsMade >= (job.opts.attempts ?? 1);
      const fields = { webhookId: job?.id, err: e.message, attemptsMade: job?.attemptsMade };
      if (final) {
        this.#log.error(
          fields,
          'delivery step failed on our side at every attempt; the request stays open in the store and is queued again once the store answers',
        );
      } else this.#log.warn(fields, 'delivery step failed on our side');
    });
  }

  /** Stops this process's worker (waiting for deliveries in flight), leaving queued and delayed jobs in Redis. */
  async closeWorker(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    await worker?.close();
    await this.#workerConnection?.quit().catch(() => undefined);
    this.#workerConnection = undefined;
  }

  async close(): Promise<void> {
    await this.closeWorker();
    await this.#queue.close();
    await this.#connection.quit().catch(() => undefined);
  }

  /** Removes every job of this queue (tests, on their random prefix). */
  async obliterate(): Promise<void> {
    await this.#queue.obliterate({ force: true });
  }
}
