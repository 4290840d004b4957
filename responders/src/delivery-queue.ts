import { createLogger } from '@intentwatch/core';

/** One revoke request as the queue carries it: everything an attempt needs, including the exact body. */
export interface Revocation {
  webhookId: string;
  policyId: string;
  dedupKey: string;
  alertId: string;
  mode: string;
  /** The token the alert names. */
  tokenId: string;
  sessionRoot: string;
  /** The tokens the request revokes: `[token]` for a revoke request; earlier versions listed a whole lineage in one request. */
  tokens: string[];
  /** The token this revoke request revokes (one request per token); absent on other requests (Shared Signals, chat). */
  token?: string;
  /** How `token` stands to the alert's token: self, session, delegated, delegator or chain. */
  relation?: string;
  chain: string[];
  dryRun: boolean;
  requestedBy: string;
  /** The body, sent unchanged on every attempt. */
  payload: string;
  /** ISO time of the request. */
  createdAt: string;
}

export interface DeliveryJob extends Revocation {
  /** The attempt this run makes, from 1. */
  attempt: number;
}

/** What a handler says about a job: done (delivered, dead, held…), or try again after a wait. */
export type JobOutcome = { retryInMs: number } | undefined;

export type DeliveryHandler = (job: DeliveryJob) => Promise<JobOutcome>;

/**
 * Where revoke deliveries wait. Two implementations share this contract: in-process (embedded
 * mode) and BullMQ (with `REDIS_URL`). Either way a job is identified by its `webhookId` — adding
 * one that is already waiting, delayed or running does nothing — and a retry is the same job
 * with the next attempt number, after the wait the handler asked for.
 */
export interface DeliveryQueue {
  /**
   * Queues `job` to run after `delayMs`, unless the queue already holds it. `openedAt` (epoch ms)
   * is when the store last opened the request (queued or retrying): a job of the same id that
   * finished before then runs again. Resolves true when the job was queued (or queued again).
   */
  add(job: DeliveryJob, delayMs?: number, openedAt?: number): Promise<boolean>;
  /** True while this queue holds the job (waiting, delayed or running) in this process's view. */
  holds(webhookId: string): boolean;
  /**
   * True for the first caller of `key` within `ttlMs` among every process sharing this queue
   * (in-process: this process; BullMQ: every worker on the Redis, an atomic SET NX): the claim
   * that lets one process alone act on something all of them see.
   */
  claim(key: string, ttlMs: number): Promise<boolean>;
  /** Starts running jobs through `handler`. */
  start(handler: DeliveryHandler): void;
  /** Stops taking jobs, waits for running ones; waiting and delayed jobs stay where they are (BullMQ) or are dropped (in-process). */
  close(): Promise<void>;
}

interface Entry {
  job: DeliveryJob;
  timer?: NodeJS.Timeout;
  running: boolean;
}

/**
 * The queue of one process: a concurrency-limited runner with timers for delayed retries.
 * Nothing here survives a restart; the responder re-queues unfinished revocations from the
 * store when it starts (see Responder), each at the next-attempt time its last attempt recorded,
 * so a restart repeats an attempt rather than losing one, and never sends one early.
 */
export class InProcessQueue implements DeliveryQueue {
  readonly #log = createLogger('detectors.responders.queue');
  readonly #entries = new Map<string, Entry>();
  readonly #claims = new Map<string, number>();
  readonly #ready: string[] = [];
  readonly #concurrency: number;
  #handler: DeliveryHandler | undefined;
  #running = 0;
  #closed = false;
  #idleWaiters: (() => void)[] = [];

  constructor(options: { concurrency?: number } = {}) {
    this.#concurrency = options.concurrency ?? 8;
  }

  async claim(key: string, ttlMs: number): Promise<boolean> {
    const now = Date.now();
    if (this.#claims.size >= 10_000) for (const [k, until] of this.#claims) if (until <= now) this.#claims.delete(k);
    if ((this.#claims.get(key) ?? 0) > now) return false;
    this.#claims.set(key, now + ttlMs);
    return true;
  }

  /** A job ends here when it finishes, so there is no finished job to run again: `openedAt` is not needed. */
  async add(job: DeliveryJob, delayMs = 0): Promise<boolean> {
    if (this.#closed || this.#entries.has(job.webhookId)) return false;
    const entry: Entry = { job, running: false };
    this.#entries.set(job.webhookId, entry);
    this.#schedule(entry, delayMs);
    return true;
  }

  holds(webhookId: string): boolean {
    return this.#entries.has(webhookId);
  }

  start(handler: DeliveryHandler): void {
    this.#handler = handler;
    this.#pump();
  }

  /** Resolves when nothing is waiting, delayed or running (tests, and orderly shutdown). */
  idle(): Promise<void> {
    if (this.#entries.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const [id, e] of this.#entries) {
      if (e.timer) clearTimeout(e.timer);
      if (!e.running) this.#entries.delete(id);
    }
    this.#ready.length = 0;
    while (this.#running > 0) await new Promise((r) => setTimeout(r, 10));
    this.#settle();
  }

  #schedule(entry: Entry, delayMs: number): void {
    if (delayMs > 0) {
      entry.timer = setTimeout(() => {
        entry.timer = undefined;
        this.#ready.push(entry.job.webhookId);
        this.#pump();
      }, delayMs);
      entry.timer.unref?.();
    } else {
      this.#ready.push(entry.job.webhookId);
      this.#pump();
    }
  }

  #pump(): void {
    const handler = this.#handler;
    if (!handler || this.#closed) return;
    while (this.#running < this.#concurrency && this.#ready.length > 0) {
      const id = this.#ready.shift() as string;
      const entry = this.#entries.get(id);
      if (!entry) continue;
      entry.running = true;
      this.#running++;
      void this.#run(entry, handler);
    }
  }

  async #run(entry: Entry, handler: DeliveryHandler): Promise<void> {
    let retryInMs: number | undefined;
    let nextAttempt = entry.job.attempt;
    try {
      const outcome = await handler(entry.job);
      if (outcome) {
        retryInMs = outcome.retryInMs;
        nextAttempt = entry.job.attempt + 1;
      }
    } catch (e) {
      // The store or the process failed, not the receiver: run the same attempt again shortly.
      this.#log.error(
        { webhookId: entry.job.webhookId, err: e instanceof Error ? e.message : String(e) },
        'delivery step failed; retrying',
      );
      retryInMs = 1000;
    } finally {
      entry.running = false;
      this.#running--;
    }
    if (retryInMs !== undefined && !this.#closed) {
      entry.job = { ...entry.job, attempt: nextAttempt };
      this.#schedule(entry, retryInMs);
    } else {
      this.#entries.delete(entry.job.webhookId);
    }
    this.#pump();
    this.#settle();
  }

  #settle(): void {
    if (this.#entries.size > 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }
}
