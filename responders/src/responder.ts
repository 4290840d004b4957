import { AlertStore } from '@intentwatch/alerts';
import { ConfigError, type CoreSettings, type Store } from '@intentwatch/core';
import { BullmqDeliveryQueue } from './bullmq-delivery-queue.js';
import type { ResponderChannel } from './channel.js';
import { DeliveryLog } from './delivery-log.js';
import { type DeliveryQueue, InProcessQueue } from './delivery-queue.js';
import { Delivery } from './delivery.js';
import { EndpointGuard, EndpointRefusedError } from './endpoint-guard.js';
import { type Policy, type RetrySettings, redactUrl, resolveSecrets, resolveUrl } from './policy.js';
import { PolicyStore } from './policy-store.js';
import { PolicyService } from './policy-service.js';
import { MemoryRateLimiter, type RateLimiter, RedisRateLimiter } from './rate-limiter.js';
import { SecretBox } from './secret-box.js';
import type { ResponderSettings } from './settings.js';
import { Trigger } from './trigger.js';

export { BREAKER_SOURCE } from './delivery.js';
export type { PolicyView } from './policy-service.js';
export type { RequestedRevocation } from './trigger.js';

export interface ResponderOptions {
  store: Store;
  config: Pick<CoreSettings, 'redisUrl'> & Pick<ResponderSettings, 'responders'>;
  /** Policies besides the file's and the API's (tests, embedding). */
  policies?: Policy[];
  /** Where `env:NAME` secret references are read (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** The delivery queue; default BullMQ when `config.redisUrl` is set, in-process otherwise. */
  queue?: DeliveryQueue;
  /** Redis key prefix of the BullMQ queue and the shared rate limiter (default `intentwatch`). */
  redisPrefix?: string;
  /** Retry settings for policies that set none (default: the configured attempts, 500 ms, 5 min). */
  retry?: Partial<RetrySettings>;
  /** The per-policy limiter (default: shared through Redis with BullMQ, this process's otherwise). */
  rateLimiter?: RateLimiter;
  /** Window of the per-policy rate limit (default one minute, as `maxPerMinute` says). */
  rateWindowMs?: number;
  /** How far behind its watermark each look for changed alerts re-reads, for rows committed late (default 5 s). */
  lagMs?: number;
  /** Changed alerts read per look (default 2000); a larger burst takes several looks. */
  pageSize?: number;
  /**
   * On the embedded store, how often the trigger looks for changed alerts when no insert has
   * woken it (default the larger of `INTENTWATCH_RESPONDER_POLL_MS` and 5 s); see {@link Trigger}.
   */
  safetyPollMs?: number;
  /** Deliveries in flight at once in this process (default 8). */
  concurrency?: number;
  /**
   * How often open requests are checked against the queue (default 10 s): a request the store
   * holds open for longer than half of this that no queue runs — queued where nothing delivers,
   * or whose BullMQ job failed for good on our side — is queued again under its webhook-id.
   */
  recoveryMs?: number;
  /** Where the circuit breaker's alert is recorded (default an AlertStore on `store`). */
  alerts?: AlertStore;
  /** Further channels (Shared Signals streams) that act on the same alerts through the same queue and audit trail. */
  channels?: ResponderChannel[];
}

/**
 * Turns alerts into signed revoke requests, safely: the composition of three parts, each with
 * one job, that share one queue, one audit trail, one rate limiter and one endpoint guard.
 *
 * - {@link Trigger}: alerts changed since its watermark (and an analyst's revoke) → requests.
 * - {@link Delivery}: queued, signed, retried, recorded; the per-policy circuit breaker.
 * - {@link PolicyService}: the policies as an admin manages them.
 *
 * Endpoints are checked by EndpointGuard when a policy is saved and at every connection.
 * Channels (Shared Signals streams, the chat notifier) act on the same alerts through the same
 * queue and audit trail. Callers use the part they need (`trigger.request` for an analyst's
 * revoke, `policyService` for the policies); the responder itself only opens, starts and stops.
 */
export class Responder {
  readonly policies: PolicyStore;
  readonly deliveryLog: DeliveryLog;
  readonly guard: EndpointGuard;
  readonly trigger: Trigger;
  readonly delivery: Delivery;
  readonly policyService: PolicyService;
  readonly #queue: DeliveryQueue;
  #started = false;
  #closed = false;

  private constructor(options: ResponderOptions, policies: PolicyStore, guard: EndpointGuard, box: SecretBox | undefined) {
    const config = options.config.responders;
    const env = options.env ?? process.env;
    this.policies = policies;
    this.guard = guard;
    this.deliveryLog = new DeliveryLog(options.store);
    const alerts = options.alerts ?? new AlertStore(options.store);
    let limiter: RateLimiter;
    if (options.queue) {
      this.#queue = options.queue;
      limiter = options.rateLimiter ?? new MemoryRateLimiter();
    } else if (options.config.redisUrl) {
      const q = new BullmqDeliveryQueue({
        redisUrl: options.config.redisUrl,
        ...(options.redisPrefix ? { prefix: options.redisPrefix } : {}),
        ...(options.concurrency ? { concurrency: options.concurrency } : {}),
      });
      this.#queue = q;
      limiter = options.rateLimiter ?? new RedisRateLimiter(q.redis, q.prefix);
    } else {
      this.#queue = new InProcessQueue(options.concurrency ? { concurrency: options.concurrency } : {});
      limiter = options.rateLimiter ?? new MemoryRateLimiter();
    }
    const channels = options.channels ?? [];
    this.delivery = new Delivery({
      queue: this.#queue,
      deliveryLog: this.deliveryLog,
      limiter,
      guard,
      policies,
      alerts,
      config,
      env,
      box,
      retry: { maxAttempts: config.maxAttempts, baseDelayMs: 500, maxDelayMs: 300_000, ...options.retry },
      rateWindowMs: options.rateWindowMs ?? 60_000,
      channels,
    });
    this.trigger = new Trigger({
      store: options.store,
      policies,
      deliveryLog: this.deliveryLog,
      delivery: this.delivery,
      channels,
      pollMs: config.pollMs,
      lagMs: options.lagMs ?? 5000,
      ...(options.pageSize !== undefined ? { pageSize: options.pageSize } : {}),
      ...(options.safetyPollMs !== undefined ? { safetyPollMs: options.safetyPollMs } : {}),
      recoveryMs: options.recoveryMs ?? 10_000,
    });
    this.policyService = new PolicyService(policies, this.deliveryLog, guard, this.delivery);
    const context = {
      queue: this.#queue,
      deliveryLog: this.deliveryLog,
      limiter,
      guard,
      alerts,
      policies,
      resolveUrl: (p: Policy) => resolveUrl(p, env, box),
      runsJobs: () => this.delivery.runsJobs(),
    };
    for (const c of channels) c.attach(context);
  }

  /**
   * Reads the policies (file, demo, API) and checks the form of their endpoints. Throws
   * ConfigError for a bad policies file or allow-list, or a file policy whose `env:` secret is
   * unset; EndpointRefusedError for a file policy whose endpoint the allow-list refuses.
   */
  static async open(options: ResponderOptions): Promise<Responder> {
    const guard = new EndpointGuard(options.config.responders.webhookAllow);
    const key = options.config.responders.secretsKey;
    const box = key ? new SecretBox(key.bytes()) : undefined;
    const policies = await PolicyStore.open(options.store, {
      policiesFile: options.config.responders.policiesFile,
      demoWebhook: options.config.responders.demoWebhook,
      notify: options.config.responders.notify,
      secrets: box,
      ...(options.policies ? { policies: options.policies } : {}),
    });
    for (const p of policies.list()) {
      if (p.source === 'api') continue;
      let url: string;
      try {
        url = resolveUrl(p, options.env ?? process.env, box);
      } catch (e) {
        throw new ConfigError(`policy ${p.id}: ${(e as Error).message}`);
      }
      try {
        guard.checkUrl(url);
      } catch (e) {
        // A notify URL's path is a secret: the refusal names its origin only.
        const shown = p.target === 'notify' ? `${(e as Error).message.split(url).join(redactUrl(url))}` : (e as Error).message;
        throw new EndpointRefusedError(`policy ${p.id}: ${shown}`);
      }
      try {
        resolveSecrets(p, options.env ?? process.env);
      } catch (e) {
        throw new ConfigError(`INTENTWATCH_POLICIES_FILE: policy ${p.id}: ${(e as Error).message}`);
      }
    }
    return new Responder(options, policies, guard, box);
  }

  /** The queue deliveries go through (tests close its worker to simulate a restart). */
  get queue(): DeliveryQueue {
    return this.#queue;
  }

  /**
   * Starts delivering (this process becomes a worker) and looking for alerts: at once when this
   * process writes one, and every `pollMs` (a ClickHouse server) or safety poll (the embedded store).
   * Resolves after the first look (watermark set, open requests re-queued), whether it succeeded or not.
   */
  start(): Promise<void> {
    if (this.#started || this.#closed) return Promise.resolve();
    this.#started = true;
    this.delivery.start();
    return this.trigger.start();
  }

  /** Looks for changed alerts now rather than at the next tick (e.g. right after a detector run). */
  notify(): void {
    this.trigger.notify();
  }

  /** Stops polling and delivering; with BullMQ, queued and delayed jobs stay in Redis for the next worker. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.trigger.close();
    await this.delivery.close();
  }
}
