import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { type Config, HttpError, type Store, counter, createLogger } from '@intentwatch/core';
import { SignJWT } from 'jose';
import type { AlertSource, Finding } from '@intentwatch/alerts';
import { AlertReader, type AlertSnapshot } from '../alert-reader.js';
import { nextDelay, parseRetryAfter } from '../backoff.js';
import type { ChannelContext, ResponderChannel } from '../channel.js';
import type { AttemptRecord, RevocationState, RevocationStatus } from '../delivery-log.js';
import type { DeliveryJob, JobOutcome, Revocation } from '../delivery-queue.js';
import { EndpointRefusedError } from '../endpoint-guard.js';
import { SecretBox } from '../secret-box.js';
import { RESPONDER_DETECTOR_PREFIX } from '../policy.js';
import { postWebhook } from '../webhook-client.js';
import {
  CAEP_SESSION_REVOKED_EVENT,
  POLL_METHOD,
  PUSH_METHOD,
  RISC_CREDENTIAL_COMPROMISE,
  SSF_EVENTS_SUPPORTED,
  SSF_STREAM_UPDATED,
  SSF_VERIFICATION,
  type SsfEvent,
  type SubjectId,
  alertEvents,
  sessionRevokedEvent,
  statusEvent,
} from './ssf-events.js';
import { type SsfAlgorithm, SsfKeys } from './ssf-keys.js';
import { StreamActivity } from './stream-activity.js';
import { tokenFacts } from './token-facts.js';
import { type StreamRecord, type StreamStatus, StreamStore } from './stream-store.js';

export interface SsfTransmitterOptions {
  store: Store;
  config: Pick<Config, 'responders'>;
  /** Signature algorithm of new keys (default ES256). */
  alg?: SsfAlgorithm;
  /** Longest a poll with `returnImmediately: false` waits for a SET (default 25 s). */
  longPollMs?: number;
  /** Least seconds between two verification requests of a stream (default 5; SSF 1.0 §8.1.1 `min_verification_interval`). */
  minVerificationIntervalS?: number;
}

/** What a receiver sends to create or change a stream (SSF 1.0 §8.1.1), plus intentwatch's two safety settings. */
export interface StreamInput {
  stream_id?: string;
  aud?: string | string[];
  events_requested?: string[];
  delivery?: { method: string; endpoint_url?: string; authorization_header?: string };
  description?: string;
  max_per_minute?: number;
  dry_run?: boolean;
}

/** RFC 8936 §2.4 poll request. */
export interface PollRequest {
  ack?: string[];
  setErrs?: Record<string, { err: string; description?: string }>;
  maxEvents?: number;
  returnImmediately?: boolean;
}

/** The alert a stream's tripped rate limit raises (the same breaker revoke policies have). */
export const SSF_BREAKER_SOURCE: AlertSource = {
  id: 'responder_ssf_rate_limit',
  title: 'Shared Signals stream paused by its rate limit',
  frameworks: [],
};

const POLICY_PREFIX = 'ssf:';
const DEFAULT_MAX_PER_MINUTE = 600;
/** How long a claim to make or release a SET stands: far longer than saving its row takes. */
const CLAIM_TTL_MS = 60_000;
const DEFAULT_MAX_EVENTS = 100;
const MAX_EVENTS = 1000;

const setsTotal = counter('intentwatch_ssf_sets_total', 'Security Event Tokens made and their final outcomes, by event type and outcome', [
  'event',
  'outcome',
]);

/**
 * The OpenID Shared Signals Framework 1.0 transmitter: streams (SSF 1.0 §8), signed Security
 * Event Tokens (RFC 8417, profiled by SSF 1.0 §4), push delivery (RFC 8935) and poll delivery
 * (RFC 8936). A channel of the responder: alerts reach it through the responder's look for
 * changed alerts (suppressed, resolved and false-positive alerts send nothing), and every SET is
 * a request in the responder's audit trail (`revocations`, policy id `ssf:<stream_id>`, the SET
 * as its payload) — pushed through the same queue, retries with backoff and jitter,
 * `Retry-After`, dead letters, endpoint guard, per-stream rate limit and circuit breaker, dry run.
 */
export class SsfTransmitter implements ResponderChannel {
  readonly keys: SsfKeys;
  readonly streams: StreamStore;
  readonly issuer: string;
  readonly #log = createLogger('detectors.responders.ssf');
  readonly #store: Store;
  readonly #config: Config['responders'];
  readonly #reader: AlertReader;
  readonly #longPollMs: number;
  readonly #minVerificationS: number;
  readonly #arrivals = new EventEmitter();
  /** SSF 1.0 §8.1.1 `inactivity_timeout` in seconds; 0: none. */
  readonly #inactivityS: number;
  readonly #activity: StreamActivity;
  #lastInactivityCheck = 0;
  #ctx: ChannelContext | undefined;

  private constructor(options: SsfTransmitterOptions, keys: SsfKeys, streams: StreamStore) {
    this.#store = options.store;
    this.#config = options.config.responders;
    this.issuer = options.config.responders.ssfIssuer;
    this.keys = keys;
    this.streams = streams;
    this.#reader = new AlertReader(options.store);
    this.#longPollMs = options.longPollMs ?? 25_000;
    this.#minVerificationS = options.minVerificationIntervalS ?? 5;
    this.#inactivityS = options.config.responders.ssfInactivityTimeoutS ?? 0;
    // Activity within a tenth of the timeout (at most a minute) is recorded once.
    this.#activity = new StreamActivity(options.store, Math.min(60_000, this.#inactivityS * 100));
    this.#arrivals.setMaxListeners(0);
  }

  /**
   * Opens the transmitter, generating its first signing key when the store has none. Undefined
   * without `INTENTWATCH_SECRETS_KEY`: a signing key is never stored in the clear.
   */
  static async open(options: SsfTransmitterOptions): Promise<SsfTransmitter | undefined> {
    const key = options.config.responders.secretsKey;
    if (!key) return undefined;
    const box = new SecretBox(key.bytes());
    const keys = await SsfKeys.open(options.store, box, options.alg ?? 'ES256');
    return new SsfTransmitter(options, keys, new StreamStore(options.store, box));
  }

  /** SSF 1.0 §7.1: the transmitter configuration metadata served at `/.well-known/ssf-configuration`. */
  configuration(): Record<string, unknown> {
    const base = this.issuer;
    return {
      spec_version: '1_0',
      issuer: base,
      jwks_uri: `${base}/ssf/jwks.json`,
      delivery_methods_supported: [PUSH_METHOD, POLL_METHOD],
      configuration_endpoint: `${base}/ssf/streams`,
      status_endpoint: `${base}/ssf/status`,
      add_subject_endpoint: `${base}/ssf/subjects/add`,
      remove_subject_endpoint: `${base}/ssf/subjects/remove`,
      verification_endpoint: `${base}/ssf/verify`,
      authorization_schemes: [{ spec_urn: 'urn:ietf:rfc:6750' }],
      default_subjects: 'ALL',
    };
  }

  jwks(): Promise<{ keys: unknown[] }> {
    return this.keys.jwks();
  }

  /** A new signing key now; the replaced one stays in the JWKS for `INTENTWATCH_SSF_KEY_OVERLAP_S`. */
  rotateKeys(): Promise<{ kid: string; retiring: { kid: string; retireAt: string }[] }> {
    return this.keys.rotate(this.#config.ssfKeyOverlapS * 1000);
  }

  // ---- stream management (SSF 1.0 §8.1) ----

  /** The stream configuration as SSF 1.0 §8.1.1 shows it (never the push endpoint's authorization header). */
  view(s: StreamRecord): Record<string, unknown> {
    const delivery: Record<string, string> =
      s.delivery.method === POLL_METHOD
        ? { method: POLL_METHOD, endpoint_url: `${this.issuer}/ssf/poll/${s.streamId}` }
        : { method: PUSH_METHOD, endpoint_url: s.delivery.endpointUrl ?? '' };
    return {
      stream_id: s.streamId,
      iss: this.issuer,
      aud: s.aud,
      events_supported: [...SSF_EVENTS_SUPPORTED],
      events_requested: s.eventsRequested,
      events_delivered: delivered(s),
      delivery,
      min_verification_interval: this.#minVerificationS,
      ...(this.#inactivityS > 0 ? { inactivity_timeout: this.#inactivityS } : {}),
      description: s.description,
      max_per_minute: s.maxPerMinute,
      dry_run: s.dryRun,
    };
  }

  async createStream(input: StreamInput, actor: string): Promise<StreamRecord> {
    const delivery = await this.#delivery(input.delivery ?? { method: PUSH_METHOD });
    const record = await this.streams.create(
      {
        aud: input.aud ?? '',
        eventsRequested: input.events_requested ?? [...SSF_EVENTS_SUPPORTED],
        delivery: { method: delivery.method, ...(delivery.endpointUrl ? { endpointUrl: delivery.endpointUrl } : {}) },
        description: input.description ?? '',
        subjects: [],
        status: 'enabled',
        reason: '',
        maxPerMinute: input.max_per_minute ?? DEFAULT_MAX_PER_MINUTE,
        dryRun: input.dry_run ?? false,
      },
      actor,
    );
    // SSF 1.0 §8.1.1: `aud` is transmitter-supplied; without one from the receiver it names the stream.
    if (record.aud === '' || (Array.isArray(record.aud) && record.aud.length === 0))
      record.aud = `${this.issuer}/ssf/streams/${record.streamId}`;
    if (delivery.authorizationHeader) {
      record.delivery.authorizationHeaderSealed = this.streams.sealHeader(record.streamId, delivery.authorizationHeader);
    }
    await this.streams.save(record, actor);
    return record;
  }

  /**
   * SSF 1.0 §8.1.1.3 (PATCH: fields present change, the rest stay) and §8.1.1.4 (PUT: every
   * receiver-supplied field replaced). `aud` cannot change (§8.1.1).
   */
  async updateStream(input: StreamInput & { stream_id: string }, actor: string, replace: boolean): Promise<StreamRecord> {
    const s = structuredClone(await this.streams.get(input.stream_id, true));
    if (input.aud !== undefined && JSON.stringify(input.aud) !== JSON.stringify(s.aud)) {
      throw new HttpError(400, 'invalid_request', 'aud: a stream’s audience cannot be changed (SSF 1.0 §8.1.1); create a new stream');
    }
    if (input.events_requested !== undefined || replace) s.eventsRequested = input.events_requested ?? [...SSF_EVENTS_SUPPORTED];
    if (input.description !== undefined || replace) s.description = input.description ?? '';
    if (input.max_per_minute !== undefined || replace) s.maxPerMinute = input.max_per_minute ?? DEFAULT_MAX_PER_MINUTE;
    if (input.dry_run !== undefined || replace) s.dryRun = input.dry_run ?? false;
    if (input.delivery !== undefined || replace) {
      const d = await this.#delivery(input.delivery ?? { method: PUSH_METHOD });
      s.delivery = { method: d.method, ...(d.endpointUrl ? { endpointUrl: d.endpointUrl } : {}) };
      if (d.authorizationHeader) s.delivery.authorizationHeaderSealed = this.streams.sealHeader(s.streamId, d.authorizationHeader);
    }
    await this.streams.save(s, actor);
    await this.#touch(s.streamId);
    return s;
  }

  /** SSF 1.0 §8.1.1.2, one stream: a read by its receiver is activity (§8.1.1 `inactivity_timeout`). */
  async readStream(streamId: string): Promise<StreamRecord> {
    const s = await this.streams.get(streamId);
    await this.#touch(s.streamId);
    return s;
  }

  async deleteStream(streamId: string, actor: string): Promise<void> {
    await this.streams.delete(streamId, actor);
  }

  /** SSF 1.0 §8.1.2.1. */
  async status(streamId: string): Promise<{ stream_id: string; status: StreamStatus; reason?: string }> {
    const s = await this.streams.get(streamId);
    await this.#touch(s.streamId);
    return { stream_id: s.streamId, status: s.status, ...(s.reason ? { reason: s.reason } : {}) };
  }

  /**
   * SSF 1.0 §8.1.2.2. Paused: SETs are held (recorded, not sent or served); enabled again: the
   * held ones go out. Disabled: SETs are dropped (recorded as disabled). A change of status
   * sends the receiver a stream-updated event (§8.1.5): before the stream stops when it pauses or
   * is disabled, upon enabling when it is enabled again (before the held SETs).
   */
  async setStatus(
    streamId: string,
    status: StreamStatus,
    reason: string,
    actor: string,
  ): Promise<{ stream_id: string; status: StreamStatus; reason?: string }> {
    const s = structuredClone(await this.streams.get(streamId, true));
    const was = s.status;
    const now = Date.now();
    const updated = statusEvent(s.streamId, status, reason, now, changeKey(s, status));
    // Told while the stream still runs: a stream-updated event goes out even from a paused or disabled stream.
    if (was !== status && status !== 'enabled') await this.#emit(s, [updated], actor, now);
    if (was !== status) s.statusSince = new Date(now).toISOString();
    s.status = status;
    s.reason = reason;
    await this.streams.save(s, actor);
    if (was !== status && status === 'enabled') await this.#emit(s, [updated], actor, now);
    if (status === 'enabled') await this.#release(s);
    await this.#touch(s.streamId);
    return this.status(streamId);
  }

  /** SSF 1.0 §8.1.3.2. */
  async addSubject(streamId: string, subject: SubjectId, actor: string): Promise<void> {
    const s = structuredClone(await this.streams.get(streamId, true));
    if (!StreamStore.wants({ ...s, subjects: s.subjects.length === 0 ? [{ format: '_none', id: '' }] : s.subjects }, subject)) {
      s.subjects.push(subject);
      await this.streams.save(s, actor);
    }
    await this.#touch(s.streamId);
  }

  /** SSF 1.0 §8.1.3.3; 404 when the stream does not name the subject. */
  async removeSubject(streamId: string, subject: SubjectId, actor: string): Promise<void> {
    const s = structuredClone(await this.streams.get(streamId, true));
    const before = s.subjects.length;
    s.subjects = s.subjects.filter((x) => !StreamStore.wants({ ...s, subjects: [x] }, subject));
    if (s.subjects.length === before) throw new HttpError(404, 'not_found', 'the stream does not name this subject');
    await this.streams.save(s, actor);
    await this.#touch(s.streamId);
  }

  /** SSF 1.0 §8.1.4.2: a verification event with the receiver's `state`, over the stream's own delivery; 429 when asked too often. */
  async verify(streamId: string, state: string | undefined, actor: string): Promise<void> {
    const s = structuredClone(await this.streams.get(streamId, true));
    const now = Date.now();
    const wait = s.lastVerificationAt + this.#minVerificationS * 1000 - now;
    if (wait > 0) {
      throw new HttpError(429, 'too_many_requests', `this stream verifies at most once every ${this.#minVerificationS} s`, {
        headers: { 'Retry-After': String(Math.ceil(wait / 1000)) },
      });
    }
    s.lastVerificationAt = now;
    await this.streams.save(s, actor);
    await this.#touch(s.streamId, now);
    const event: SsfEvent = {
      type: SSF_VERIFICATION,
      // SSF 1.0 §8.1.4.1: the subject of a verification event is the stream itself, as opaque.
      subject: { format: 'opaque', id: s.streamId },
      payload: state === undefined ? {} : { state },
      txn: `verify:${randomBytes(8).toString('hex')}`,
      toe: Math.floor(now / 1000),
      alertId: '',
      tokenId: '',
      sessionRoot: '',
      dedupKey: `verify:${now}`,
    };
    await this.#emit(s, [event], `receiver:${actor}`, now);
  }

  /**
   * RFC 8936 §2.4: acknowledges (`ack`) or reports errors on (`setErrs`) earlier SETs, then
   * answers up to `maxEvents` unacknowledged SETs, oldest first. Without `returnImmediately`
   * (a long poll) it waits up to the long-poll time for one to arrive; `signal` ends the wait
   * when the client goes away.
   */
  async poll(
    streamId: string,
    request: PollRequest,
    signal?: AbortSignal,
  ): Promise<{ sets: Record<string, string>; moreAvailable: boolean }> {
    const s = await this.streams.get(streamId);
    if (s.delivery.method !== POLL_METHOD) {
      throw new HttpError(400, 'invalid_request', `stream ${streamId} delivers by push (${PUSH_METHOD}), not poll`);
    }
    await this.#touch(s.streamId);
    const policyId = POLICY_PREFIX + s.streamId;
    const log = this.#log;
    const ctx = this.#context();
    const answered = [...(request.ack ?? []), ...Object.keys(request.setErrs ?? {})];
    if (answered.length > 0) {
      const known = await ctx.deliveryLog.getMany(policyId, answered);
      const now = Date.now();
      const updates: { revocation: Revocation; state: Omit<RevocationState, 'updatedAt'> }[] = [];
      for (const r of known) {
        if (r.status !== 'awaiting_poll') continue;
        const err = request.setErrs?.[r.webhookId];
        const status: RevocationStatus = err ? 'dead' : 'delivered';
        const error = err ? `${err.err}${err.description ? `: ${err.description}` : ''}`.slice(0, 1000) : '';
        updates.push({ revocation: stripState(r), state: { status, attempts: r.attempts + 1, lastError: error } });
        await this.#attempt(
          r,
          r.attempts + 1,
          { status: err ? 'dead' : 'delivered', httpStatus: 0, latencyMs: now - Date.parse(r.createdAt), error, nextAttemptAt: null },
          `${this.issuer}/ssf/poll/${s.streamId}`,
        );
        setsTotal.inc({ event: eventOf(r), outcome: status });
      }
      await ctx.deliveryLog.save(updates);
      if (request.setErrs && Object.keys(request.setErrs).length > 0)
        log.warn({ stream: s.streamId, errors: Object.keys(request.setErrs).length }, 'receiver reported SET errors');
    }
    const max = Math.min(request.maxEvents ?? DEFAULT_MAX_EVENTS, MAX_EVENTS);
    const deadline = Date.now() + (request.returnImmediately === false ? this.#longPollMs : 0);
    for (;;) {
      const waiting = max === 0 ? [] : await ctx.deliveryLog.withStatus(policyId, 'awaiting_poll', max + 1);
      if (waiting.length > 0 || max === 0 || Date.now() >= deadline || signal?.aborted) {
        const sets: Record<string, string> = {};
        for (const r of waiting.slice(0, max)) sets[r.webhookId] = r.payload;
        return { sets, moreAvailable: waiting.length > max };
      }
      // A SET made in this process wakes the poll at once; one made in another process is seen within a second.
      await this.#arrival(s.streamId, Math.min(1000, deadline - Date.now()), signal);
    }
  }

  // ---- the responder's channel ----

  attach(context: ChannelContext): void {
    this.#ctx = context;
  }

  owns(job: DeliveryJob): boolean {
    return job.policyId.startsWith(POLICY_PREFIX);
  }

  async onAlerts(snapshots: AlertSnapshot[], now: number): Promise<void> {
    const streams = (await this.streams.list()).filter((s) => s.status !== 'disabled');
    if (streams.length === 0) return;
    // The responders' own alerts (a paused policy or stream) are about us, not about a token.
    const findings = snapshots.filter((s) => !s.alert.detector.startsWith(RESPONDER_DETECTOR_PREFIX));
    if (findings.length === 0) return;
    const facts = await tokenFacts(
      this.#store,
      findings.flatMap((s) => [s.alert.tokenId, s.alert.rootTokenId]),
    );
    const events = findings.flatMap((s) => alertEvents(s.alert, facts));
    for (const s of streams) await this.#emit(s, events, 'policy', now);
  }

  async onRevocations(revocations: { revocation: Revocation; status: string }[], now: number): Promise<void> {
    // Only a revoke that goes out (or is held to go out) revokes anything: a dry run does not.
    const made = revocations.filter((r) => !r.revocation.dryRun && ['queued', 'held'].includes(r.status)).map((r) => r.revocation);
    if (made.length === 0) return;
    const streams = (await this.streams.list()).filter((s) => s.status !== 'disabled' && delivered(s).includes(CAEP_SESSION_REVOKED_EVENT));
    if (streams.length === 0) return;
    const [alerts, facts] = await Promise.all([
      this.#reader.load([...new Set(made.map((r) => r.alertId))]),
      tokenFacts(
        this.#store,
        made.map((r) => r.sessionRoot || r.tokenId),
      ),
    ]);
    const events = made.map((r) =>
      sessionRevokedEvent(r, alerts.get(r.alertId)?.alert, facts.get(r.sessionRoot || r.tokenId)?.issuer || undefined),
    );
    for (const s of streams) await this.#emit(s, events, made[0]?.requestedBy ?? 'policy', now);
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
        const now = await this.streams.get(streamId, true).catch(() => undefined);
        if (now?.status === 'enabled') await this.#release(now);
      }
      return undefined;
    };
    let s: StreamRecord;
    try {
      s = await this.streams.get(streamId);
      // Before holding, read the stream again: another process may have enabled it or raised its limit a moment ago.
      if (s.status !== 'enabled') s = await this.streams.get(streamId, true);
    } catch {
      return finish('discarded', `stream ${streamId} was deleted`);
    }
    // SSF 1.0 §8.1.5: the stream-updated event that says the stream was paused or disabled still goes out.
    const control = job.dedupKey.startsWith('updated:');
    if (s.status === 'disabled' && !control) return finish('disabled', `stream ${streamId} is disabled${s.reason ? `: ${s.reason}` : ''}`);
    if (s.status === 'paused' && !control) return finish('held', `stream ${streamId} is paused${s.reason ? `: ${s.reason}` : ''}`);
    if (!control && !(await ctx.limiter.acquire(job.policyId, job.webhookId, s.maxPerMinute, 60_000))) {
      // The limit read a moment ago may have been raised since (or the stream paused by another delivery).
      const current = await this.streams.get(streamId, true).catch(() => undefined);
      if (!current) return finish('discarded', `stream ${streamId} was deleted`);
      if (current.status !== 'enabled')
        return finish('held', `stream ${streamId} is ${current.status}${current.reason ? `: ${current.reason}` : ''}`);
      if (!(await ctx.limiter.acquire(job.policyId, job.webhookId, current.maxPerMinute, 60_000)))
        return finish('held', await this.#trip(current));
      s = current;
    }
    const endpoint = describe(s.delivery.endpointUrl ?? '');
    if (job.dryRun) {
      await this.#attempt(job, job.attempt, { status: 'dry_run', httpStatus: 0, latencyMs: 0, error: '', nextAttemptAt: null }, endpoint);
      return finish('dry_run', '', job.attempt);
    }
    let url: URL;
    try {
      url = ctx.guard.checkUrl(s.delivery.endpointUrl ?? '');
    } catch (e) {
      await this.#attempt(
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
      const auth = this.streams.authorizationHeader(s);
      if (auth) headers.authorization = auth;
      result = await postWebhook(url, headers, job.payload, { timeoutMs: this.#config.timeoutMs, guard: ctx.guard });
    } catch (e) {
      result = { status: 0, latencyMs: 0, error: (e as Error).message, refused: false };
    }
    const base = { httpStatus: result.status, latencyMs: result.latencyMs, error: result.error };
    if (result.refused) {
      await this.#attempt(job, job.attempt, { ...base, status: 'refused', nextAttemptAt: null }, endpoint);
      return finish('refused', result.error, job.attempt);
    }
    if (result.status >= 200 && result.status < 300) {
      await this.#attempt(job, job.attempt, { ...base, status: 'delivered', nextAttemptAt: null }, endpoint);
      return finish('delivered', '', job.attempt);
    }
    const retry = { maxAttempts: this.#config.maxAttempts, baseDelayMs: 500, maxDelayMs: 300_000 };
    // RFC 8935 §2.3: a 400 says the receiver rejected this SET (bad signature, audience…): sending it again cannot succeed.
    if (result.status === 400 || job.attempt >= retry.maxAttempts) {
      await this.#attempt(job, job.attempt, { ...base, status: 'dead', nextAttemptAt: null }, endpoint);
      await ctx.deliveryLog.deadLetter(job, job.attempt, result.status, result.error);
      this.#log.warn({ stream: streamId, jti: job.webhookId, attempts: job.attempt, status: result.status }, 'SET delivery dead-lettered');
      return finish('dead', result.error, job.attempt);
    }
    const delay = nextDelay(job.attempt, retry, parseRetryAfter(result.retryAfter));
    await this.#attempt(
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

  /**
   * SSF 1.0 §8.1.1 `inactivity_timeout`: pauses each enabled stream whose receiver has neither
   * polled it nor called a management endpoint about it for that long, telling it first with a
   * stream-updated event. Looked at a few times per timeout (at most every 30 s).
   */
  async onTick(now: number): Promise<void> {
    if (this.#inactivityS <= 0) return;
    const timeoutMs = this.#inactivityS * 1000;
    if (now - this.#lastInactivityCheck < Math.min(30_000, Math.max(250, timeoutMs / 4))) return;
    this.#lastInactivityCheck = now;
    // A failed look is tried again at the next one; it must not hold up the alerts.
    await this.#pauseInactive(now, timeoutMs).catch((e: unknown) =>
      this.#log.error({ err: e instanceof Error ? e.message : String(e) }, 'looking for inactive streams failed; trying again'),
    );
  }

  async #pauseInactive(now: number, timeoutMs: number): Promise<void> {
    const enabled = (await this.streams.list()).filter((s) => s.status === 'enabled');
    if (enabled.length === 0) return;
    const activity = await this.#activity.last();
    for (const listed of enabled) {
      const last = Math.max(activity.get(listed.streamId) ?? 0, Date.parse(listed.createdAt) || 0);
      if (now - last <= timeoutMs) continue;
      // Read again: another process may have changed the stream a moment ago.
      const s = await this.streams.get(listed.streamId, true).catch(() => undefined);
      if (s?.status !== 'enabled') continue;
      const reason = `no activity from the receiver for more than ${this.#inactivityS} s (the stream's inactivity_timeout): enable it again (POST /ssf/status) to receive the SETs held meanwhile`;
      await this.#emit(s, [statusEvent(s.streamId, 'paused', reason, now, changeKey(s, 'paused'))], 'transmitter', now);
      await this.streams.save({ ...s, status: 'paused', reason, statusSince: new Date(now).toISOString() }, 'transmitter');
      this.#log.warn({ stream: s.streamId, inactivityTimeoutS: this.#inactivityS }, 'SSF stream paused: no receiver activity');
    }
  }

  // ---- internals ----

  /** Receiver activity on a stream restarts its inactivity timeout (SSF 1.0 §8.1.1). */
  async #touch(streamId: string, now = Date.now()): Promise<void> {
    if (this.#inactivityS <= 0) return;
    // The receiver's request succeeds all the same: activity not recorded now is recorded at its next request.
    await this.#activity
      .touch(streamId, now)
      .catch((e: unknown) =>
        this.#log.warn({ stream: streamId, err: e instanceof Error ? e.message : String(e) }, 'recording receiver activity failed'),
      );
  }

  #context(): ChannelContext {
    if (!this.#ctx) throw new Error('the Shared Signals transmitter is not attached to a responder (ResponderOptions.channels)');
    return this.#ctx;
  }

  /** Validates a delivery: push to an endpoint the guard allows (DNS included), or poll from our endpoint. */
  async #delivery(d: { method: string; endpoint_url?: string; authorization_header?: string }): Promise<{
    method: string;
    endpointUrl?: string;
    authorizationHeader?: string;
  }> {
    if (d.method === POLL_METHOD) return { method: POLL_METHOD };
    if (d.method !== PUSH_METHOD) {
      throw new HttpError(400, 'invalid_request', `delivery.method: expected ${PUSH_METHOD} or ${POLL_METHOD} (got "${d.method}")`);
    }
    if (!d.endpoint_url) throw new HttpError(400, 'invalid_request', `delivery.endpoint_url: required for ${PUSH_METHOD}`);
    try {
      await this.#context().guard.check(d.endpoint_url);
    } catch (e) {
      if (e instanceof EndpointRefusedError) throw new HttpError(400, 'endpoint_refused', `delivery.endpoint_url: ${e.message}`);
      throw e;
    }
    return {
      method: PUSH_METHOD,
      endpointUrl: d.endpoint_url,
      ...(d.authorization_header ? { authorizationHeader: d.authorization_header } : {}),
    };
  }

  /** Signs and records the SETs of `events` a stream takes (its event types and subjects), once per dedup key. */
  async #emit(s: StreamRecord, events: SsfEvent[], requestedBy: string, now: number): Promise<void> {
    const ctx = this.#context();
    const types = new Set(delivered(s));
    const control = (e: SsfEvent) => e.type === SSF_VERIFICATION || e.type === SSF_STREAM_UPDATED;
    const mine = events.filter((e) => control(e) || (types.has(e.type) && StreamStore.wants(s, e.subject)));
    if (mine.length === 0) return;
    const policyId = POLICY_PREFIX + s.streamId;
    const existing = await ctx.deliveryLog.existing(
      policyId,
      mine.map((e) => e.dedupKey),
    );
    const taken = new Set(existing.keys());
    const poll = s.delivery.method === POLL_METHOD;
    const signer = await this.keys.signer();
    const entries: { revocation: Revocation; state: Omit<RevocationState, 'updatedAt'> }[] = [];
    for (const e of mine) {
      if (taken.has(e.dedupKey)) continue;
      taken.add(e.dedupKey);
      // Every worker sees the same alerts: one alone makes the SET of an event (until its row is saved and seen).
      if (!(await ctx.queue.claim(`ssf-emit:${policyId}:${e.dedupKey}`, CLAIM_TTL_MS))) continue;
      const jti = randomBytes(16).toString('hex');
      // RFC 8417 §2.2 claims, profiled by SSF 1.0 §4.1: explicit typ, no sub, no exp; sub_id per RFC 9493 §4.
      const set = await new SignJWT({ sub_id: e.subject, events: { [e.type]: e.payload }, txn: e.txn, toe: e.toe })
        .setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: 'secevent+jwt' })
        .setIssuer(this.issuer)
        .setAudience(s.aud)
        .setJti(jti)
        .setIssuedAt(Math.floor(now / 1000))
        .sign(signer.key);
      let status: RevocationStatus = poll ? 'awaiting_poll' : 'queued';
      let lastError = '';
      if (s.status === 'paused' && e.type !== SSF_STREAM_UPDATED) [status, lastError] = ['held', `stream ${s.streamId} is paused`];
      else if (poll && s.dryRun) status = 'dry_run';
      entries.push({
        revocation: {
          webhookId: jti,
          policyId,
          dedupKey: e.dedupKey,
          alertId: e.alertId,
          mode: e.type === RISC_CREDENTIAL_COMPROMISE ? 'token' : 'session',
          tokenId: e.tokenId,
          sessionRoot: e.sessionRoot,
          tokens: e.tokenId ? [e.tokenId] : [],
          chain: [],
          dryRun: s.dryRun,
          requestedBy,
          payload: set,
          createdAt: new Date(now).toISOString(),
        },
        state: { status, attempts: 0, lastError },
      });
    }
    if (entries.length === 0) return;
    await ctx.deliveryLog.save(entries);
    if (poll) this.#arrivals.emit(s.streamId);
    else if (ctx.runsJobs()) {
      for (const e of entries) if (e.state.status === 'queued') await ctx.queue.add({ ...e.revocation, attempt: 1 });
    }
  }

  /** Held SETs of a stream enabled again: queued (push) or served (poll). */
  async #release(s: StreamRecord): Promise<void> {
    const ctx = this.#context();
    const found = await ctx.deliveryLog.withStatus(POLICY_PREFIX + s.streamId, 'held', 100_000);
    // Two processes may release at once, one of them from a read made before the other released
    // and delivered: each held state of a SET is released by one process alone, or a stale
    // release would queue a delivered SET again.
    const held: typeof found = [];
    for (const h of found) if (await ctx.queue.claim(`ssf-release:${h.webhookId}:${h.updatedAt}`, CLAIM_TTL_MS)) held.push(h);
    if (held.length === 0) return;
    const poll = s.delivery.method === POLL_METHOD;
    await ctx.deliveryLog.save(
      held.map((h) => ({
        revocation: stripState(h),
        state: { status: poll ? 'awaiting_poll' : 'queued', attempts: h.attempts, lastError: '' },
      })),
    );
    if (poll) this.#arrivals.emit(s.streamId);
    else if (ctx.runsJobs()) {
      const openedAt = Date.now();
      for (const h of held) await ctx.queue.add({ ...stripState(h), attempt: h.attempts + 1 }, 0, openedAt);
    }
  }

  /** Pauses a stream past its rate limit and raises the alert that says so; returns the reason. */
  async #trip(s: StreamRecord): Promise<string> {
    const now = Date.now();
    const reason = `more than ${s.maxPerMinute} SETs within a minute (the stream's max_per_minute): SETs are held until the stream is enabled again (POST /ssf/status)`;
    const current = await this.streams.get(s.streamId, true);
    if (current.status !== 'enabled') return current.reason || reason;
    // SSF 1.0 §8.1.5: the receiver hears of the pause before the stream stops.
    await this.#emit(current, [statusEvent(s.streamId, 'paused', reason, now, changeKey(current, 'paused'))], 'responder', now);
    await this.streams.save({ ...current, status: 'paused', reason, statusSince: new Date(now).toISOString() }, 'responder');
    const finding: Finding = {
      key: `stream:${s.streamId}`,
      severity: 'high',
      reason: `Shared Signals stream ${s.streamId} paused: ${reason}. A burst like this usually means a detector is matching far more than intended.`,
      tokenId: '',
      rootTokenId: `stream:${s.streamId}`,
      agentId: '',
      taskId: '',
      caller: 'intentwatch-responder',
      target: describe(s.delivery.endpointUrl ?? `${this.issuer}/ssf/poll/${s.streamId}`),
      environment: '',
      evidence: { traceId: '', spanId: '', time: new Date(now).toISOString(), key: `trip:${now}` },
    };
    await this.#context().alerts.record(SSF_BREAKER_SOURCE, [finding], now);
    this.#log.warn({ stream: s.streamId, maxPerMinute: s.maxPerMinute }, 'SSF rate limit reached: stream paused');
    return reason;
  }

  async #attempt(
    r: Revocation,
    attempt: number,
    a: Pick<AttemptRecord, 'status' | 'httpStatus' | 'latencyMs' | 'error' | 'nextAttemptAt'>,
    endpoint: string,
  ): Promise<void> {
    await this.#context().deliveryLog.recordAttempt({
      ...a,
      webhookId: r.webhookId,
      alertId: r.alertId,
      policyId: r.policyId,
      dryRun: r.dryRun,
      endpoint,
      attempt,
    });
  }

  #arrival(streamId: string, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#arrivals.off(streamId, done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.#arrivals.on(streamId, done);
      signal?.addEventListener('abort', done);
    });
  }
}

/**
 * The dedup key of a stream-updated event, named by the change (from which status, since when,
 * to which): processes that make the same change at once (an admin on two API replicas, the rate
 * limit tripping in two workers, an inactivity pause seen by both) tell the receiver once.
 */
function changeKey(s: StreamRecord, to: StreamStatus): string {
  return `updated:${s.status}@${s.statusSince ?? s.createdAt}:${to}`;
}

/** SSF 1.0 §8.1.1 `events_delivered`: the requested types this transmitter supports. */
function delivered(s: StreamRecord): string[] {
  return SSF_EVENTS_SUPPORTED.filter((t) => s.eventsRequested.includes(t));
}

function eventOf(r: Revocation): string {
  return r.dedupKey.split(':')[0] ?? 'other';
}

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
