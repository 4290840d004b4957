import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type AlertSource, AlertStore, type Finding, alertId } from '@intentwatch/alerts';
import { type Script, type StoreFor, WebhookReceiver, eventually, openTestStore } from '@intentwatch/testkit';
import type { RevocationView } from './delivery-log.js';
import type { RevokeRequestBody } from './payload.js';
import { type Policy, parsePolicy } from './policy.js';
import { Responder, type ResponderOptions } from './responder.js';
import { composeSettings, coreSettings } from '@intentwatch/core';
import { responderSettings } from './settings.js';

/**
 * A revoke is one request per token of the lineage a finding implicates: each with its own
 * webhook-id, retries, audit row, rate-limit slot and dry run, and each token requested once per
 * policy — through failures, restarts and further alerts about the same session.
 */

const SECRET = `whsec_${Buffer.from('lineage-revoke-test-secret-32b!!').toString('base64')}`;
const SOURCE: AlertSource = { id: 'stale_token_use', title: 'Token used after revocation', frameworks: ['OWASP-ASI03'] };

/** The settings the responders read, over the core ones. */
const SETTINGS = composeSettings(coreSettings, responderSettings);
let ts: StoreFor<typeof SETTINGS>;
let alerts: AlertStore;
const closing: (() => Promise<void>)[] = [];

beforeAll(async () => {
  ts = await openTestStore({ INTENTWATCH_WEBHOOK_ALLOW: '127.0.0.1/32', INTENTWATCH_RESPONDER_POLL_MS: '25' }, { settings: SETTINGS });
  alerts = new AlertStore(ts.store);
});
afterEach(async () => {
  for (const c of closing.splice(0).reverse()) await c();
});
afterAll(async () => {
  await ts?.dispose();
});

async function receiver(script?: Script): Promise<WebhookReceiver> {
  const r = await WebhookReceiver.start(SECRET, script);
  closing.push(() => r.close());
  return r;
}

function policy(id: string, env: string, r: WebhookReceiver, more: Record<string, unknown> = {}): Policy {
  return parsePolicy({ id, match: { environments: [env] }, endpoint: { url: r.url, secrets: [SECRET] }, ...more }, 'file');
}

async function responder(policies: Policy[], options: Partial<ResponderOptions> = {}, start = true): Promise<Responder> {
  const r = await Responder.open({
    store: ts.store,
    config: ts.config,
    policies,
    retry: { baseDelayMs: 20, maxDelayMs: 200 },
    lagMs: 1000,
    ...options,
  });
  closing.push(() => r.close());
  if (start) await r.start();
  return r;
}

let seq = 0;
async function raise(env: string, token: string, root: string, key = 'github'): Promise<string> {
  seq++;
  const f: Finding = {
    key,
    severity: 'critical',
    reason: `token ${token} was used after its session was revoked`,
    tokenId: token,
    rootTokenId: root,
    agentId: 'deploy-bot',
    taskId: 'T-7',
    caller: 'deploy-svc',
    target: key,
    environment: env,
    evidence: { traceId: 'd'.repeat(32), spanId: seq.toString(16).padStart(16, '0'), time: new Date().toISOString() },
  };
  await alerts.record(SOURCE, [f]);
  return alertId(SOURCE.id, root, key);
}

async function grant(token: string, event: 'issued' | 'refreshed' | 'exchanged', parent = '', agent = 'deploy-bot'): Promise<void> {
  const now = new Date().toISOString();
  await ts.store.insertPartial('token_events', [
    { time: now, ingested_at: now, event, token_id: token, parent_id: parent, agent_id: agent, source: 'test' },
  ]);
}

/** A session of three tokens (`p`, `p-r1`, `p-r2`) and a token exchanged from it to a sub-agent (`p-sub`). */
async function lineage(p: string): Promise<void> {
  await grant(p, 'issued');
  await grant(`${p}-r1`, 'refreshed', p);
  await grant(`${p}-r2`, 'refreshed', `${p}-r1`);
  await grant(`${p}-sub`, 'exchanged', `${p}-r2`, 'sub-agent');
}

const tokenOf = (body: string) => (JSON.parse(body) as RevokeRequestBody).data.revoke.token;
const settled = (n: number) => (v: RevocationView[]) => v.length === n && v.every((x) => !['queued', 'retrying'].includes(x.status));

/** Every token the receiver acted on: once per webhook-id, as a broker de-duplicating on it would. */
const revokedTokens = (rx: WebhookReceiver) => [...rx.revoked.values()].map(tokenOf).sort();

/** The first attempt at revoking `token` fails (with `answer`); every other request is accepted. */
function failingFirstAttemptOf(token: string, answer: ReturnType<Script> = { status: 503 }): Script {
  let failed = false;
  return (_n, _id, body) => {
    if (failed || tokenOf(body) !== token) return { status: 204 };
    failed = true;
    return answer;
  };
}

describe('revoking a lineage', () => {
  it('sends one signed request per token of a session and its delegated child, each token once, though the receiver fails one first attempt', async () => {
    const rx = await receiver(failingFirstAttemptOf('p1-r2'));
    const r = await responder([policy('per-token', 'env-per-token', rx)]);
    await lineage('p1');
    const id = await raise('env-per-token', 'p1-r1', 'p1');

    const views = await eventually(() => r.policyService.deliveries(id), settled(4), { timeoutMs: 15_000 });

    expect(rx.requests).toHaveLength(5);
    expect(rx.requests.every((q) => q.verified)).toBe(true);
    expect(new Set(rx.requests.map((q) => q.webhookId)).size).toBe(4);
    expect(revokedTokens(rx)).toEqual(['p1', 'p1-r1', 'p1-r2', 'p1-sub']);
    const relations = Object.fromEntries([...rx.revoked.values()].map((b) => [tokenOf(b), JSON.parse(b).data.revoke.relation]));
    expect(relations).toEqual({ 'p1-r1': 'self', p1: 'session', 'p1-r2': 'session', 'p1-sub': 'delegated' });
    // The failed request was sent again under its webhook-id with the same body, and delivered.
    const retried = rx.requests.filter((q) => tokenOf(q.body) === 'p1-r2');
    expect(retried.map((q) => q.status)).toEqual([503, 204]);
    expect(new Set(retried.map((q) => q.webhookId)).size).toBe(1);
    expect(retried[0]?.body).toBe(retried[1]?.body);
    expect(views.map((v) => [v.token, v.relation, v.status, v.attempts]).sort()).toEqual([
      ['p1', 'session', 'delivered', 1],
      ['p1-r1', 'self', 'delivered', 1],
      ['p1-r2', 'session', 'delivered', 2],
      ['p1-sub', 'delegated', 'delivered', 1],
    ]);
    expect(views.every((v) => v.tokenId === 'p1-r1' && v.alertId === id && v.tokens.length === 1)).toBe(true);
  });

  it("sends an analyst's revoke of a delegation chain as one signed request per token, each once, and refuses a second", async () => {
    const rx = await receiver(failingFirstAttemptOf('o2'));
    const r = await responder([policy('by-hand', 'env-no-alert-matches', rx)]);
    await grant('o2', 'issued', '', 'planner');
    await grant('o2-r', 'refreshed', 'o2', 'planner');
    await grant('o2-x', 'exchanged', 'o2-r', 'coder');
    await grant('o2-x-r', 'refreshed', 'o2-x', 'coder');
    await grant('o2-y', 'exchanged', 'o2', 'tester');
    const id = await raise('env-by-hand', 'o2-x-r', 'o2-x');

    const made = await r.trigger.request(id, 'by-hand', 'key:ana', 'chain');

    expect(made.map((m) => [m.token, m.relation])).toEqual([
      ['o2-x-r', 'self'],
      ['o2-x', 'session'],
      ['o2', 'delegator'],
      ['o2-r', 'delegator'],
      ['o2-y', 'chain'],
    ]);
    expect(made.every((m) => m.status === 'queued' && m.mode === 'chain' && m.requestedBy === 'analyst:key:ana')).toBe(true);
    expect(new Set(made.map((m) => m.webhookId)).size).toBe(5);
    const views = await eventually(() => r.policyService.deliveries(id), settled(5), { timeoutMs: 15_000 });
    expect(views.every((v) => v.status === 'delivered')).toBe(true);
    expect(rx.requests.every((q) => q.verified)).toBe(true);
    expect(rx.requests).toHaveLength(6);
    expect(revokedTokens(rx)).toEqual(['o2', 'o2-r', 'o2-x', 'o2-x-r', 'o2-y']);
    expect([...rx.revoked.keys()].sort()).toEqual(made.map((m) => m.webhookId).sort());
    await expect(r.trigger.request(id, 'by-hand', 'key:ana', 'chain')).rejects.toMatchObject({
      name: 'ConflictError',
      code: 'already_requested',
    });
    // A narrower revoke of tokens already requested is refused too: nothing is sent twice.
    await expect(r.trigger.request(id, 'by-hand', 'key:ana', 'session')).rejects.toMatchObject({ name: 'ConflictError' });
    expect(rx.requests).toHaveLength(6);
  });

  it('does not request a token again for a second alert on the same session, but requests a token the session gained since', async () => {
    const rx = await receiver();
    const r = await responder([policy('again', 'env-again', rx)]);
    await lineage('p3');
    const first = await raise('env-again', 'p3-r2', 'p3');
    await eventually(() => r.policyService.deliveries(first), settled(4), { timeoutMs: 30_000, label: 'the first alert’s deliveries' });
    // The broker honoured the refresh token anyway: the revoked session was refreshed, then used.
    await grant('p3-r3', 'refreshed', 'p3-r2');
    const second = await raise('env-again', 'p3-r3', 'p3', 'slack');
    const update = await raise('env-again', 'p3-r2', 'p3');

    const later = await eventually(() => r.policyService.deliveries(second), settled(1), {
      timeoutMs: 30_000,
      label: 'the delivery for the token the session gained',
    });

    expect(update).toBe(first);
    expect(later.map((v) => [v.token, v.relation, v.status])).toEqual([['p3-r3', 'self', 'delivered']]);
    expect(await eventually(() => r.policyService.deliveries(first), settled(4))).toHaveLength(4);
    expect(rx.requests).toHaveLength(5);
    expect(revokedTokens(rx)).toEqual(['p3', 'p3-r1', 'p3-r2', 'p3-r3', 'p3-sub']);
  });

  it('loses and repeats no token across a restart: requests recorded by one process, one mid-retry when it stops, each delivered once', async () => {
    const rx = await receiver(failingFirstAttemptOf('p4-sub', { status: 503, headers: { 'retry-after': '1' } }));
    const p = policy('restart', 'env-none', rx);
    // An API process records the requests; it delivers nothing.
    const apiSide = await responder([p], {}, false);
    await lineage('p4');
    const id = await raise('env-restart', 'p4', 'p4');
    expect(await apiSide.trigger.request(id, 'restart', 'key:ana', 'session')).toHaveLength(4);
    expect(rx.requests).toHaveLength(0);

    const first = await responder([p]);
    await eventually(
      () => first.policyService.deliveries(id),
      (v) => v.filter((x) => x.status === 'delivered').length === 3 && v.some((x) => x.status === 'retrying'),
    );
    await first.close();
    const second = await responder([p]);
    const views = await eventually(() => second.policyService.deliveries(id), settled(4), { timeoutMs: 15_000 });

    expect(views.every((v) => v.status === 'delivered')).toBe(true);
    expect(revokedTokens(rx)).toEqual(['p4', 'p4-r1', 'p4-r2', 'p4-sub']);
    expect(rx.requests.map((q) => tokenOf(q.body)).sort()).toEqual(['p4', 'p4-r1', 'p4-r2', 'p4-sub', 'p4-sub']);
    expect(new Set(rx.requests.map((q) => q.webhookId)).size).toBe(4);
  });

  it('counts a request an earlier version made for a whole session as made for every token it listed', async () => {
    const rx = await receiver();
    const r = await responder([policy('upgraded', 'env-upgraded', rx)]);
    await lineage('p7');
    const earlier = await raise('env-upgraded-before', 'p7', 'p7', 'jira');
    // As an earlier version recorded it: one request naming the session as it then was.
    await r.deliveryLog.save([
      {
        revocation: {
          webhookId: 'msg_earlier_session_request',
          policyId: 'upgraded',
          dedupKey: 'session:p7',
          alertId: earlier,
          mode: 'session',
          tokenId: 'p7',
          sessionRoot: 'p7',
          tokens: ['p7', 'p7-r1'],
          chain: ['p7'],
          dryRun: false,
          requestedBy: 'policy',
          payload: '{}',
          createdAt: new Date().toISOString(),
        },
        state: { status: 'delivered', attempts: 1, lastError: '' },
      },
    ]);
    const id = await raise('env-upgraded', 'p7-r1', 'p7');

    const views = await eventually(() => r.policyService.deliveries(id), settled(2));

    expect(views.map((v) => v.token).sort()).toEqual(['p7-r2', 'p7-sub']);
    expect(revokedTokens(rx)).toEqual(['p7-r2', 'p7-sub']);
  });

  it('counts dry runs and the rate limit per request: each token is its own dry run and its own slot in the limit', async () => {
    const rx = await receiver();
    const r = await responder([
      policy('dry-lineage', 'env-dry-lineage', rx, { dryRun: true }),
      policy('tight', 'env-tight', rx, { maxPerMinute: 3 }),
    ]);
    await lineage('p5');
    await lineage('p6');
    const dry = await raise('env-dry-lineage', 'p5-r2', 'p5');
    const tight = await raise('env-tight', 'p6-r2', 'p6');

    const dryViews = await eventually(() => r.policyService.deliveries(dry), settled(4));
    const tightViews = await eventually(() => r.policyService.deliveries(tight), settled(4));

    expect(dryViews.map((v) => [v.token, v.status]).sort()).toEqual([
      ['p5', 'dry_run'],
      ['p5-r1', 'dry_run'],
      ['p5-r2', 'dry_run'],
      ['p5-sub', 'dry_run'],
    ]);
    expect(dryViews.every((v) => tokenOf(v.payload) === v.token)).toBe(true);
    expect(tightViews.filter((v) => v.status === 'delivered')).toHaveLength(3);
    expect(tightViews.filter((v) => v.status === 'held')).toHaveLength(1);
    expect(r.policies.state('tight')).toMatchObject({ state: 'paused' });
    expect(rx.requests).toHaveLength(3);
    expect(rx.requests.every((q) => tokenOf(q.body).startsWith('p6'))).toBe(true);
  });
});
