import { type Config, ConfigError, HttpError, type Store, counter, createLogger, gauge, histogram, nextVersion } from '@intentwatch/core';
import { type AlertSource, AlertStore, type Finding, SuppressionStore, suppressionMatches } from '@intentwatch/alerts';
import { AlertReader, type AlertSnapshot } from './alert-reader.js';
import { nextDelay, parseRetryAfter } from './backoff.js';
import { BullmqDeliveryQueue } from './bullmq-delivery-queue.js';
import type { ResponderChannel } from './channel.js';
import {
  type AttemptRecord,
  DeliveryLog,
  RETRYABLE_BY_HAND,
  type RevocationState,
  type RevocationStatus,
  type RevocationView,
} from './delivery-log.js';
import { type DeliveryJob, type DeliveryQueue, InProcessQueue, type JobOutcome, type Revocation } from './delivery-queue.js';
import { EndpointGuard, EndpointRefusedError } from './endpoint-guard.js';
import { buildBody } from './payload.js';
import {
  type Policy,
  REVOKE_MODES,
  type RetrySettings,
  type RevokeMode,
  policyMatches,
  publicPolicy,
  redactUrl,
  resolveSecrets,
  resolveUrl,
} from './policy.js';
import { type PolicyState, PolicyStore } from './policy-store.js';
import { MemoryRateLimiter, type RateLimiter, RedisRateLimiter } from './rate-limiter.js';
import { type RevokeMember, type RevokeTarget, RevokeTargets } from './revoke-targets.js';
import { SecretBox } from './secret-box.js';
import { signedHeaders, webhookId } from './signing.js';
import { postWebhook } from './webhook-client.js';

export interface ResponderOptions {
  store: Store;
  config: Pick<Config, 'redisUrl' | 'responders'>;
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

/** The alert a tripped circuit breaker raises. */
export const BREAKER_SOURCE: AlertSource = {
  id: 'responder_rate_limit',
  title: 'Revoke policy paused by its rate limit',
  frameworks: [],
};

/** A revoke request as an analyst's revoke answers it: without its body, with the status it got. */
export type RequestedRevocation = Omit<Revocation, 'payload'> & { token: string; relation: string; status: RevocationStatus };

/** A policy as the API shows it: no secret values, its state, and its requests by status. */
export interface PolicyView extends Policy {
  state: PolicyState;
  requests: Partial<Record<RevocationStatus, number>>;
}

const STATUSES_THAT_TRIGGER = new Set(['open', 'acknowledged']);
const WATERMARK = 'alerts';
const MAX_CHANGES_PER_POLL = 2000;
const MAX_LATE_PER_POLL = 20_000;
const POLICY_REFRESH_MS = 2000;

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
const policyState = gauge('intentwatch_responder_policy_state', 'Revoke policies by state: 1 for the state each policy is in', [
  'policy',
  'state',
]);
const requestedTotal = counter('intentwatch_revocations_requested_total', 'Revoke requests made, by policy and who asked', [
  'policy',
  'by',
]);

/**
 * Turns alerts into signed revoke requests, safely.
 *
 * - Trigger: every `pollMs` it reads alerts whose detection changed since its watermark
 *   (`alerts.version`, re-reading a short lag for late commits), and for each open alert a policy
 *   matches, resolves the lineage to revoke (the token, its session, what was delegated from it)
 *   and queues one request per token — each with its own webhook-id, retries and audit row —
 *   leaving out tokens the policy already has a request for (one revoke per token per policy).
 * - Delivery: through the queue (BullMQ or in-process), signed per Standard Webhooks with the
 *   same `webhook-id` on every attempt; backoff with jitter, `Retry-After` honoured, 410 disables
 *   the policy, dead letter after the last attempt; every attempt recorded.
 *   Alerts an active suppression mutes, and alerts resolved or marked false positive, trigger nothing.
 * - Safety: a per-policy sliding-window limit; past it the policy pauses, an alert says why, and
 *   requests are held until an admin resumes it. Endpoints are checked by EndpointGuard when a
 *   policy is saved and at every connection. Dry-run policies record the body and send nothing.
 *
 * An analyst's manual revoke ({@link request}) takes the same path.
 */
export class Responder {
  readonly policies: PolicyStore;
  readonly deliveryLog: DeliveryLog;
  readonly guard: EndpointGuard;
  readonly #log = createLogger('detectors.responders');
  readonly #store: Store;
  readonly #config: Config['responders'];
  readonly #env: NodeJS.ProcessEnv;
  readonly #box: SecretBox | undefined;
  readonly #queue: DeliveryQueue;
  readonly #limiter: RateLimiter;
  readonly #reader: AlertReader;
  readonly #targets: RevokeTargets;
  readonly #alerts: AlertStore;
  readonly #suppressions: SuppressionStore;
  readonly #retry: RetrySettings;
  readonly #rateWindowMs: number;
  readonly #lagMicros: bigint;
  readonly #pageSize: number;
  readonly #recoveryMs: number;
  readonly #channels: ResponderChannel[];
  readonly #seen = new Map<string, bigint>();
  readonly #tripping = new Set<string>();
  #watermark: bigint | undefined;
  #timer: NodeJS.Timeout | undefined;
  #polling: Promise<number> | undefined;
  #pollAgain = false;
  #lastRefresh = 0;
  #lastRecovery = 0;
  #started = false;
  #firstLook: (() => void) | undefined;
  #closed = false;
  #pendingSaves: { revocation: Revocation; state: Omit<RevocationState, 'updatedAt'>; done: (e?: unknown) => void }[] = [];
  #saveTimer: NodeJS.Timeout | undefined;

  private constructor(options: ResponderOptions, policies: PolicyStore, guard: EndpointGuard, box: SecretBox | undefined) {
    this.#store = options.store;
    this.#config = options.config.responders;
    this.#env = options.env ?? process.env;
    this.#box = box;
    this.policies = policies;
    this.guard = guard;
    this.deliveryLog = new DeliveryLog(options.store);
    this.#reader = new AlertReader(options.store);
    this.#targets = new RevokeTargets(options.store);
    this.#alerts = options.alerts ?? new AlertStore(options.store);
    this.#suppressions = new SuppressionStore(options.store);
    this.#retry = { maxAttempts: this.#config.maxAttempts, baseDelayMs: 500, maxDelayMs: 300_000, ...options.retry };
    this.#rateWindowMs = options.rateWindowMs ?? 60_000;
    this.#lagMicros = BigInt((options.lagMs ?? 5000) * 1000);
    this.#pageSize = options.pageSize ?? MAX_CHANGES_PER_POLL;
    this.#recoveryMs = options.recoveryMs ?? 10_000;
    if (options.queue) {
      this.#queue = options.queue;
      this.#limiter = options.rateLimiter ?? new MemoryRateLimiter();
    } else if (options.config.redisUrl) {
      const q = new BullmqDeliveryQueue({
        redisUrl: options.config.redisUrl,
        ...(options.redisPrefix ? { prefix: options.redisPrefix } : {}),
        ...(options.concurrency ? { concurrency: options.concurrency } : {}),
      });
      this.#queue = q;
      this.#limiter = options.rateLimiter ?? new RedisRateLimiter(q.redis, q.prefix);
    } else {
      this.#queue = new InProcessQueue(options.concurrency ? { concurrency: options.concurrency } : {});
      this.#limiter = options.rateLimiter ?? new MemoryRateLimiter();
    }
    this.#channels = options.channels ?? [];
    const context = {
      queue: this.#queue,
      deliveryLog: this.deliveryLog,
      limiter: this.#limiter,
      guard,
      alerts: this.#alerts,
      policies,
      resolveUrl: (p: Policy) => resolveUrl(p, this.#env, box),
      runsJobs: () => this.#started || !(this.#queue instanceof InProcessQueue),
    };
    for (const c of this.#channels) c.attach(context);
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
   * Starts delivering (this process becomes a worker) and looking for alerts every `pollMs`.
   * Resolves after the first look (watermark set, open requests re-queued), whether it succeeded or not.
   */
  start(): Promise<void> {
    if (this.#started || this.#closed) return Promise.resolve();
    this.#started = true;
    this.#queue.start((job) => this.#deliver(job));
    return new Promise((resolve) => {
      this.#firstLook = resolve;
      this.#schedule(0);
    });
  }

  /** Looks for changed alerts now rather than at the next tick (e.g. right after a detector run). */
  notify(): void {
    if (!this.#started || this.#closed) return;
    if (this.#polling) this.#pollAgain = true;
    else this.#schedule(0);
  }

  /**
   * One look: alerts changed since the watermark → matching policies → queued requests. Returns
   * how many requests it made. Also re-reads policies and re-queues open requests now and then.
   */
  async pollOnce(now = Date.now()): Promise<number> {
    if (now - this.#lastRefresh >= POLICY_REFRESH_MS) {
      await this.policies.refresh();
      this.#lastRefresh = now;
      policyState.reset();
      for (const p of this.policies.list()) policyState.set({ policy: p.id, state: this.policies.state(p.id).state }, 1);
    }
    if (now - this.#lastRecovery >= this.#recoveryMs) {
      // The first time, everything open; later, what has stayed open a while and nobody runs.
      await this.#recover(this.#lastRecovery === 0 ? now + 1 : now - this.#recoveryMs / 2);
      this.#lastRecovery = now;
    }
    for (const c of this.#channels) await c.onTick?.(now);
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
    const changed = [...behind, ...ahead];
    const fresh = changed.filter((c) => (this.#seen.get(c.id) ?? -1n) < c.version);
    let made = 0;
    if (fresh.length > 0 && (this.#channels.length > 0 || this.policies.list().some((p) => p.enabled))) {
      const snapshots = await this.#reader.load(fresh.map((c) => c.id));
      made = await this.#trigger([...snapshots.values()], now);
      if (this.#channels.length > 0) await this.#toChannels([...snapshots.values()], now);
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
   * the policy. Returns the requests made, the alert's own token first. Throws HttpError 404 for
   * an unknown alert or policy, 409 when the policy is disabled or every token already has an
   * open or delivered request under it.
   */
  async request(alertId: string, policyId: string, actor: string, mode?: string): Promise<RequestedRevocation[]> {
    const snapshot = (await this.#reader.load([alertId])).get(alertId);
    if (!snapshot) throw new HttpError(404, 'not_found', `no alert with id ${alertId}`);
    const policy = this.policies.get(policyId);
    if (!policy) throw new HttpError(404, 'not_found', `no policy with id ${policyId}`);
    if (!policy.enabled) throw new HttpError(409, 'policy_disabled', `policy ${policyId} is disabled`);
    if (policy.target === 'notify') {
      throw new HttpError(409, 'not_a_revoke_policy', `policy ${policyId} notifies a chat channel and revokes nothing`);
    }
    if (mode !== undefined && !REVOKE_MODES.includes(mode as RevokeMode)) {
      throw new HttpError(400, 'invalid_parameter', `mode must be one of ${REVOKE_MODES.join(', ')} (got "${mode}")`);
    }
    const chosen = (mode as RevokeMode | undefined) ?? policy.revoke;
    const [target] = await this.#targets.resolve([
      { tokenId: snapshot.alert.tokenId, rootTokenId: snapshot.alert.rootTokenId, mode: chosen },
    ]);
    const t = target as RevokeTarget;
    if (t.members.length === 0) throw new HttpError(409, 'nothing_to_revoke', `alert ${alertId} names no token to revoke`);
    const earlier = await this.deliveryLog.byToken(policy.id, t.tokens, [t.dedupKey]);
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
      made.push(this.#revocation(policy, snapshot, t, m, generation, `analyst:${actor}`, now));
    }
    if (made.length === 0) {
      const shown = standing.slice(0, 5).join('; ') + (standing.length > 5 ? `; and ${standing.length - 5} more` : '');
      throw new HttpError(
        409,
        'already_requested',
        `every token of ${t.dedupKey} already has a revoke request under policy ${policy.id}: ${shown}`,
      );
    }
    const status = await this.#enqueue(made);
    requestedTotal.inc({ policy: policy.id, by: 'analyst' }, made.length);
    return made.map(({ payload: _payload, ...shown }) => ({
      ...shown,
      token: shown.token ?? '',
      relation: shown.relation ?? '',
      status: status.get(shown.webhookId) ?? 'queued',
    }));
  }

  /** Policies as the API shows them. */
  async policyViews(): Promise<PolicyView[]> {
    const counts = await this.deliveryLog.counts();
    return this.policies.list().map((p) => this.#view(p, counts));
  }

  async policyView(id: string): Promise<PolicyView> {
    const p = this.policies.get(id);
    if (!p) throw new HttpError(404, 'not_found', `no policy with id ${id}`);
    return this.#view(p, await this.deliveryLog.counts());
  }

  /** Creates or replaces an API policy after checking its endpoint (DNS included). */
  async putPolicy(input: unknown, actor: string): Promise<PolicyView> {
    const url = (input as { endpoint?: { url?: unknown } } | null)?.endpoint?.url;
    const notify = (input as { target?: unknown } | null)?.target === 'notify';
    // env:NAME and redacted notify URLs are checked where they resolve: at start and at every connection.
    if (typeof url === 'string' && /^https?:\/\//i.test(url) && !(notify && url.includes('/…'))) {
      try {
        await this.guard.check(url);
      } catch (e) {
        if (e instanceof EndpointRefusedError) {
          throw new HttpError(400, 'endpoint_refused', notify ? e.message.split(url).join(redactUrl(url)) : e.message);
        }
        throw e;
      }
    }
    const policy = await this.policies.put(input, actor);
    return this.policyView(policy.id);
  }

  async deletePolicy(id: string, actor: string): Promise<void> {
    await this.policies.delete(id, actor);
  }

  /**
   * Sets a paused or disabled policy active again. Held requests are queued again when
   * `release` is true (the rate limit still applies to them), discarded otherwise.
   */
  async resume(id: string, actor: string, release: boolean): Promise<{ policy: PolicyView; released: number; discarded: number }> {
    if (!this.policies.get(id)) throw new HttpError(404, 'not_found', `no policy with id ${id}`);
    await this.policies.setState(id, 'active', '', actor);
    const held = await this.deliveryLog.withStatus(id, 'held');
    if (release) {
      await this.deliveryLog.save(held.map((h) => ({ revocation: h, state: { status: 'queued', attempts: h.attempts, lastError: '' } })));
      if (this.#started || !(this.#queue instanceof InProcessQueue)) {
        // Their jobs ended when they were held: opened again now, they run again.
        const openedAt = Date.now();
        for (const h of held) await this.#queue.add({ ...stripState(h), attempt: h.attempts + 1 }, 0, openedAt);
      }
    } else {
      await this.deliveryLog.save(
        held.map((h) => ({ revocation: h, state: { status: 'discarded', attempts: h.attempts, lastError: `discarded by ${actor}` } })),
      );
    }
    return { policy: await this.policyView(id), released: release ? held.length : 0, discarded: release ? 0 : held.length };
  }

  /** The revoke requests of an alert, each with its attempts. */
  deliveries(alertId: string): Promise<RevocationView[]> {
    return this.deliveryLog.forAlert(alertId);
  }

  /** Stops polling and delivering; with BullMQ, queued and delayed jobs stay in Redis for the next worker. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#firstLook?.();
    if (this.#timer) clearTimeout(this.#timer);
    await this.#polling?.catch(() => undefined);
    await this.#queue.close();
    await this.#flushSaves();
  }

  #schedule(delayMs: number): void {
    if (this.#closed) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#polling = this.pollOnce()
        .catch((e: unknown) => {
          this.#log.error({ err: e instanceof Error ? e.message : String(e) }, 'looking for alerts failed; trying again');
          return 0;
        })
        .finally(() => {
          this.#polling = undefined;
          this.#firstLook?.();
          this.#firstLook = undefined;
          const again = this.#pollAgain;
          this.#pollAgain = false;
          this.#schedule(again ? 0 : this.#config.pollMs);
        });
    }, delayMs);
    this.#timer.unref?.();
  }

  async #loadWatermark(): Promise<bigint> {
    const rows = await this.#store.query<{ w: string }>(
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
    await this.#store.insert('responder_state', [
      { name: WATERMARK, watermark: watermark.toString(), updated_at: new Date(now).toISOString(), version: nextVersion() },
    ]);
  }

  async #trigger(snapshots: AlertSnapshot[], now: number): Promise<number> {
    // Notify policies are the chat notifier's (a channel); these are the revoke ones.
    const policies = this.policies.list().filter((p) => p.enabled && p.target !== 'notify');
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
      const earlier = await this.deliveryLog.byToken(
        policy.id,
        items.flatMap((i) => i.target.tokens),
        items.map((i) => i.target.dedupKey),
      );
      const taken = new Set(earlier.keys());
      for (const { snapshot, target } of items) {
        for (const member of target.members) {
          if (taken.has(member.tokenId)) continue;
          taken.add(member.tokenId);
          revocations.push(this.#revocation(policy, snapshot, target, member, 0, 'policy', now));
          requestedTotal.inc({ policy: policy.id, by: 'policy' });
        }
      }
    }
    await this.#enqueue(revocations);
    return revocations.length;
  }

  /** Hands open, unmuted alerts to the channels. */
  async #toChannels(snapshots: AlertSnapshot[], now: number): Promise<void> {
    let open = snapshots.filter((s) => STATUSES_THAT_TRIGGER.has(s.alert.status));
    const muted = open.length > 0 ? await this.#suppressions.active(now) : [];
    if (muted.length > 0) open = open.filter((s) => !muted.some((m) => suppressionMatches(m, s.alert)));
    if (open.length === 0) return;
    for (const c of this.#channels) await c.onAlerts(open, now);
  }

  /** The request that revokes one token of a target: its webhook-id follows from the policy, the token and the generation. */
  #revocation(
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

  /** Records new requests and queues those whose policy is active; returns each one's status. */
  async #enqueue(revocations: Revocation[]): Promise<Map<string, RevocationStatus>> {
    const status = new Map<string, RevocationStatus>();
    if (revocations.length === 0) return status;
    const entries = revocations.map((r) => {
      const s = this.policies.state(r.policyId);
      const st: RevocationStatus = s.state === 'paused' ? 'held' : s.state === 'disabled' ? 'disabled' : 'queued';
      status.set(r.webhookId, st);
      return { revocation: r, state: { status: st, attempts: 0, lastError: s.reason } };
    });
    await this.deliveryLog.save(entries);
    for (const c of this.#channels)
      await c.onRevocations(
        entries.map((e) => ({ revocation: e.revocation, status: e.state.status })),
        Date.now(),
      );
    // An in-process queue runs only where the responder was started; elsewhere (an API-only
    // process) the stored request is picked up by the started responder's recovery.
    if (this.#started || !(this.#queue instanceof InProcessQueue)) {
      for (const r of revocations) if (status.get(r.webhookId) === 'queued') await this.#queue.add({ ...r, attempt: 1 });
    }
    return status;
  }

  /**
   * Queues again the open requests changed before `before` that no queue runs, each under its
   * webhook-id and not before the next-attempt time its last attempt recorded (a restart must not
   * cut a receiver's Retry-After or the backoff short).
   */
  async #recover(before: number): Promise<void> {
    const open = (await this.deliveryLog.open(new Date(before).toISOString())).filter((r) => !this.#queue.holds(r.webhookId));
    if (open.length === 0) return;
    const due = await this.deliveryLog.nextAttempts(open.map((r) => r.webhookId));
    let queued = 0;
    for (const r of open) {
      const delay = Math.max(0, (due.get(r.webhookId) ?? 0) - Date.now());
      if (await this.#queue.add({ ...stripState(r), attempt: r.attempts + 1 }, delay, Date.parse(r.updatedAt))) queued++;
    }
    if (queued > 0) this.#log.info({ count: queued }, 're-queued open revoke requests');
  }

  /** One attempt of one request (the queue's handler). */
  async #deliver(job: DeliveryJob): Promise<JobOutcome> {
    const channel = this.#channels.find((c) => c.owns(job));
    if (channel) return channel.deliver(job);
    const policy = this.policies.get(job.policyId);
    const finish = async (status: RevocationStatus, lastError: string, attempts = job.attempt - 1): Promise<undefined> => {
      deliveriesTotal.inc({ policy: job.policyId, outcome: status });
      await this.#saveSoon(job, { status, attempts, lastError });
      return undefined;
    };
    if (!policy) return finish('discarded', `policy ${job.policyId} no longer exists`);
    const state = this.policies.state(policy.id);
    if (!policy.enabled) return finish('disabled', `policy ${policy.id} is disabled`);
    if (state.state === 'disabled') return finish('disabled', state.reason);
    if (state.state === 'paused') return finish('held', state.reason);
    if (!(await this.#limiter.acquire(policy.id, job.webhookId, policy.maxPerMinute, this.#rateWindowMs))) {
      const reason = await this.#trip(policy);
      return finish('held', reason);
    }
    const endpoint = describe(policy.endpoint.url);
    const attempt = (a: Omit<AttemptRecord, 'webhookId' | 'alertId' | 'policyId' | 'dryRun' | 'endpoint' | 'attempt'>) =>
      this.deliveryLog.recordAttempt({
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
      url = this.guard.checkUrl(policy.endpoint.url);
    } catch (e) {
      await attempt({ status: 'refused', httpStatus: 0, latencyMs: 0, error: (e as Error).message, nextAttemptAt: null });
      return finish('refused', (e as Error).message, job.attempt);
    }
    let result: { status: number; latencyMs: number; error: string; retryAfter?: string; refused: boolean };
    try {
      const headers = signedHeaders(job.webhookId, job.payload, resolveSecrets(policy, this.#env, this.#box));
      result = await postWebhook(url, headers, job.payload, {
        timeoutMs: policy.endpoint.timeoutMs ?? this.#config.timeoutMs,
        guard: this.guard,
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
      await this.policies.setState(policy.id, 'disabled', reason, 'responder');
      this.#log.warn({ policy: policy.id, endpoint }, 'endpoint gone (410): policy disabled');
      return finish('disabled', result.error, job.attempt);
    }
    const retry = { ...this.#retry, ...policy.retry };
    if (job.attempt >= retry.maxAttempts) {
      await attempt({ ...base, status: 'dead', nextAttemptAt: null });
      await this.deliveryLog.deadLetter(job, job.attempt, result.status, result.error);
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
    const current = this.policies.state(policy.id);
    if (current.state === 'paused' || this.#tripping.has(policy.id)) return current.reason || 'rate limit reached';
    this.#tripping.add(policy.id);
    try {
      const now = Date.now();
      const reason = `more than ${policy.maxPerMinute} revocations requested within a minute (the policy's limit): deliveries are held until an admin resumes the policy (POST /v1/responders/policies/${policy.id}/resume)`;
      await this.policies.setState(policy.id, 'paused', reason, 'responder', now);
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
      await this.#alerts.record(BREAKER_SOURCE, [finding], now);
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
      await this.deliveryLog.save(batch);
      for (const b of batch) b.done();
    } catch (e) {
      for (const b of batch) b.done(e);
    }
  }

  #view(p: Policy, counts: { policyId: string; status: RevocationStatus; count: number }[]): PolicyView {
    const requests: Partial<Record<RevocationStatus, number>> = {};
    for (const c of counts) if (c.policyId === p.id) requests[c.status] = c.count;
    return { ...publicPolicy(p), state: this.policies.state(p.id), requests };
  }
}

/** The dedup key of the requests that revoke `tokenId`: one revoke per token per policy. */
function tokenKey(tokenId: string): string {
  return `token:${tokenId}`;
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
