import type { AlertSource, AlertStore, Finding } from '@intentwatch/alerts';
import { counter, createLogger, histogram } from '@intentwatch/core';
import { nextDelay, parseRetryAfter } from './backoff.js';
import type { ResponderChannel } from './channel.js';
import type { AttemptRecord, DeliveryLog, RevocationState, RevocationStatus } from './delivery-log.js';
import { type DeliveryJob, type DeliveryQueue, InProcessQueue, type JobOutcome, type Revocation } from './delivery-queue.js';
import type { EndpointGuard } from './endpoint-guard.js';
import { type Policy, type RetrySettings, resolveSecrets } from './policy.js';
import type { PolicyStore } from './policy-store.js';
import type { RateLimiter } from './rate-limiter.js';
import type { SecretBox } from './secret-box.js';
import { signedHeaders } from './signing.js';
import { postWebhook } from './webhook-client.js';
import type { ResponderConfig } from './settings.js';

/** The alert a tripped circuit breaker raises. */
export const BREAKER_SOURCE: AlertSource = {
  id: 'responder_rate_limit',
  title: 'Revoke policy paused by its rate limit',
  frameworks: [],
};

const deliveriesTotal = counter(
  'intentwatch_webhook_deliveries_total',
  'Revoke webhook attempts and final outcomes, by policy and outcome',
  ['policy', 'outcome'],
);
const deliverySeconds = histogram(
  'intentwatch_webhook_delivery_seconds',
  'Time of one webhook attempt, request to response',
  ['policy'],
  [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
);

export interface DeliveryOptions {
  queue: DeliveryQueue;
  deliveryLog: DeliveryLog;
  limiter: RateLimiter;
  guard: EndpointGuard;
  policies: PolicyStore;
  /** Where the circuit breaker's alert is recorded. */
  alerts: AlertStore;
  config: ResponderConfig;
  env: NodeJS.ProcessEnv;
  box: SecretBox | undefined;
  retry: RetrySettings;
  rateWindowMs: number;
  channels: ResponderChannel[];
}

/**
 * Delivers revoke requests: records new ones and queues those whose policy is active, runs each
 * attempt (signed per Standard Webhooks with the same `webhook-id` on every attempt; backoff with
 * jitter, `Retry-After` honoured, 410 disables the policy, dead letter after the last attempt;
 * every attempt recorded), and keeps the circuit breaker: past its per-policy sliding-window
 * limit a policy pauses, an alert says why, and requests are held until an admin resumes it.
 * Endpoints are checked by EndpointGuard at every connection. Dry-run requests record the body
 * and send nothing. Jobs a channel owns go to that channel.
 */
export class Delivery {
  readonly #log = createLogger('detectors.responders');
  readonly #o: DeliveryOptions;
  readonly #tripping = new Set<string>();
  #started = false;
  #pendingSaves: { revocation: Revocation; state: Omit<RevocationState, 'updatedAt'>; done: (e?: unknown) => void }[] = [];
  #saveTimer: NodeJS.Timeout | undefined;

  constructor(options: DeliveryOptions) {
    this.#o = options;
  }

  /** True where jobs added to the queue run: this process delivers, or the queue is BullMQ. */
  runsJobs(): boolean {
    return this.#started || !(this.#o.queue instanceof InProcessQueue);
  }

  /** This process becomes a worker of the queue. */
  start(): void {
    this.#started = true;
    this.#o.queue.start((job) => this.#deliver(job));
  }

  /** Stops the queue's worker (BullMQ keeps queued and delayed jobs in Redis) and writes what is pending. */
  async close(): Promise<void> {
    await this.#o.queue.close();
    await this.#flushSaves();
  }

  /** Records new requests and queues those whose policy is active; returns each one's status. */
  async enqueue(revocations: Revocation[]): Promise<Map<string, RevocationStatus>> {
    const status = new Map<string, RevocationStatus>();
    if (revocations.length === 0) return status;
    const entries = revocations.map((r) => {
      const s = this.#o.policies.state(r.policyId);
      const st: RevocationStatus = s.state === 'paused' ? 'held' : s.state === 'disabled' ? 'disabled' : 'queued';
      status.set(r.webhookId, st);
      return { revocation: r, state: { status: st, attempts: 0, lastError: s.reason } };
    });
    await this.#o.deliveryLog.save(entries);
    for (const c of this.#o.channels)
      await c.onRevocations(
        entries.map((e) => ({ revocation: e.revocation, status: e.state.status })),
        Date.now(),
      );
    // An in-process queue runs only where the responder was started; elsewhere (an API-only
    // process) the stored request is picked up by the started responder's recovery.
    if (this.runsJobs()) {
      for (const r of revocations) if (status.get(r.webhookId) === 'queued') await this.#o.queue.add({ ...r, attempt: 1 });
    }
    return status;
  }

  /**
   * Queues again the open requests changed before `before` that no queue runs, each under its
   * webhook-id and not before the next-attempt time its last attempt recorded (a restart must not
   * cut a receiver's Retry-After or the backoff short).
   */
  async recover(before: number): Promise<void> {
    const open = (await this.#o.deliveryLog.open(new Date(before).toISOString())).filter((r) => !this.#o.queue.holds(r.webhookId));
    if (open.length === 0) return;
    const due = await this.#o.deliveryLog.nextAttempts(open.map((r) => r.webhookId));
    let queued = 0;
    for (const r of open) {
      const delay = Math.max(0, (due.get(r.webhookId) ?? 0) - Date.now());
      if (await this.#o.queue.add({ ...stripState(r), attempt: r.attempts + 1 }, delay, Date.parse(r.updatedAt))) queued++;
    }
    if (queued > 0) this.#log.info({ count: queued }, 're-queued open revoke requests');
  }

  /**
   * Held requests of a resumed policy: queued again when `release` is true (the rate limit still
   * applies to them), discarded by `actor` otherwise.
   */
  async releaseHeld(held: (Revocation & RevocationState)[], release: boolean, actor: string): Promise<void> {
    if (release) {
      await this.#o.deliveryLog.save(
        held.map((h) => ({ revocation: h, state: { status: 'queued', attempts: h.attempts, lastError: '' } })),
      );
      if (this.runsJobs()) {
        // Their jobs ended when they were held: opened again now, they run again.
        const openedAt = Date.now();
        for (const h of held) await this.#o.queue.add({ ...stripState(h), attempt: h.attempts + 1 }, 0, openedAt);
      }
    } else {
      await this.#o.deliveryLog.save(
        held.map((h) => ({ revocation: h, state: { status: 'discarded', attempts: h.attempts, lastError: `discarded by ${actor}` } })),
      );
    }
  }

  /** One attempt of one request (the queue's handler). */
  async #deliver(job: DeliveryJob): Promise<JobOutcome> {
    const channel = this.#o.channels.find((c) => c.owns(job));
    if (channel) return channel.deliver(job);
    const policies = this.#o.policies;
    const policy = policies.get(job.policyId);
    const finish = async (status: RevocationStatus, lastError: string, attempts = job.attempt - 1): Promise<undefined> => {
      deliveriesTotal.inc({ policy: job.policyId, outcome: status });
      await this.#saveSoon(job, { status, attempts, lastError });
      return undefined;
    };
    if (!policy) return finish('discarded', `policy ${job.policyId} no longer exists`);
    const state = policies.state(policy.id);
    if (!policy.enabled) return finish('disabled', `policy ${policy.id} is disabled`);
    if (state.state === 'disabled') return finish('disabled', state.reason);
    if (state.state === 'paused') return finish('held', state.reason);
    if (!(await this.#o.limiter.acquire(policy.id, job.webhookId, policy.maxPerMinute, this.#o.rateWindowMs))) {
      const reason = await this.#trip(policy);
      return finish('held', reason);
    }
    const endpoint = describe(policy.endpoint.url);
    const attempt = (a: Omit<AttemptRecord, 'webhookId' | 'alertId' | 'policyId' | 'dryRun' | 'endpoint' | 'attempt'>) =>
      this.#o.deliveryLog.recordAttempt({
        ...a,
        webhookId: job.webhookId,
        alertId: job.alertId,
        policyId: job.policyId,
        dryRun: job.dryRun,
        endpoint,
        attempt: job.attempt,
      });
    if (job.dryRun) {
      await attempt({ status: 'dry_run', httpStatus: 0, latencyMs: 0, error: '', nextAttemptAt: null });
      return finish('dry_run', '', job.attempt);
    }
    let url: URL;
    try {
      url = this.#o.guard.checkUrl(policy.endpoint.url);
    } catch (e) {
      await attempt({ status: 'refused', httpStatus: 0, latencyMs: 0, error: (e as Error).message, nextAttemptAt: null });
      return finish('refused', (e as Error).message, job.attempt);
    }
    let result: { status: number; latencyMs: number; error: string; retryAfter?: string; refused: boolean };
    try {
      const headers = signedHeaders(job.webhookId, job.payload, resolveSecrets(policy, this.#o.env, this.#o.box));
      result = await postWebhook(url, headers, job.payload, {
        timeoutMs: policy.endpoint.timeoutMs ?? this.#o.config.timeoutMs,
        guard: this.#o.guard,
      });
    } catch (e) {
      // A secret that does not resolve (an unset variable, a missing or other secrets key):
      // retried, since the fix is on our side.
      result = { status: 0, latencyMs: 0, error: (e as Error).message, refused: false };
    }
    deliverySeconds.observe({ policy: policy.id }, result.latencyMs / 1000);
    const base = { httpStatus: result.status, latencyMs: result.latencyMs, error: result.error };
    if (result.refused) {
      await attempt({ ...base, status: 'refused', nextAttemptAt: null });
      return finish('refused', result.error, job.attempt);
    }
    if (result.status >= 200 && result.status < 300) {
      await attempt({ ...base, status: 'delivered', nextAttemptAt: null });
      return finish('delivered', '', job.attempt);
    }
    if (result.status === 410) {
      const reason = `endpoint ${endpoint} answered 410 Gone to ${job.webhookId}; deliveries stop until an admin resumes the policy`;
      await attempt({ ...base, status: 'gone', nextAttemptAt: null });
      await policies.setState(policy.id, 'disabled', reason, 'responder');
      this.#log.warn({ policy: policy.id, endpoint }, 'endpoint gone (410): policy disabled');
      return finish('disabled', result.error, job.attempt);
    }
    const retry = { ...this.#o.retry, ...policy.retry };
    if (job.attempt >= retry.maxAttempts) {
      await attempt({ ...base, status: 'dead', nextAttemptAt: null });
      await this.#o.deliveryLog.deadLetter(job, job.attempt, result.status, result.error);
      this.#log.warn({ policy: policy.id, webhookId: job.webhookId, attempts: job.attempt }, 'revoke delivery dead-lettered');
      return finish('dead', result.error, job.attempt);
    }
    const delay = nextDelay(job.attempt, retry, parseRetryAfter(result.retryAfter));
    await attempt({ ...base, status: 'failed', nextAttemptAt: new Date(Date.now() + delay).toISOString() });
    deliveriesTotal.inc({ policy: policy.id, outcome: 'retrying' });
    await this.#saveSoon(job, { status: 'retrying', attempts: job.attempt, lastError: result.error });
    return { retryInMs: delay };
  }

  /** Pauses a policy past its rate limit and raises the alert that says so; returns the reason. */
  async #trip(policy: Policy): Promise<string> {
    const current = this.#o.policies.state(policy.id);
    if (current.state === 'paused' || this.#tripping.has(policy.id)) return current.reason || 'rate limit reached';
    this.#tripping.add(policy.id);
    try {
      const now = Date.now();
      const reason = `more than ${policy.maxPerMinute} revocations requested within a minute (the policy's limit): deliveries are held until an admin resumes the policy (POST /v1/responders/policies/${policy.id}/resume)`;
      await this.#o.policies.setState(policy.id, 'paused', reason, 'responder', now);
      const finding: Finding = {
        key: `policy:${policy.id}`,
        severity: 'high',
        reason: `Revoke policy ${policy.id} paused: ${reason}. A burst like this usually means a detector or policy is matching far more than intended.`,
        tokenId: '',
        rootTokenId: `policy:${policy.id}`,
        agentId: '',
        taskId: '',
        caller: 'intentwatch-responder',
        target: describe(policy.endpoint.url),
        environment: '',
        evidence: { traceId: '', spanId: '', time: new Date(now).toISOString(), key: `trip:${now}` },
      };
      await this.#o.alerts.record(BREAKER_SOURCE, [finding], now);
      this.#log.warn({ policy: policy.id, maxPerMinute: policy.maxPerMinute }, 'revoke rate limit reached: policy paused');
      return reason;
    } finally {
      this.#tripping.delete(policy.id);
    }
  }

  /** Saves a request's state, batched with others written within a few ms (a burst of held requests is one insert). */
  #saveSoon(revocation: Revocation, state: Omit<RevocationState, 'updatedAt'>): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#pendingSaves.push({ revocation: stripJob(revocation), state, done: (e) => (e ? reject(e) : resolve()) });
      this.#saveTimer ??= setTimeout(() => void this.#flushSaves(), 5);
    });
  }

  async #flushSaves(): Promise<void> {
    if (this.#saveTimer) clearTimeout(this.#saveTimer);
    this.#saveTimer = undefined;
    const batch = this.#pendingSaves;
    this.#pendingSaves = [];
    if (batch.length === 0) return;
    try {
      await this.#o.deliveryLog.save(batch);
      for (const b of batch) b.done();
    } catch (e) {
      for (const b of batch) b.done(e);
    }
  }
}

/** Origin and path of an endpoint: what logs and attempt records show (a query string may hold a token). */
function describe(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

function stripState(r: Revocation & Partial<RevocationState>): Revocation {
  const { status: _s, attempts: _a, lastError: _l, updatedAt: _u, ...rest } = r;
  return rest;
}

function stripJob(j: Revocation & { attempt?: number }): Revocation {
  const { attempt: _attempt, ...rest } = j;
  return rest;
}
