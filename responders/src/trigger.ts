import { SuppressionStore, suppressionMatches } from '@intentwatch/alerts';
import { ConflictError, InvalidInputError, NotFoundError, type Store, counter, createLogger, gauge, nextVersion } from '@intentwatch/core';
import { AlertReader, type AlertSnapshot } from './alert-reader.js';
import type { ResponderChannel } from './channel.js';
import { type DeliveryLog, RETRYABLE_BY_HAND, type RevocationStatus } from './delivery-log.js';
import type { Revocation } from './delivery-queue.js';
import type { Delivery } from './delivery.js';
import { buildBody } from './payload.js';
import { type Policy, REVOKE_MODES, type RevokeMode, policyMatches } from './policy.js';
import type { PolicyStore } from './policy-store.js';
import { type RevokeMember, type RevokeTarget, RevokeTargets } from './revoke-targets.js';
import { webhookId } from './signing.js';

/** A revoke request as an analyst's revoke answers it: without its body, with the status it got. */
export type RequestedRevocation = Omit<Revocation, 'payload'> & { token: string; relation: string; status: RevocationStatus };

const STATUSES_THAT_TRIGGER = new Set(['open', 'acknowledged']);
const WATERMARK = 'alerts';
const MAX_CHANGES_PER_POLL = 2000;
const MAX_LATE_PER_POLL = 20_000;
const POLICY_REFRESH_MS = 2000;
/** Where the store sees every write, the least time between two looks that no write asked for. */
export const SAFETY_POLL_FLOOR_MS = 5000;
/** Tables whose insert in this process wakes a look: what it reads for changes (and what triage changes). */
const WAKE_TABLES: ReadonlySet<string> = new Set(['alerts', 'alert_triage']);
/** Tables whose insert makes the next look re-read the policies first. */
const POLICY_TABLES: ReadonlySet<string> = new Set(['responder_policies', 'responder_policy_state']);

const policyState = gauge('intentwatch_responder_policy_state', 'Revoke policies by state: 1 for the state each policy is in', [
  'policy',
  'state',
]);
const requestedTotal = counter('intentwatch_revocations_requested_total', 'Revoke requests made, by policy and who asked', [
  'policy',
  'by',
]);

export interface TriggerOptions {
  store: Store;
  policies: PolicyStore;
  deliveryLog: DeliveryLog;
  delivery: Delivery;
  channels: ResponderChannel[];
  /**
   * How often it looks for changed alerts where other processes may write them (a ClickHouse
   * server). Inserts made through this process's store wake a look at once, whatever the store.
   */
  pollMs: number;
  /**
   * How often it looks all the same where the store sees every write (the embedded engine,
   * {@link Store.seesAllWrites}): there every change wakes a look, and this slow look only
   * catches what no insert announced (default the larger of `pollMs` and 5 s).
   */
  safetyPollMs?: number;
  /** How far behind its watermark each look re-reads, for rows committed late. */
  lagMs: number;
  /** Changed alerts read per look (default 2000). */
  pageSize?: number;
  /** How often open requests are checked against the queue. */
  recoveryMs: number;
}

/**
 * Turns alerts into revoke requests. It reads alerts whose detection changed since its watermark
 * (`alerts.version`, re-reading a short lag for late commits) at once when this process inserts
 * into `alerts` or `alert_triage`, and on a clock besides: every `pollMs` on a ClickHouse server
 * (other processes write there), every `safetyPollMs` on the embedded store (whose every write
 * this process makes, and announces) — or sooner when its recovery or a channel's tick is due.
 * One look at a time: writes during a look make one more look after it. For each
 * open alert a policy matches, resolves the lineage to revoke (the token, its session, what was
 * delegated from it) and hands one request per token to the delivery — each with its own
 * webhook-id — leaving out tokens the policy already has a request for (one revoke per token per
 * policy). Alerts an active suppression mutes, and alerts resolved or marked false positive,
 * trigger nothing. Channels get the same open, unmuted alerts. An analyst's manual revoke
 * ({@link request}) takes the same path.
 */
export class Trigger {
  readonly #log = createLogger('detectors.responders');
  readonly #o: TriggerOptions;
  readonly #reader: AlertReader;
  readonly #targets: RevokeTargets;
  readonly #suppressions: SuppressionStore;
  readonly #lagMicros: bigint;
  readonly #pageSize: number;
  readonly #seen = new Map<string, bigint>();
  #watermark: bigint | undefined;
  #timer: NodeJS.Timeout | undefined;
  #polling: Promise<number> | undefined;
  #pollAgain = false;
  #lastRefresh = 0;
  #lastRecovery = 0;
  #started = false;
  #firstLook: (() => void) | undefined;
  #closed = false;
  /** When the pending timer fires (epoch ms); undefined when none is pending. */
  #timerAt: number | undefined;
  #policiesStale = false;
  /** The last look read a whole page of changes: more may wait, whether or not a write says so. */
  #pageFull = false;
  /** The last look failed: what woke it is still to be read. */
  #failed = false;
  #unsubscribe: (() => void) | undefined;
  readonly #clockMs: number;

  constructor(options: TriggerOptions) {
    this.#o = options;
    this.#reader = new AlertReader(options.store);
    this.#targets = new RevokeTargets(options.store);
    this.#suppressions = new SuppressionStore(options.store);
    this.#lagMicros = BigInt(options.lagMs * 1000);
    this.#pageSize = options.pageSize ?? MAX_CHANGES_PER_POLL;
    this.#clockMs = options.store.seesAllWrites ? (options.safetyPollMs ?? Math.max(options.pollMs, SAFETY_POLL_FLOOR_MS)) : options.pollMs;
  }

  /**
   * Starts looking (on writes, and every `pollMs` or `safetyPollMs`); resolves after the first
   * look, whether it succeeded or not.
   */
  start(): Promise<void> {
    if (this.#started || this.#closed) return Promise.resolve();
    this.#started = true;
    this.#unsubscribe = this.#o.store.onWrite((table) => {
      if (POLICY_TABLES.has(table)) this.#policiesStale = true;
      else if (!WAKE_TABLES.has(table)) return;
      this.notify();
    });
    return new Promise((resolve) => {
      this.#firstLook = resolve;
      this.#schedule(0);
    });
  }

  /** Looks for changed alerts now rather than at the next tick (e.g. right after a detector run). */
  notify(): void {
    if (!this.#started || this.#closed) return;
    if (this.#polling) this.#pollAgain = true;
    // A burst of writes in one turn arms one timer, not one each.
    else if (this.#timerAt === undefined || this.#timerAt > Date.now()) this.#schedule(0);
  }

  /** Stops looking (and listening to the store's writes); resolves once a look under way has ended. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#firstLook?.();
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = undefined;
    await this.#polling?.catch(() => undefined);
  }

  /**
   * One look: alerts changed since the watermark → matching policies → queued requests. Returns
   * how many requests it made. Also re-reads policies and re-queues open requests now and then.
   */
  async pollOnce(now = Date.now()): Promise<number> {
    const policies = this.#o.policies;
    if (this.#policiesStale || now - this.#lastRefresh >= POLICY_REFRESH_MS) {
      // Cleared first: a policy written during the refresh makes the next look read them again.
      this.#policiesStale = false;
      await policies.refresh();
      this.#lastRefresh = now;
      policyState.reset();
      for (const p of policies.list()) policyState.set({ policy: p.id, state: policies.state(p.id).state }, 1);
    }
    if (now - this.#lastRecovery >= this.#o.recoveryMs) {
      // The first time, everything open; later, what has stayed open a while and nobody runs.
      await this.#o.delivery.recover(this.#lastRecovery === 0 ? now + 1 : now - this.#o.recoveryMs / 2);
      this.#lastRecovery = now;
    }
    const channels = this.#o.channels;
    for (const c of channels) await c.onTick?.(now);
    if (this.#watermark === undefined) this.#watermark = await this.#loadWatermark();
    const watermark = this.#watermark;
    // New changes move the watermark; a second read of the lag behind it catches rows another
    // writer committed late with an earlier version. Kept apart, so that a burst larger than one
    // page inside the lag cannot hold the watermark in place.
    const [ahead, behind] = await Promise.all([
      this.#reader.changedSince(watermark, this.#pageSize),
      watermark > 0n
        ? this.#reader.changedSince(watermark > this.#lagMicros ? watermark - this.#lagMicros : 0n, MAX_LATE_PER_POLL, watermark)
        : Promise.resolve([]),
    ]);
    this.#pageFull = ahead.length >= this.#pageSize;
    const changed = [...behind, ...ahead];
    const fresh = changed.filter((c) => (this.#seen.get(c.id) ?? -1n) < c.version);
    let made = 0;
    if (fresh.length > 0 && (channels.length > 0 || policies.list().some((p) => p.enabled))) {
      const snapshots = await this.#reader.load(fresh.map((c) => c.id));
      made = await this.#trigger([...snapshots.values()], now);
      if (channels.length > 0) await this.#toChannels([...snapshots.values()], now);
      for (const c of fresh) this.#seen.set(c.id, c.version);
    }
    const top = changed.reduce((m, c) => (c.version > m ? c.version : m), watermark);
    if (top > watermark) {
      this.#watermark = top;
      await this.#saveWatermark(top, now);
      const floor = top - this.#lagMicros;
      for (const [id, v] of this.#seen) if (v < floor) this.#seen.delete(id);
    }
    return made;
  }

  /**
   * An analyst's revoke from an alert, through `policyId`'s endpoint (its match is skipped; its
   * dry-run, rate limit, breaker and endpoint checks are not): one request per token of the
   * lineage `mode` names, leaving out tokens that already have an open or delivered request under
   * the policy. Returns the requests made, the alert's own token first. Throws NotFoundError for
   * an unknown alert or policy, ConflictError when the policy is disabled or every token already
   * has an open or delivered request under it, InvalidInputError for an unknown `mode`.
   */
  async request(alertId: string, policyId: string, actor: string, mode?: string): Promise<RequestedRevocation[]> {
    const snapshot = (await this.#reader.load([alertId])).get(alertId);
    if (!snapshot) throw new NotFoundError(`no alert with id ${alertId}`);
    const policy = this.#o.policies.get(policyId);
    if (!policy) throw new NotFoundError(`no policy with id ${policyId}`);
    if (!policy.enabled) throw new ConflictError('policy_disabled', `policy ${policyId} is disabled`);
    if (policy.target === 'notify') {
      throw new ConflictError('not_a_revoke_policy', `policy ${policyId} notifies a chat channel and revokes nothing`);
    }
    if (mode !== undefined && !REVOKE_MODES.includes(mode as RevokeMode)) {
      throw new InvalidInputError('invalid_parameter', `mode must be one of ${REVOKE_MODES.join(', ')} (got "${mode}")`);
    }
    const chosen = (mode as RevokeMode | undefined) ?? policy.revoke;
    const [target] = await this.#targets.resolve([
      { tokenId: snapshot.alert.tokenId, rootTokenId: snapshot.alert.rootTokenId, mode: chosen },
    ]);
    const t = target as RevokeTarget;
    if (t.members.length === 0) throw new ConflictError('nothing_to_revoke', `alert ${alertId} names no token to revoke`);
    const earlier = await this.#o.deliveryLog.byToken(policy.id, t.tokens, [t.dedupKey]);
    const now = Date.now();
    const made: Revocation[] = [];
    const standing: string[] = [];
    for (const m of t.members) {
      const before = earlier.get(m.tokenId) ?? [];
      const stands = before.find((e) => !RETRYABLE_BY_HAND.includes(e.status));
      if (stands) {
        standing.push(`${tokenKey(m.tokenId)} ${stands.webhookId} (${stands.status})`);
        continue;
      }
      // A request by hand after one that failed for good is a new request: the next generation of its id.
      const generation = before.filter((e) => e.dedupKey === tokenKey(m.tokenId)).length;
      made.push(revocation(policy, snapshot, t, m, generation, `analyst:${actor}`, now));
    }
    if (made.length === 0) {
      const shown = standing.slice(0, 5).join('; ') + (standing.length > 5 ? `; and ${standing.length - 5} more` : '');
      throw new ConflictError(
        'already_requested',
        `every token of ${t.dedupKey} already has a revoke request under policy ${policy.id}: ${shown}`,
      );
    }
    const status = await this.#o.delivery.enqueue(made);
    requestedTotal.inc({ policy: policy.id, by: 'analyst' }, made.length);
    return made.map(({ payload: _payload, ...shown }) => ({
      ...shown,
      token: shown.token ?? '',
      relation: shown.relation ?? '',
      status: status.get(shown.webhookId) ?? 'queued',
    }));
  }

  #schedule(delayMs: number): void {
    if (this.#closed) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timerAt = Date.now() + delayMs;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = undefined;
      this.#polling = this.pollOnce()
        .then((made) => {
          this.#failed = false;
          return made;
        })
        .catch((e: unknown) => {
          this.#failed = true;
          this.#log.error({ err: e instanceof Error ? e.message : String(e) }, 'looking for alerts failed; trying again');
          return 0;
        })
        .finally(() => {
          this.#polling = undefined;
          this.#firstLook?.();
          this.#firstLook = undefined;
          const again = this.#pollAgain;
          this.#pollAgain = false;
          this.#schedule(again ? 0 : this.#nextLookMs(Date.now()));
        });
    }, delayMs);
    this.#timer.unref?.();
  }

  /**
   * How long until the next look that no write asks for: `pollMs` on a server, and after a look
   * that read a whole page or failed; otherwise on the embedded store the safety poll, or sooner when the
   * recovery of open requests or a channel's tick is due (their clocks run inside the looks).
   */
  #nextLookMs(now: number): number {
    // A burst larger than a page is read a page every `pollMs`, on any store; a failed look is tried again as soon.
    if (this.#pageFull || this.#failed) return this.#o.pollMs;
    return nextLookMs({
      clockMs: this.#clockMs,
      floorMs: this.#o.pollMs,
      seesAllWrites: this.#o.store.seesAllWrites,
      recoveryDueInMs: this.#lastRecovery + this.#o.recoveryMs - now,
      channelTickMs: this.#o.channels.map((c) => c.tickEveryMs),
    });
  }

  async #loadWatermark(): Promise<bigint> {
    const rows = await this.#o.store.query<{ w: string }>(
      'SELECT argMax(watermark, version) AS w FROM responder_state WHERE name = {name:String} GROUP BY name',
      { name: WATERMARK },
    );
    if (rows[0]) return BigInt(rows[0].w);
    // First start: act on what happens from now on, not on every alert already in the store.
    const top = await this.#reader.maxVersion();
    await this.#saveWatermark(top, Date.now());
    return top;
  }

  async #saveWatermark(watermark: bigint, now: number): Promise<void> {
    await this.#o.store.insert('responder_state', [
      { name: WATERMARK, watermark: watermark.toString(), updated_at: new Date(now).toISOString(), version: nextVersion() },
    ]);
  }

  async #trigger(snapshots: AlertSnapshot[], now: number): Promise<number> {
    // Notify policies are the chat notifier's (a channel); these are the revoke ones.
    const policies = this.#o.policies.list().filter((p) => p.enabled && p.target !== 'notify');
    if (policies.length === 0) return 0;
    let candidates: { policy: Policy; snapshot: AlertSnapshot }[] = [];
    for (const snapshot of snapshots) {
      if (!STATUSES_THAT_TRIGGER.has(snapshot.alert.status)) continue;
      for (const policy of policies) if (policyMatches(policy, snapshot.alert)) candidates.push({ policy, snapshot });
    }
    if (candidates.length === 0) return 0;
    // A muted detection is still recorded, but nothing acts on it.
    const muted = await this.#suppressions.active(now);
    if (muted.length > 0) {
      candidates = candidates.filter((c) => !muted.some((m) => suppressionMatches(m, c.snapshot.alert)));
      if (candidates.length === 0) return 0;
    }
    const targets = await this.#targets.resolve(
      candidates.map((c) => ({ tokenId: c.snapshot.alert.tokenId, rootTokenId: c.snapshot.alert.rootTokenId, mode: c.policy.revoke })),
    );
    const byPolicy = new Map<string, { policy: Policy; items: { snapshot: AlertSnapshot; target: RevokeTarget }[] }>();
    candidates.forEach((c, i) => {
      const g = byPolicy.get(c.policy.id) ?? { policy: c.policy, items: [] };
      g.items.push({ snapshot: c.snapshot, target: targets[i] as RevokeTarget });
      byPolicy.set(c.policy.id, g);
    });
    const revocations: Revocation[] = [];
    for (const { policy, items } of byPolicy.values()) {
      const earlier = await this.#o.deliveryLog.byToken(
        policy.id,
        items.flatMap((i) => i.target.tokens),
        items.map((i) => i.target.dedupKey),
      );
      const taken = new Set(earlier.keys());
      for (const { snapshot, target } of items) {
        for (const member of target.members) {
          if (taken.has(member.tokenId)) continue;
          taken.add(member.tokenId);
          revocations.push(revocation(policy, snapshot, target, member, 0, 'policy', now));
          requestedTotal.inc({ policy: policy.id, by: 'policy' });
        }
      }
    }
    await this.#o.delivery.enqueue(revocations);
    return revocations.length;
  }

  /** Hands open, unmuted alerts to the channels. */
  async #toChannels(snapshots: AlertSnapshot[], now: number): Promise<void> {
    let open = snapshots.filter((s) => STATUSES_THAT_TRIGGER.has(s.alert.status));
    const muted = open.length > 0 ? await this.#suppressions.active(now) : [];
    if (muted.length > 0) open = open.filter((s) => !muted.some((m) => suppressionMatches(m, s.alert)));
    if (open.length === 0) return;
    for (const c of this.#o.channels) await c.onAlerts(open, now);
  }
}

/**
 * The wait before a look that no write asks for. Where other processes write (`seesAllWrites`
 * false) it is the poll interval (`clockMs`), as it always was; where every write is this
 * process's, the safety poll (`clockMs`), cut short for the recovery of open requests and for the
 * channel that asks to be ticked most often — but never below `floorMs` (the poll interval), so
 * that a recovery that keeps failing is not tried in a loop.
 */
export function nextLookMs(o: {
  clockMs: number;
  floorMs: number;
  seesAllWrites: boolean;
  recoveryDueInMs: number;
  channelTickMs: readonly (number | undefined)[];
}): number {
  if (!o.seesAllWrites) return o.clockMs;
  let wait = Math.min(o.clockMs, o.recoveryDueInMs);
  for (const t of o.channelTickMs) if (t !== undefined) wait = Math.min(wait, t);
  return Math.min(o.clockMs, Math.max(o.floorMs, wait));
}

/** The request that revokes one token of a target: its webhook-id follows from the policy, the token and the generation. */
function revocation(
  policy: Policy,
  snapshot: AlertSnapshot,
  target: RevokeTarget,
  member: RevokeMember,
  generation: number,
  requestedBy: string,
  now: number,
): Revocation {
  const dedupKey = tokenKey(member.tokenId);
  const id = webhookId(policy.id, dedupKey, generation);
  return {
    webhookId: id,
    policyId: policy.id,
    dedupKey,
    alertId: snapshot.alert.id,
    mode: target.mode,
    tokenId: target.tokenId,
    sessionRoot: target.sessionRoot,
    tokens: [member.tokenId],
    token: member.tokenId,
    relation: member.relation,
    chain: target.chain,
    dryRun: policy.dryRun,
    requestedBy,
    payload: buildBody({
      format: policy.body,
      webhookId: id,
      alert: snapshot.alert,
      target,
      member,
      policyId: policy.id,
      requestedBy,
      requestedAt: now,
    }),
    createdAt: new Date(now).toISOString(),
  };
}

/** The dedup key of the requests that revoke `tokenId`: one revoke per token per policy. */
function tokenKey(tokenId: string): string {
  return `token:${tokenId}`;
}
