import { randomBytes } from 'node:crypto';
import { InvalidInputError, NotFoundError, type Store, TooManyRequestsError, createLogger } from '@intentwatch/core';
import { AlertReader, type AlertSnapshot } from '../alert-reader.js';
import type { ChannelContext, ResponderChannel } from '../channel.js';
import type { RevocationState, RevocationStatus } from '../delivery-log.js';
import type { DeliveryJob, JobOutcome, Revocation } from '../delivery-queue.js';
import { EndpointRefusedError } from '../endpoint-guard.js';
import { SecretBox } from '../secret-box.js';
import { RESPONDER_DETECTOR_PREFIX } from '../policy.js';
import {
  CAEP_SESSION_REVOKED_EVENT,
  POLL_METHOD,
  PUSH_METHOD,
  SSF_EVENTS_SUPPORTED,
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
import { SetEmitter } from './set-emitter.js';
import { SetPusher } from './set-pusher.js';
import { POLICY_PREFIX, changeKey, delivered, eventOf, recordAttempt, setsTotal, stripState } from './ssf-shared.js';
import { type StreamRecord, type StreamStatus, StreamStore } from './stream-store.js';
import type { ResponderConfig, ResponderSettings } from '../settings.js';

export interface SsfTransmitterOptions {
  store: Store;
  config: Pick<ResponderSettings, 'responders'>;
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

const DEFAULT_MAX_PER_MINUTE = 600;
const DEFAULT_MAX_EVENTS = 100;
const MAX_EVENTS = 1000;

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
  readonly #config: ResponderConfig;
  readonly #reader: AlertReader;
  readonly #longPollMs: number;
  readonly #minVerificationS: number;
  readonly #emitter: SetEmitter;
  readonly #pusher: SetPusher;
  /** SSF 1.0 §8.1.1 `inactivity_timeout` in seconds; 0: none. */
  readonly #inactivityS: number;
  readonly #activity: StreamActivity;
  #lastInactivityCheck = 0;
  #ctx: ChannelContext | undefined;
  /** How often {@link onTick} looks for inactive streams (undefined without an inactivity timeout). */
  readonly tickEveryMs: number | undefined;

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
    this.tickEveryMs = this.#inactivityS > 0 ? inactivityCheckMs(this.#inactivityS * 1000) : undefined;
    this.#emitter = new SetEmitter(() => this.#context(), keys, streams, this.issuer);
    this.#pusher = new SetPusher(() => this.#context(), streams, this.#emitter, this.#config, this.issuer);
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
      throw new InvalidInputError('invalid_request', 'aud: a stream’s audience cannot be changed (SSF 1.0 §8.1.1); create a new stream');
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
    if (was !== status && status !== 'enabled') await this.#emitter.emit(s, [updated], actor, now);
    if (was !== status) s.statusSince = new Date(now).toISOString();
    s.status = status;
    s.reason = reason;
    await this.streams.save(s, actor);
    if (was !== status && status === 'enabled') await this.#emitter.emit(s, [updated], actor, now);
    if (status === 'enabled') await this.#emitter.release(s);
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
    if (s.subjects.length === before) throw new NotFoundError('the stream does not name this subject');
    await this.streams.save(s, actor);
    await this.#touch(s.streamId);
  }

  /** SSF 1.0 §8.1.4.2: a verification event with the receiver's `state`, over the stream's own delivery; 429 when asked too often. */
  async verify(streamId: string, state: string | undefined, actor: string): Promise<void> {
    const s = structuredClone(await this.streams.get(streamId, true));
    const now = Date.now();
    const wait = s.lastVerificationAt + this.#minVerificationS * 1000 - now;
    if (wait > 0) {
      throw new TooManyRequestsError(
        'too_many_requests',
        `this stream verifies at most once every ${this.#minVerificationS} s`,
        wait / 1000,
      );
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
    await this.#emitter.emit(s, [event], `receiver:${actor}`, now);
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
      throw new InvalidInputError('invalid_request', `stream ${streamId} delivers by push (${PUSH_METHOD}), not poll`);
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
        await recordAttempt(
          ctx,
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
      await this.#emitter.arrival(s.streamId, Math.min(1000, deadline - Date.now()), signal);
    }
  }

  // ---- the responder's channel ----

  /** One push attempt of one SET (the queue's handler for `ssf:` jobs). */
  deliver(job: DeliveryJob): Promise<JobOutcome> {
    return this.#pusher.deliver(job);
  }

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
    for (const s of streams) await this.#emitter.emit(s, events, 'policy', now);
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
    for (const s of streams) await this.#emitter.emit(s, events, made[0]?.requestedBy ?? 'policy', now);
  }

  /**
   * SSF 1.0 §8.1.1 `inactivity_timeout`: pauses each enabled stream whose receiver has neither
   * polled it nor called a management endpoint about it for that long, telling it first with a
   * stream-updated event. Looked at a few times per timeout (at most every 30 s).
   */
  async onTick(now: number): Promise<void> {
    if (this.#inactivityS <= 0) return;
    const timeoutMs = this.#inactivityS * 1000;
    if (now - this.#lastInactivityCheck < inactivityCheckMs(timeoutMs)) return;
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
      await this.#emitter.emit(s, [statusEvent(s.streamId, 'paused', reason, now, changeKey(s, 'paused'))], 'transmitter', now);
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
      throw new InvalidInputError('invalid_request', `delivery.method: expected ${PUSH_METHOD} or ${POLL_METHOD} (got "${d.method}")`);
    }
    if (!d.endpoint_url) throw new InvalidInputError('invalid_request', `delivery.endpoint_url: required for ${PUSH_METHOD}`);
    try {
      await this.#context().guard.check(d.endpoint_url);
    } catch (e) {
      if (e instanceof EndpointRefusedError) throw new InvalidInputError('endpoint_refused', `delivery.endpoint_url: ${e.message}`);
      throw e;
    }
    return {
      method: PUSH_METHOD,
      endpointUrl: d.endpoint_url,
      ...(d.authorization_header ? { authorizationHeader: d.authorization_header } : {}),
    };
  }
}

/** How often streams are checked for an inactivity timeout of `timeoutMs`: a few times per timeout, at most every 30 s. */
function inactivityCheckMs(timeoutMs: number): number {
  return Math.min(30_000, Math.max(250, timeoutMs / 4));
}
