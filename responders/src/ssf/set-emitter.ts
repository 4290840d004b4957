import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { SignJWT } from 'jose';
import type { ChannelContext } from '../channel.js';
import type { RevocationState, RevocationStatus } from '../delivery-log.js';
import type { Revocation } from '../delivery-queue.js';
import { POLL_METHOD, RISC_CREDENTIAL_COMPROMISE, SSF_STREAM_UPDATED, SSF_VERIFICATION, type SsfEvent } from './ssf-events.js';
import type { SsfKeys } from './ssf-keys.js';
import { CLAIM_TTL_MS, POLICY_PREFIX, delivered, stripState } from './ssf-shared.js';
import { type StreamRecord, StreamStore } from './stream-store.js';

/**
 * Makes a stream's SETs: signs and records the events a stream takes, once per dedup key across
 * processes, queues them (push) or wakes the stream's polls (poll); releases the held ones when
 * the stream is enabled again.
 */
export class SetEmitter {
  readonly #arrivals = new EventEmitter();
  readonly #context: () => ChannelContext;
  readonly #keys: SsfKeys;
  readonly #streams: StreamStore;
  readonly #issuer: string;

  constructor(context: () => ChannelContext, keys: SsfKeys, streams: StreamStore, issuer: string) {
    this.#context = context;
    this.#keys = keys;
    this.#streams = streams;
    this.#issuer = issuer;
    this.#arrivals.setMaxListeners(0);
  }

  /** Signs and records the SETs of `events` a stream takes (its event types and subjects), once per dedup key. */
  async emit(s: StreamRecord, events: SsfEvent[], requestedBy: string, now: number): Promise<void> {
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
    const signer = await this.#keys.signer();
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
        .setIssuer(this.#issuer)
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
    if (entries.some((e) => e.state.status === 'held')) {
      // The stream may have been enabled after `s` was read and before these were saved held, its
      // release having read the held ones already: release again, or they would stay held for good.
      const current = await this.#streams.get(s.streamId, true).catch(() => undefined);
      if (current?.status === 'enabled') await this.release(current);
    }
    if (poll) this.#arrivals.emit(s.streamId);
    else if (ctx.runsJobs()) {
      for (const e of entries) if (e.state.status === 'queued') await ctx.queue.add({ ...e.revocation, attempt: 1 });
    }
  }

  /** Held SETs of a stream enabled again: queued (push) or served (poll). */
  async release(s: StreamRecord): Promise<void> {
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

  /** Resolves when a SET for `streamId` is made in this process, after `ms`, or when `signal` aborts. */
  arrival(streamId: string, ms: number, signal?: AbortSignal): Promise<void> {
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
