import type { AlertSource, Finding } from '@intentwatch/alerts';
import { createLogger } from '@intentwatch/core';
import { nextDelay, parseRetryAfter } from '../backoff.js';
import type { ChannelContext } from '../channel.js';
import type { RevocationStatus } from '../delivery-log.js';
import type { DeliveryJob, JobOutcome } from '../delivery-queue.js';
import { postWebhook } from '../webhook-client.js';
import type { SetEmitter } from './set-emitter.js';
import { statusEvent } from './ssf-events.js';
import { POLICY_PREFIX, changeKey, describe, eventOf, recordAttempt, setsTotal, stripJob } from './ssf-shared.js';
import type { StreamRecord, StreamStore } from './stream-store.js';
import type { ResponderConfig } from '../settings.js';

/** The alert a stream's tripped rate limit raises (the same breaker revoke policies have). */
export const SSF_BREAKER_SOURCE: AlertSource = {
  id: 'responder_ssf_rate_limit',
  title: 'Shared Signals stream paused by its rate limit',
  frameworks: [],
};

/**
 * Push delivery (RFC 8935): one attempt of one SET per job, through the responder's queue —
 * retries with backoff and jitter, `Retry-After`, dead letters, the endpoint guard, dry run — and
 * the per-stream rate limit with its circuit breaker: past it the stream pauses, the receiver is
 * told, and an alert says why.
 */
export class SetPusher {
  readonly #log = createLogger('detectors.responders.ssf');
  readonly #context: () => ChannelContext;
  readonly #streams: StreamStore;
  readonly #emitter: SetEmitter;
  readonly #config: ResponderConfig;
  readonly #issuer: string;

  constructor(context: () => ChannelContext, streams: StreamStore, emitter: SetEmitter, config: ResponderConfig, issuer: string) {
    this.#context = context;
    this.#streams = streams;
    this.#emitter = emitter;
    this.#config = config;
    this.#issuer = issuer;
  }

  /** One push attempt of one SET (the queue's handler for `ssf:` jobs). */
  async deliver(job: DeliveryJob): Promise<JobOutcome> {
    const ctx = this.#context();
    const streamId = job.policyId.slice(POLICY_PREFIX.length);
    const finish = async (status: RevocationStatus, lastError: string, attempts = job.attempt - 1): Promise<undefined> => {
      setsTotal.inc({ event: eventOf(job), outcome: status });
      await ctx.deliveryLog.save([{ revocation: stripJob(job), state: { status, attempts, lastError } }]);
      if (status === 'held') {
        // The stream may have been enabled while this SET was found paused, after the release
        // read the held ones: release again, or it would stay held for good.
        const now = await this.#streams.get(streamId, true).catch(() => undefined);
        if (now?.status === 'enabled') await this.#emitter.release(now);
      }
      return undefined;
    };
    let s: StreamRecord;
    try {
      s = await this.#streams.get(streamId);
      // Before holding, read the stream again: another process may have enabled it or raised its limit a moment ago.
      if (s.status !== 'enabled') s = await this.#streams.get(streamId, true);
    } catch {
      return finish('discarded', `stream ${streamId} was deleted`);
    }
    // SSF 1.0 §8.1.5: the stream-updated event that says the stream was paused or disabled still goes out.
    const control = job.dedupKey.startsWith('updated:');
    if (s.status === 'disabled' && !control) return finish('disabled', `stream ${streamId} is disabled${s.reason ? `: ${s.reason}` : ''}`);
    if (s.status === 'paused' && !control) return finish('held', `stream ${streamId} is paused${s.reason ? `: ${s.reason}` : ''}`);
    if (!control && !(await ctx.limiter.acquire(job.policyId, job.webhookId, s.maxPerMinute, 60_000))) {
      // The limit read a moment ago may have been raised since (or the stream paused by another delivery).
      const current = await this.#streams.get(streamId, true).catch(() => undefined);
      if (!current) return finish('discarded', `stream ${streamId} was deleted`);
      if (current.status !== 'enabled')
        return finish('held', `stream ${streamId} is ${current.status}${current.reason ? `: ${current.reason}` : ''}`);
      if (!(await ctx.limiter.acquire(job.policyId, job.webhookId, current.maxPerMinute, 60_000)))
        return finish('held', await this.#trip(current));
      s = current;
    }
    const endpoint = describe(s.delivery.endpointUrl ?? '');
    if (job.dryRun) {
      await recordAttempt(
        ctx,
        job,
        job.attempt,
        { status: 'dry_run', httpStatus: 0, latencyMs: 0, error: '', nextAttemptAt: null },
        endpoint,
      );
      return finish('dry_run', '', job.attempt);
    }
    let url: URL;
    try {
      url = ctx.guard.checkUrl(s.delivery.endpointUrl ?? '');
    } catch (e) {
      await recordAttempt(
        ctx,
        job,
        job.attempt,
        { status: 'refused', httpStatus: 0, latencyMs: 0, error: (e as Error).message, nextAttemptAt: null },
        endpoint,
      );
      return finish('refused', (e as Error).message, job.attempt);
    }
    // RFC 8935 §2: the SET is the body, as application/secevent+jwt.
    const headers: Record<string, string> = { 'content-type': 'application/secevent+jwt', accept: 'application/json' };
    let result: Awaited<ReturnType<typeof postWebhook>>;
    try {
      const auth = this.#streams.authorizationHeader(s);
      if (auth) headers.authorization = auth;
      result = await postWebhook(url, headers, job.payload, { timeoutMs: this.#config.timeoutMs, guard: ctx.guard });
    } catch (e) {
      result = { status: 0, latencyMs: 0, error: (e as Error).message, refused: false };
    }
    const base = { httpStatus: result.status, latencyMs: result.latencyMs, error: result.error };
    if (result.refused) {
      await recordAttempt(ctx, job, job.attempt, { ...base, status: 'refused', nextAttemptAt: null }, endpoint);
      return finish('refused', result.error, job.attempt);
    }
    if (result.status >= 200 && result.status < 300) {
      await recordAttempt(ctx, job, job.attempt, { ...base, status: 'delivered', nextAttemptAt: null }, endpoint);
      return finish('delivered', '', job.attempt);
    }
    const retry = { maxAttempts: this.#config.maxAttempts, baseDelayMs: 500, maxDelayMs: 300_000 };
    // RFC 8935 §2.3: a 400 says the receiver rejected this SET (bad signature, audience…): sending it again cannot succeed.
    if (result.status === 400 || job.attempt >= retry.maxAttempts) {
      await recordAttempt(ctx, job, job.attempt, { ...base, status: 'dead', nextAttemptAt: null }, endpoint);
      await ctx.deliveryLog.deadLetter(job, job.attempt, result.status, result.error);
      this.#log.warn({ stream: streamId, jti: job.webhookId, attempts: job.attempt, status: result.status }, 'SET delivery dead-lettered');
      return finish('dead', result.error, job.attempt);
    }
    const delay = nextDelay(job.attempt, retry, parseRetryAfter(result.retryAfter));
    await recordAttempt(
      ctx,
      job,
      job.attempt,
      { ...base, status: 'failed', nextAttemptAt: new Date(Date.now() + delay).toISOString() },
      endpoint,
    );
    await ctx.deliveryLog.save([
      { revocation: stripJob(job), state: { status: 'retrying', attempts: job.attempt, lastError: result.error } },
    ]);
    return { retryInMs: delay };
  }

  /** Pauses a stream past its rate limit and raises the alert that says so; returns the reason. */
  async #trip(s: StreamRecord): Promise<string> {
    const now = Date.now();
    const reason = `more than ${s.maxPerMinute} SETs within a minute (the stream's max_per_minute): SETs are held until the stream is enabled again (POST /ssf/status)`;
    const current = await this.#streams.get(s.streamId, true);
    if (current.status !== 'enabled') return current.reason || reason;
    // SSF 1.0 §8.1.5: the receiver hears of the pause before the stream stops.
    await this.#emitter.emit(current, [statusEvent(s.streamId, 'paused', reason, now, changeKey(current, 'paused'))], 'responder', now);
    await this.#streams.save({ ...current, status: 'paused', reason, statusSince: new Date(now).toISOString() }, 'responder');
    const finding: Finding = {
      key: `stream:${s.streamId}`,
      severity: 'high',
      reason: `Shared Signals stream ${s.streamId} paused: ${reason}. A burst like this usually means a detector is matching far more than intended.`,
      tokenId: '',
      rootTokenId: `stream:${s.streamId}`,
      agentId: '',
      taskId: '',
      caller: 'intentwatch-responder',
      target: describe(s.delivery.endpointUrl ?? `${this.#issuer}/ssf/poll/${s.streamId}`),
      environment: '',
      evidence: { traceId: '', spanId: '', time: new Date(now).toISOString(), key: `trip:${now}` },
    };
    await this.#context().alerts.record(SSF_BREAKER_SOURCE, [finding], now);
    this.#log.warn({ stream: s.streamId, maxPerMinute: s.maxPerMinute }, 'SSF rate limit reached: stream paused');
    return reason;
  }
}
