import { randomBytes } from 'node:crypto';
import { type Store, counter, createLogger, nextVersion } from '@intentwatch/core';
import { type Severity, severityRank } from '@intentwatch/alerts';
import type { AlertSnapshot } from './alert-reader.js';
import { nextDelay, parseRetryAfter } from './backoff.js';
import type { ChannelContext, ResponderChannel } from './channel.js';
import type { RevocationStatus } from './delivery-log.js';
import type { DeliveryJob, JobOutcome, Revocation } from './delivery-queue.js';
import type { WebhookAlert } from './payload.js';
import { ENV_NOTIFY_POLICY_ID, policyMatches, redactUrl } from './policy.js';
import { postWebhook } from './webhook-client.js';
import type { ResponderSettings } from './settings.js';

export interface ChatNotifierOptions {
  store: Store;
  config: Pick<ResponderSettings, 'responders'>;
}

/** The audit-trail policy id of the notify policy `INTENTWATCH_NOTIFY_WEBHOOK` makes. */
export const NOTIFY_POLICY_ID = ENV_NOTIFY_POLICY_ID;
/** Most alerts one message lists; the rest are counted with a link to the queue. */
const MAX_ALERTS_PER_MESSAGE = 10;
/** Alerts waiting for the next message of one policy; past this a burst is counted, not listed. */
const MAX_PENDING = 1000;
/** Alerts (with the severity told) remembered per process, so that an alert's updates are not claimed again. */
const MAX_TOLD = 50_000;
/** Batching window of a notify policy that sets none. */
const DEFAULT_BATCH_MS = 2000;
/**
 * Claims are rows of `responder_state` (ReplacingMergeTree by version): written with
 * `CLAIM_TOP - version`, so that the earliest claim of an alert is the one every reader (and
 * every merge) keeps.
 */
const CLAIM_TOP = 1n << 62n;

const messagesTotal = counter('intentwatch_chat_notifications_total', 'Chat messages sent about alerts, by outcome', ['outcome']);

interface Pending {
  alert: WebhookAlert;
  intent: string;
  granted: string;
}

interface Batch {
  pending: Pending[];
  overflow: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Tells people about alerts in a chat channel: every enabled policy of target `notify` posts to
 * its Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat and Teams workflows take
 * the same `{text, blocks}`) about the alerts it matches (detector, severity, environment,
 * agent, as revoke policies match). `INTENTWATCH_NOTIFY_WEBHOOK` is a shorthand for one such
 * policy (`notify:chat`). Each message says, per alert, the title and severity, the reason, the
 * intent the token was issued for against what it was used for, and a link to the alert page.
 *
 * A burst is one message: alerts a policy matches within its `batchMs` of the first are batched
 * (at most 10 listed, the rest counted), and at most `maxPerMinute` messages a policy go out a
 * minute — a message past the limit waits for the window (it is not dropped). An alert is told
 * once per policy and severity it reaches, across every worker: before a message is queued its
 * alerts are claimed in the store (`responder_state`, one key per policy, alert and severity;
 * the earliest claim wins), so two workers that saw the same alerts send one message.
 * Suppressed, resolved and false-positive alerts are not told. A channel of the responder:
 * messages are requests in its audit trail (under the policy's id, shown on the first alert
 * they name), delivered through its queue with its retries, `Retry-After` and endpoint guard;
 * the URL, whose path is a secret, is recorded only as its origin and a fingerprint.
 */
export class ChatNotifier implements ResponderChannel {
  readonly #log = createLogger('detectors.responders.chat');
  readonly #store: Store;
  readonly #publicUrl: string;
  readonly #timeoutMs: number;
  readonly #maxAttempts: number;
  readonly #told = new Map<string, number>();
  readonly #batches = new Map<string, Batch>();
  #ctx: ChannelContext | undefined;

  constructor(options: ChatNotifierOptions) {
    this.#store = options.store;
    this.#publicUrl = options.config.responders.publicUrl;
    this.#timeoutMs = options.config.responders.timeoutMs;
    this.#maxAttempts = options.config.responders.maxAttempts;
  }

  /** The notifier of the responder's notify policies (those of the file, the API and `INTENTWATCH_NOTIFY_WEBHOOK`). */
  static create(options: ChatNotifierOptions): ChatNotifier {
    return new ChatNotifier(options);
  }

  attach(context: ChannelContext): void {
    this.#ctx = context;
  }

  owns(job: DeliveryJob): boolean {
    return this.#ctx?.policies.get(job.policyId)?.target === 'notify';
  }

  async onRevocations(): Promise<void> {}

  async onAlerts(snapshots: AlertSnapshot[]): Promise<void> {
    const policies = this.#context()
      .policies.list()
      .filter((p) => p.enabled && p.target === 'notify');
    for (const policy of policies) {
      const fresh = snapshots
        .map((s) => s.alert)
        .filter((a) => policyMatches(policy, a) && (this.#told.get(`${policy.id}\n${a.id}`) ?? -1) < severityRank(a.severity));
      if (fresh.length === 0) continue;
      for (const a of fresh) {
        const key = `${policy.id}\n${a.id}`;
        this.#told.delete(key);
        this.#told.set(key, severityRank(a.severity));
      }
      while (this.#told.size > MAX_TOLD) this.#told.delete(this.#told.keys().next().value as string);
      const batch = this.#batches.get(policy.id) ?? { pending: [], overflow: 0, timer: undefined };
      this.#batches.set(policy.id, batch);
      const room = Math.max(0, MAX_PENDING - batch.pending.length);
      const listed = fresh.slice(0, room);
      batch.overflow += fresh.length - listed.length;
      const intents = await this.#intents(listed);
      for (const a of listed) batch.pending.push({ alert: a, ...(intents.get(a.id) ?? { intent: '', granted: '' }) });
      if (!batch.timer) {
        batch.timer = setTimeout(
          () =>
            void this.flush(policy.id).catch((e: unknown) =>
              this.#log.error({ err: String(e), policy: policy.id }, 'chat message not queued'),
            ),
          policy.batchMs ?? DEFAULT_BATCH_MS,
        );
        batch.timer.unref?.();
      }
    }
  }

  /**
   * Queues the message of the alerts waiting now, for one policy or all (the batch timer calls
   * it; tests and shutdown may too). Alerts another worker has claimed are left out.
   */
  async flush(policyId?: string, now = Date.now()): Promise<void> {
    const ids = policyId === undefined ? [...this.#batches.keys()] : [policyId];
    for (const id of ids) {
      const b = this.#batches.get(id);
      if (!b) continue;
      this.#batches.delete(id);
      if (b.timer) clearTimeout(b.timer);
      const policy = this.#context().policies.get(id);
      if (!policy || b.pending.length === 0) continue;
      const mine = new Set(
        await this.#claim(
          id,
          b.pending.map((p) => p.alert),
          now,
        ),
      );
      const batch = b.pending.filter((p) => mine.has(p.alert.id));
      // The overflow of a burst is counted only by the worker that claimed the burst's first alert.
      const overflow = mine.has(b.pending[0]?.alert.id ?? '') ? b.overflow : 0;
      if (batch.length === 0) continue;
      const ctx = this.#context();
      const first = batch[0]?.alert as WebhookAlert;
      const r: Revocation = {
        webhookId: `chat_${randomBytes(12).toString('hex')}`,
        policyId: id,
        dedupKey: `chat:${first.id}:${first.severity}`,
        alertId: first.id,
        mode: 'token',
        tokenId: first.tokenId,
        sessionRoot: first.rootTokenId,
        tokens: [],
        chain: [],
        dryRun: policy.dryRun,
        requestedBy: 'policy',
        payload: JSON.stringify(chatMessage(batch, overflow, this.#publicUrl)),
        createdAt: new Date(now).toISOString(),
      };
      const held = ctx.policies.state(id).state !== 'active';
      await ctx.deliveryLog.save([
        { revocation: r, state: { status: held ? 'held' : 'queued', attempts: 0, lastError: ctx.policies.state(id).reason } },
      ]);
      if (!held && ctx.runsJobs()) await ctx.queue.add({ ...r, attempt: 1 });
    }
  }

  /** The alerts of `alerts` this worker is the first to claim for `policyId` (at their severity). */
  async #claim(policyId: string, alerts: WebhookAlert[], now: number): Promise<string[]> {
    const name = (a: WebhookAlert) => `notify:${policyId}:${a.id}:${a.severity}`;
    const names = alerts.map(name);
    const taken = new Set(
      (
        await this.#store.query<{ name: string }>('SELECT DISTINCT name FROM responder_state WHERE name IN {names:Array(String)}', {
          names,
        })
      ).map((r) => r.name),
    );
    const open = alerts.filter((a) => !taken.has(name(a)));
    if (open.length === 0) return [];
    const mark = nextVersion();
    await this.#store.insert(
      'responder_state',
      open.map((a) => ({
        name: name(a),
        watermark: String(mark),
        updated_at: new Date(now).toISOString(),
        version: (CLAIM_TOP - BigInt(mark)).toString(),
      })),
    );
    const winners = await this.#store.query<{ name: string; mark: string }>(
      `SELECT name, toString(argMax(watermark, version)) AS mark FROM responder_state
       WHERE name IN {names:Array(String)} GROUP BY name`,
      { names: open.map(name) },
    );
    const won = new Set(winners.filter((w) => w.mark === String(mark)).map((w) => w.name));
    return open.filter((a) => won.has(name(a))).map((a) => a.id);
  }

  async deliver(job: DeliveryJob): Promise<JobOutcome> {
    const ctx = this.#context();
    const finish = async (status: RevocationStatus, lastError: string, attempts = job.attempt): Promise<undefined> => {
      messagesTotal.inc({ outcome: status });
      await ctx.deliveryLog.save([{ revocation: strip(job), state: { status, attempts, lastError } }]);
      return undefined;
    };
    const policy = ctx.policies.get(job.policyId);
    if (!policy) return finish('discarded', `policy ${job.policyId} no longer exists`, job.attempt - 1);
    if (!policy.enabled) return finish('disabled', `policy ${policy.id} is disabled`, job.attempt - 1);
    const endpoint = redactUrl(policy.endpoint.url);
    const record = (
      status: 'delivered' | 'failed' | 'dead' | 'refused' | 'dry_run',
      httpStatus: number,
      latencyMs: number,
      error: string,
      next: number | null,
    ) =>
      ctx.deliveryLog.recordAttempt({
        webhookId: job.webhookId,
        alertId: job.alertId,
        policyId: job.policyId,
        dryRun: job.dryRun,
        endpoint,
        attempt: job.attempt,
        status,
        httpStatus,
        latencyMs,
        error,
        nextAttemptAt: next === null ? null : new Date(next).toISOString(),
      });
    // The message waits for the window rather than being dropped: a burst is never lost, only slowed.
    if (!(await ctx.limiter.acquire(`notify:${policy.id}`, job.webhookId, policy.maxPerMinute, 60_000))) {
      const waiting = `waiting for the rate limit (${policy.maxPerMinute} messages a minute)`;
      await ctx.deliveryLog.save([{ revocation: strip(job), state: { status: 'queued', attempts: job.attempt - 1, lastError: waiting } }]);
      return { retryInMs: Math.ceil(60_000 / policy.maxPerMinute) };
    }
    if (job.dryRun) {
      await record('dry_run', 0, 0, '', null);
      return finish('dry_run', '');
    }
    let url: URL;
    let raw = '';
    try {
      raw = ctx.resolveUrl(policy);
      url = ctx.guard.checkUrl(raw);
    } catch (e) {
      // Never the URL itself in the audit trail: its path is the channel's secret.
      const error = raw ? (e as Error).message.split(raw).join(endpoint) : (e as Error).message;
      await record('refused', 0, 0, error, null);
      return finish('refused', error);
    }
    const result = await postWebhook(url, { 'content-type': 'application/json' }, job.payload, {
      timeoutMs: policy.endpoint.timeoutMs ?? this.#timeoutMs,
      guard: ctx.guard,
    });
    const error = result.error.split(raw).join(endpoint);
    if (result.refused) {
      await record('refused', 0, result.latencyMs, error, null);
      return finish('refused', error);
    }
    if (result.status >= 200 && result.status < 300) {
      await record('delivered', result.status, result.latencyMs, '', null);
      return finish('delivered', '');
    }
    const retry = { maxAttempts: this.#maxAttempts, baseDelayMs: 500, maxDelayMs: 300_000, ...policy.retry };
    if (job.attempt >= retry.maxAttempts) {
      await record('dead', result.status, result.latencyMs, error, null);
      await ctx.deliveryLog.deadLetter(job, job.attempt, result.status, error);
      return finish('dead', error);
    }
    const delay = nextDelay(job.attempt, retry, parseRetryAfter(result.retryAfter));
    await record('failed', result.status, result.latencyMs, error, Date.now() + delay);
    await ctx.deliveryLog.save([{ revocation: strip(job), state: { status: 'retrying', attempts: job.attempt, lastError: error } }]);
    return { retryInMs: delay };
  }

  #context(): ChannelContext {
    if (!this.#ctx) throw new Error('the chat notifier is not attached to a responder (ResponderOptions.channels)');
    return this.#ctx;
  }

  /** The task's intent and the token's grant (audience, grantee), in brief, for each alert. */
  async #intents(alerts: WebhookAlert[]): Promise<Map<string, { intent: string; granted: string }>> {
    const out = new Map<string, { intent: string; granted: string }>();
    if (alerts.length === 0) return out;
    const [tasks, grants] = await Promise.all([
      this.#store.query<{ task_id: string; intent: string }>(
        `SELECT task_id, argMax(intent, time) AS intent FROM task_events
         WHERE task_id IN {ids:Array(String)} AND event = 'started' GROUP BY task_id`,
        { ids: [...new Set(alerts.map((a) => a.taskId).filter(Boolean))] },
      ),
      this.#store.query<{ token_id: string; agent: string; audience: string[]; scopes: string[] }>(
        `SELECT token_id, argMax(agent_id, time) AS agent, argMax(audience, time) AS audience, argMax(scopes, time) AS scopes
         FROM token_events WHERE token_id IN {ids:Array(String)} AND event IN ('issued', 'refreshed', 'exchanged') GROUP BY token_id`,
        { ids: [...new Set(alerts.map((a) => a.tokenId).filter(Boolean))] },
      ),
    ]);
    const intent = new Map(tasks.map((t) => [t.task_id, t.intent]));
    const grant = new Map(grants.map((g) => [g.token_id, g]));
    for (const a of alerts) {
      const g = grant.get(a.tokenId);
      out.set(a.id, {
        intent: intent.get(a.taskId) ?? '',
        granted: g
          ? `${g.agent || 'unknown agent'} → ${g.audience.join(', ') || 'any service'}${g.scopes.length ? ` (${g.scopes.join(', ')})` : ''}`
          : '',
      });
    }
    return out;
  }
}

/** Slack mrkdwn needs &, < and > escaped (they start links and entities); cut to `max` characters. */
function esc(s: string, max = 300): string {
  const cut = s.length > max ? `${s.slice(0, max - 1)}…` : s;
  return cut.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

const SEVERITY_MARK: Record<Severity, string> = { critical: '🟥', high: '🟧', medium: '🟨', low: '⬜' };

/**
 * A Slack-compatible message (`text` for notifications and clients without blocks, `blocks` for
 * the rest) listing up to ten alerts: severity, title, reason, intent vs actual, a link each.
 */
export function chatMessage(batch: readonly Pending[], overflow: number, publicUrl: string): { text: string; blocks: unknown[] } {
  const total = batch.length + overflow;
  const bySeverity = new Map<string, number>();
  for (const p of batch) bySeverity.set(p.alert.severity, (bySeverity.get(p.alert.severity) ?? 0) + 1);
  const counts = [...bySeverity.entries()].sort((a, b) => severityRank(b[0]) - severityRank(a[0])).map(([s, n]) => `${n} ${s}`);
  const head =
    total === 1
      ? `intentwatch: ${batch[0]?.alert.severity} alert — ${batch[0]?.alert.title}`
      : `intentwatch: ${total} alerts (${counts.join(', ')}${overflow ? `, ${overflow} more` : ''})`;
  const blocks: unknown[] = [{ type: 'header', text: { type: 'plain_text', text: head.slice(0, 150) } }];
  for (const p of batch.slice(0, MAX_ALERTS_PER_MESSAGE)) {
    const a = p.alert;
    const link = `${publicUrl}/#/alerts/${encodeURIComponent(a.id)}`;
    const actual = `${a.agentId || a.caller || 'unknown caller'} → ${a.target || 'unknown target'}${a.environment ? ` (${a.environment})` : ''}`;
    const lines = [
      `${SEVERITY_MARK[a.severity] ?? ''} *${esc(a.severity.toUpperCase(), 20)} · ${esc(a.title, 150)}*`,
      esc(a.reason, 600),
      `*Intent:* ${esc(p.intent || (a.taskId ? `task ${a.taskId}` : 'no task named'), 200)}${p.granted ? ` — granted ${esc(p.granted, 200)}` : ''}`,
      `*Actual:* ${esc(actual, 200)} · token \`${esc(a.tokenId, 80)}\``,
      `<${link}|Open the alert>`,
    ];
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: lines.join('\n') } });
  }
  const more = total - Math.min(batch.length, MAX_ALERTS_PER_MESSAGE);
  if (more > 0) {
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `…and ${more} more: <${publicUrl}/#/|open the queue>` }] });
  }
  const text = [head, ...batch.slice(0, MAX_ALERTS_PER_MESSAGE).map((p) => `• ${p.alert.severity}: ${p.alert.reason}`.slice(0, 300))].join(
    '\n',
  );
  return { text, blocks };
}

function strip(j: Revocation & { attempt?: number }): Revocation {
  const { attempt: _attempt, ...rest } = j;
  return rest;
}
