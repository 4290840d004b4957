import { randomBytes } from 'node:crypto';
import { type Config, type Store, counter, createLogger } from '@intentwatch/core';
import { type Severity, severityRank } from '../alerts/model.js';
import type { AlertSnapshot } from './alert-reader.js';
import { nextDelay, parseRetryAfter } from './backoff.js';
import type { ChannelContext, ResponderChannel } from './channel.js';
import type { RevocationStatus } from './delivery-log.js';
import type { DeliveryJob, JobOutcome, Revocation } from './delivery-queue.js';
import type { WebhookAlert } from './payload.js';
import { RESPONDER_DETECTOR_PREFIX } from './policy.js';
import { postWebhook } from './webhook-client.js';

export interface ChatNotifierOptions {
  store: Store;
  config: Pick<Config, 'responders'>;
}

/** The audit-trail policy id of chat notifications. */
export const NOTIFY_POLICY_ID = 'notify:chat';
/** Most alerts one message lists; the rest are counted with a link to the queue. */
const MAX_ALERTS_PER_MESSAGE = 10;
/** Alerts waiting for the next message; past this a burst is counted, not listed. */
const MAX_PENDING = 1000;
/** Alert ids (with the severity told) remembered so that an alert's updates are not told again. */
const MAX_TOLD = 50_000;

const messagesTotal = counter('intentwatch_chat_notifications_total', 'Chat messages sent about alerts, by outcome', ['outcome']);

interface Pending {
  alert: WebhookAlert;
  intent: string;
  granted: string;
}

/**
 * Tells people about alerts in a chat channel: a Slack-compatible incoming webhook
 * (`INTENTWATCH_NOTIFY_WEBHOOK`; Slack, Mattermost, Rocket.Chat and Teams workflows take the same
 * `{text, blocks}`). Each message says, per alert, the title and severity, the reason, the
 * intent the token was issued for against what it was used for, and a link to the alert page.
 *
 * A burst is one message: alerts that arrive within `INTENTWATCH_NOTIFY_BATCH_MS` of the first
 * are batched (at most 10 listed, the rest counted), and at most
 * `INTENTWATCH_NOTIFY_MAX_PER_MINUTE` messages go out a minute — a message past the limit waits
 * for the window (it is not dropped). An alert is told once per severity it reaches; suppressed,
 * resolved and false-positive alerts are not told. A channel of the responder: messages are
 * requests in its audit trail (policy id `notify:chat`, shown on the first alert they name),
 * delivered through its queue with its retries, `Retry-After` and endpoint guard.
 */
export class ChatNotifier implements ResponderChannel {
  readonly #log = createLogger('detectors.responders.chat');
  readonly #store: Store;
  readonly #settings: NonNullable<Config['responders']['notify']>;
  readonly #publicUrl: string;
  readonly #timeoutMs: number;
  readonly #maxAttempts: number;
  readonly #told = new Map<string, number>();
  #pending: Pending[] = [];
  #overflow = 0;
  #timer: NodeJS.Timeout | undefined;
  #ctx: ChannelContext | undefined;

  private constructor(options: ChatNotifierOptions, settings: NonNullable<Config['responders']['notify']>) {
    this.#store = options.store;
    this.#settings = settings;
    this.#publicUrl = options.config.responders.publicUrl;
    this.#timeoutMs = options.config.responders.timeoutMs;
    this.#maxAttempts = options.config.responders.maxAttempts;
  }

  /** A notifier when `INTENTWATCH_NOTIFY_WEBHOOK` is set; undefined otherwise. */
  static create(options: ChatNotifierOptions): ChatNotifier | undefined {
    const settings = options.config.responders.notify;
    return settings ? new ChatNotifier(options, settings) : undefined;
  }

  attach(context: ChannelContext): void {
    this.#ctx = context;
  }

  owns(job: DeliveryJob): boolean {
    return job.policyId === NOTIFY_POLICY_ID;
  }

  async onRevocations(): Promise<void> {}

  async onAlerts(snapshots: AlertSnapshot[]): Promise<void> {
    const min = severityRank(this.#settings.minSeverity);
    const fresh = snapshots
      .map((s) => s.alert)
      .filter(
        (a) =>
          !a.detector.startsWith(RESPONDER_DETECTOR_PREFIX) &&
          severityRank(a.severity) >= min &&
          (this.#told.get(a.id) ?? -1) < severityRank(a.severity),
      );
    if (fresh.length === 0) return;
    for (const a of fresh) {
      this.#told.delete(a.id);
      this.#told.set(a.id, severityRank(a.severity));
    }
    while (this.#told.size > MAX_TOLD) this.#told.delete(this.#told.keys().next().value as string);
    const room = Math.max(0, MAX_PENDING - this.#pending.length);
    const listed = fresh.slice(0, room);
    this.#overflow += fresh.length - listed.length;
    const intents = await this.#intents(listed);
    for (const a of listed) this.#pending.push({ alert: a, ...(intents.get(a.id) ?? { intent: '', granted: '' }) });
    this.#timer ??= setTimeout(
      () => void this.flush().catch((e: unknown) => this.#log.error({ err: String(e) }, 'chat message not queued')),
      this.#settings.batchMs,
    );
    this.#timer.unref?.();
  }

  /** Queues the message of the alerts waiting now (the batch timer calls it; tests and shutdown may too). */
  async flush(now = Date.now()): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#pending;
    const overflow = this.#overflow;
    this.#pending = [];
    this.#overflow = 0;
    if (batch.length === 0) return;
    const ctx = this.#context();
    const first = batch[0]?.alert as WebhookAlert;
    const id = `chat_${randomBytes(12).toString('hex')}`;
    const r: Revocation = {
      webhookId: id,
      policyId: NOTIFY_POLICY_ID,
      dedupKey: `chat:${first.id}:${first.severity}`,
      alertId: first.id,
      mode: 'token',
      tokenId: first.tokenId,
      sessionRoot: first.rootTokenId,
      tokens: [],
      chain: [],
      dryRun: false,
      requestedBy: 'policy',
      payload: JSON.stringify(chatMessage(batch, overflow, this.#publicUrl)),
      createdAt: new Date(now).toISOString(),
    };
    await ctx.deliveryLog.save([{ revocation: r, state: { status: 'queued', attempts: 0, lastError: '' } }]);
    if (ctx.runsJobs()) await ctx.queue.add({ ...r, attempt: 1 });
  }

  async deliver(job: DeliveryJob): Promise<JobOutcome> {
    const ctx = this.#context();
    const finish = async (status: RevocationStatus, lastError: string, attempts = job.attempt): Promise<undefined> => {
      messagesTotal.inc({ outcome: status });
      await ctx.deliveryLog.save([{ revocation: strip(job), state: { status, attempts, lastError } }]);
      return undefined;
    };
    // The message waits for the window rather than being dropped: a burst is never lost, only slowed.
    if (!(await ctx.limiter.acquire(NOTIFY_POLICY_ID, job.webhookId, this.#settings.maxPerMinute, 60_000))) {
      const waiting = `waiting for the rate limit (${this.#settings.maxPerMinute} messages a minute)`;
      await ctx.deliveryLog.save([{ revocation: strip(job), state: { status: 'queued', attempts: job.attempt - 1, lastError: waiting } }]);
      return { retryInMs: Math.ceil(60_000 / this.#settings.maxPerMinute) };
    }
    const endpoint = describe(this.#settings.url);
    const record = (
      status: 'delivered' | 'failed' | 'dead' | 'refused',
      httpStatus: number,
      latencyMs: number,
      error: string,
      next: number | null,
    ) =>
      ctx.deliveryLog.recordAttempt({
        webhookId: job.webhookId,
        alertId: job.alertId,
        policyId: job.policyId,
        dryRun: false,
        endpoint,
        attempt: job.attempt,
        status,
        httpStatus,
        latencyMs,
        error,
        nextAttemptAt: next === null ? null : new Date(next).toISOString(),
      });
    let url: URL;
    try {
      url = ctx.guard.checkUrl(this.#settings.url);
    } catch (e) {
      await record('refused', 0, 0, (e as Error).message, null);
      return finish('refused', (e as Error).message);
    }
    const result = await postWebhook(url, { 'content-type': 'application/json' }, job.payload, {
      timeoutMs: this.#timeoutMs,
      guard: ctx.guard,
    });
    if (result.refused) {
      await record('refused', 0, result.latencyMs, result.error, null);
      return finish('refused', result.error);
    }
    if (result.status >= 200 && result.status < 300) {
      await record('delivered', result.status, result.latencyMs, '', null);
      return finish('delivered', '');
    }
    if (job.attempt >= this.#maxAttempts) {
      await record('dead', result.status, result.latencyMs, result.error, null);
      await ctx.deliveryLog.deadLetter(job, job.attempt, result.status, result.error);
      return finish('dead', result.error);
    }
    const delay = nextDelay(job.attempt, { baseDelayMs: 500, maxDelayMs: 300_000 }, parseRetryAfter(result.retryAfter));
    await record('failed', result.status, result.latencyMs, result.error, Date.now() + delay);
    await ctx.deliveryLog.save([{ revocation: strip(job), state: { status: 'retrying', attempts: job.attempt, lastError: result.error } }]);
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

/** Origin only: a chat webhook's path is its secret. */
function describe(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid URL)';
  }
}

function strip(j: Revocation & { attempt?: number }): Revocation {
  const { attempt: _attempt, ...rest } = j;
  return rest;
}
