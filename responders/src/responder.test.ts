import { slackFinding } from '../testing/findings.js';
import { randomBytes } from 'node:crypto';
import { type CoreSettings, SecretKey, type Store, nextVersion, quoteIdentifier } from '@intentwatch/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type AlertSource, AlertStore, type Finding, SuppressionStore, alertId } from '@intentwatch/alerts';
import { type Script, type StoreFor, WebhookReceiver, eventually, openTestStore } from '@intentwatch/testkit';
import type { RevocationView } from './delivery-log.js';
import { CAEP_SESSION_REVOKED, type RevokeRequestBody } from './payload.js';
import { type Policy, parsePolicy, redactSecret } from './policy.js';
import { MemoryRateLimiter } from './rate-limiter.js';
import { BREAKER_SOURCE, Responder, type ResponderOptions } from './responder.js';
import type { ResponderSettings } from './settings.js';
import { composeSettings, coreSettings } from '@intentwatch/core';
import { responderSettings } from './settings.js';

const SECRET = `whsec_${Buffer.from('responder-test-secret-32-bytes!!').toString('base64')}`;
const SOURCE: AlertSource = {
  id: 'cross_service_reuse',
  title: 'Token used outside its audience',
  frameworks: ['OWASP-ASI03', 'MITRE-ATTACK-T1550.001'],
};

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

/** A live policy for alerts of environment `env` (each test has its own), posting to `r`. */
function policy(id: string, env: string, r: WebhookReceiver, more: Record<string, unknown> = {}): Policy {
  return parsePolicy({ id, match: { environments: [env] }, endpoint: { url: r.url, secrets: [SECRET] }, ...more }, 'file');
}

async function responder(policies: Policy[], options: Partial<ResponderOptions> = {}): Promise<Responder> {
  const r = await Responder.open({
    store: ts.store,
    config: ts.config,
    policies,
    retry: { baseDelayMs: 20, maxDelayMs: 200 },
    lagMs: 1000,
    ...options,
  });
  closing.push(() => r.close());
  // The first look sets the watermark; alerts raised after it are the ones acted on.
  await r.start();
  return r;
}

let seq = 0;
/** Records a finding as the detectors would; returns the alert id. */
async function raise(env: string, token: string, options: Partial<Finding> & { source?: AlertSource } = {}): Promise<string> {
  const { source = SOURCE, ...rest } = options;
  seq++;
  const f = slackFinding(env, token, seq, 'a', rest);
  await alerts.record(source, [f]);
  return alertId(source.id, f.rootTokenId || f.tokenId, f.key);
}

/** A lifecycle event of a token, as the broker reports it. */
async function grant(token: string, event: 'issued' | 'refreshed' | 'exchanged', parent = '', agent = 'triage-bot'): Promise<void> {
  const now = new Date().toISOString();
  await ts.store.insertPartial('token_events', [
    { time: now, ingested_at: now, event, token_id: token, parent_id: parent, agent_id: agent, source: 'test' },
  ]);
}

async function settled(r: Responder, alert: string, done: (v: RevocationView[]) => boolean, timeoutMs = 15_000) {
  return eventually(() => r.policyService.deliveries(alert), done, { timeoutMs });
}

const finalStatus = (v: RevocationView[]) => v.length > 0 && v.every((x) => !['queued', 'retrying'].includes(x.status));

/** The bodies the receiver took, by the token each request revokes. */
function byToken(rx: WebhookReceiver): Map<string, RevokeRequestBody> {
  const out = new Map<string, RevokeRequestBody>();
  for (const body of rx.revoked.values()) {
    const b = JSON.parse(body) as RevokeRequestBody;
    out.set(b.data.revoke.token, b);
  }
  return out;
}

describe('Responder', () => {
  it('posts a revoke of each token of the session that an independent receiver verifies, and records each attempt on the alert', async () => {
    const rx = await receiver();
    const r = await responder([policy('verify', 'env-verify', rx)]);
    await grant('root-1', 'issued');
    await grant('root-1-a', 'refreshed', 'root-1');
    await grant('root-1-b', 'refreshed', 'root-1-a');
    const id = await raise('env-verify', 'root-1-b', { rootTokenId: 'root-1' });

    const views = await settled(r, id, (v) => v.length === 3 && finalStatus(v));

    expect(rx.requests).toHaveLength(3);
    expect(rx.requests.every((q) => q.verified && /^msg_[0-9a-f]{32}$/.test(q.webhookId))).toBe(true);
    expect(new Set(rx.requests.map((q) => q.webhookId)).size).toBe(3);
    const bodies = byToken(rx);
    expect([...bodies.keys()].sort()).toEqual(['root-1', 'root-1-a', 'root-1-b']);
    const body = bodies.get('root-1-b') as RevokeRequestBody;
    expect(body.type).toBe('token.revoke_requested');
    expect(Date.parse(body.timestamp)).toBeGreaterThan(0);
    expect(body.data.alert).toMatchObject({ id, detector: 'cross_service_reuse', tokenId: 'root-1-b', rootTokenId: 'root-1' });
    expect(body.data.revoke).toEqual({
      mode: 'session',
      token: 'root-1-b',
      relation: 'self',
      tokens: ['root-1-b'],
      sessionRoot: 'root-1',
      chain: ['root-1'],
    });
    expect(bodies.get('root-1')?.data.revoke).toMatchObject({ token: 'root-1', relation: 'session', tokens: ['root-1'] });
    expect(body.data.reason).toContain(id);
    expect(views).toHaveLength(3);
    for (const req of rx.requests) {
      const view = views.find((v) => v.webhookId === req.webhookId);
      expect(view).toMatchObject({ status: 'delivered', attempts: 1, policyId: 'verify', tokenId: 'root-1-b' });
      expect(view?.token).toBe((JSON.parse(req.body) as RevokeRequestBody).data.revoke.token);
      expect(view?.attemptLog).toEqual([
        expect.objectContaining({ attempt: 1, status: 'delivered', httpStatus: 204, error: '', endpoint: rx.url }),
      ]);
    }
  });

  it('revokes a session with everything delegated from it: a revocation must not leave exchanged descendants alive', async () => {
    const rx = await receiver();
    const r = await responder([policy('lineage', 'env-lineage', rx)]);
    await grant('lin-root', 'issued', '', 'planner');
    await grant('lin-root-r', 'refreshed', 'lin-root', 'planner');
    await grant('lin-x', 'exchanged', 'lin-root-r', 'coder');
    await grant('lin-x-r', 'refreshed', 'lin-x', 'coder');
    await grant('lin-y', 'exchanged', 'lin-x-r', 'tester');
    // Another session of the same agent is not part of this lineage.
    await grant('lin-other', 'issued', '', 'planner');
    const id = await raise('env-lineage', 'lin-root', { rootTokenId: 'lin-root' });

    await settled(r, id, (v) => v.length === 5 && finalStatus(v));

    expect(rx.requests).toHaveLength(5);
    const relations = [...byToken(rx)].map(([token, b]) => [token, b.data.revoke.relation]).sort();
    expect(relations).toEqual([
      ['lin-root', 'self'],
      ['lin-root-r', 'session'],
      ['lin-x', 'delegated'],
      ['lin-x-r', 'delegated'],
      ['lin-y', 'delegated'],
    ]);
    for (const b of byToken(rx).values()) {
      expect(b.data.revoke).toMatchObject({ mode: 'session', sessionRoot: 'lin-root', chain: ['lin-root'] });
    }
  });

  it('names the whole delegation chain in chain mode, from the origin down through exchanges and refreshes', async () => {
    const rx = await receiver();
    const r = await responder([policy('chain', 'env-chain', rx, { revoke: 'chain' })]);
    await grant('origin-1', 'issued', '', 'planner');
    await grant('origin-1-r', 'refreshed', 'origin-1', 'planner');
    await grant('deleg-1', 'exchanged', 'origin-1', 'coder');
    await grant('deleg-1-r', 'refreshed', 'deleg-1', 'coder');
    const id = await raise('env-chain', 'deleg-1-r', { rootTokenId: 'deleg-1' });

    await settled(r, id, (v) => v.length === 4 && finalStatus(v));

    const bodies = byToken(rx);
    expect([...bodies].map(([token, b]) => [token, b.data.revoke.relation]).sort()).toEqual([
      ['deleg-1', 'session'],
      ['deleg-1-r', 'self'],
      ['origin-1', 'delegator'],
      ['origin-1-r', 'delegator'],
    ]);
    for (const b of bodies.values()) {
      expect(b.data.revoke).toMatchObject({ mode: 'chain', sessionRoot: 'deleg-1', chain: ['deleg-1', 'origin-1'] });
    }
  });

  it('retries a receiver that fails twice with the same webhook-id, so it revokes exactly once', async () => {
    const rx = await receiver((n) => ({ status: n <= 2 ? 500 : 200 }));
    const r = await responder([policy('flaky', 'env-flaky', rx)]);
    const id = await raise('env-flaky', 'flaky-1');

    const views = await settled(r, id, finalStatus);

    expect(rx.requests.map((q) => q.status)).toEqual([500, 500, 200]);
    expect(new Set(rx.requests.map((q) => q.webhookId)).size).toBe(1);
    expect(rx.requests.every((q) => q.verified)).toBe(true);
    expect(rx.revoked.size).toBe(1);
    expect(new Set(rx.requests.map((q) => q.body)).size).toBe(1);
    expect(views[0]).toMatchObject({ status: 'delivered', attempts: 3 });
    expect(views[0]?.attemptLog.map((a) => [a.attempt, a.status, a.httpStatus])).toEqual([
      [1, 'failed', 500],
      [2, 'failed', 500],
      [3, 'delivered', 200],
    ]);
    expect(views[0]?.attemptLog[0]?.error).toContain('HTTP 500');
    expect(views[0]?.attemptLog[0]?.nextAttemptAt).not.toBeNull();
  });

  it('waits as long as Retry-After asks before the next attempt', async () => {
    const rx = await receiver((n) => (n === 1 ? { status: 503, headers: { 'retry-after': '1' } } : { status: 204 }));
    const r = await responder([policy('patient', 'env-patient', rx)]);
    const id = await raise('env-patient', 'patient-1');

    await settled(r, id, finalStatus);

    expect(rx.requests).toHaveLength(2);
    expect((rx.requests[1]?.receivedAt ?? 0) - (rx.requests[0]?.receivedAt ?? 0)).toBeGreaterThanOrEqual(1000);
  });

  it('disables the policy when the endpoint answers 410 Gone, and sends nothing more', async () => {
    const rx = await receiver(() => ({ status: 410 }));
    const r = await responder([policy('gone', 'env-gone', rx)]);
    const first = await raise('env-gone', 'gone-1');

    const views = await settled(r, first, finalStatus);
    expect(views[0]).toMatchObject({ status: 'disabled', attempts: 1 });
    expect(r.policies.state('gone')).toMatchObject({ state: 'disabled', reason: expect.stringContaining('410') });

    const second = await raise('env-gone', 'gone-2');
    const later = await settled(r, second, finalStatus);
    expect(later[0]).toMatchObject({ status: 'disabled', attempts: 0 });
    expect(rx.requests).toHaveLength(1);
  });

  it('dead-letters a delivery after its last attempt', async () => {
    const rx = await receiver(() => ({ status: 500 }));
    const r = await responder([policy('dead', 'env-dead', rx, { retry: { maxAttempts: 3 } })]);
    const id = await raise('env-dead', 'dead-1');

    const views = await settled(r, id, finalStatus);

    expect(rx.requests).toHaveLength(3);
    expect(views[0]).toMatchObject({ status: 'dead', attempts: 3, lastError: expect.stringContaining('HTTP 500') });
    expect(views[0]?.attemptLog.map((a) => a.status)).toEqual(['failed', 'failed', 'dead']);
    const letters = await r.deliveryLog.deadLetters();
    expect(letters.find((l) => l.webhookId === views[0]?.webhookId)).toMatchObject({ attempts: 3, lastHttpStatus: 500, alertId: id });
  });

  it('in dry-run records the body it would send and sends nothing', async () => {
    const rx = await receiver();
    const r = await responder([policy('dry', 'env-dry', rx, { dryRun: true })]);
    const id = await raise('env-dry', 'dry-1');

    const views = await settled(r, id, finalStatus);

    expect(views[0]).toMatchObject({ status: 'dry_run', dryRun: true });
    expect(views[0]?.attemptLog).toEqual([expect.objectContaining({ status: 'dry_run', httpStatus: 0 })]);
    expect((JSON.parse(views[0]?.payload ?? '{}') as RevokeRequestBody).data.alert.id).toBe(id);
    expect(rx.requests).toHaveLength(0);
  });

  it('holds the rate limit under a burst of 1,000 qualifying alerts: pauses the policy and raises an alert saying why', async () => {
    const rx = await receiver();
    const r = await responder([policy('burst', 'env-burst', rx, { maxPerMinute: 5 })]);
    const findings: Finding[] = Array.from({ length: 1000 }, (_, i) => ({
      key: 'slack',
      severity: 'high',
      reason: `token burst-${i} was used against slack`,
      tokenId: `burst-${i}`,
      rootTokenId: `burst-${i}`,
      agentId: 'triage-bot',
      taskId: 'T-1',
      caller: 'triage-svc',
      target: 'slack',
      environment: 'env-burst',
      evidence: { traceId: 'b'.repeat(32), spanId: i.toString(16).padStart(16, '0'), time: new Date().toISOString() },
    }));
    await alerts.record(SOURCE, findings);

    const counts = await eventually(
      async () => (await r.policyService.policyView('burst')).requests,
      (c) => (c.delivered ?? 0) + (c.held ?? 0) === 1000,
      { timeoutMs: 30_000 },
    );

    expect(counts).toEqual({ delivered: 5, held: 995 });
    expect(rx.revoked.size).toBe(5);
    expect(rx.requests.every((q) => q.verified)).toBe(true);
    expect(r.policies.state('burst')).toMatchObject({ state: 'paused', reason: expect.stringContaining('more than 5 revocations') });
    const page = await alerts.list({ detector: BREAKER_SOURCE.id });
    expect(page.alerts).toEqual([
      expect.objectContaining({
        severity: 'high',
        rootTokenId: 'policy:burst',
        reason: expect.stringContaining('Revoke policy burst paused'),
      }),
    ]);
  });

  it('on resume, re-queues held requests when asked to release them (the rate limit still applies)', async () => {
    const rx = await receiver();
    let clock = Date.now();
    const r = await responder([policy('resume', 'env-resume', rx, { maxPerMinute: 2 })], {
      rateLimiter: new MemoryRateLimiter(() => clock),
    });
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(await raise('env-resume', `resume-${i}`));
    await eventually(
      async () => (await r.policyService.policyView('resume')).requests,
      (c) => (c.delivered ?? 0) === 2 && (c.held ?? 0) === 2,
    );

    clock += 61_000;
    const out = await r.policyService.resume('resume', 'key:admin', true);

    expect(out).toMatchObject({ released: 2, discarded: 0 });
    const counts = await eventually(
      async () => (await r.policyService.policyView('resume')).requests,
      (c) => (c.delivered ?? 0) === 4,
    );
    expect(counts).toEqual({ delivered: 4 });
    expect(rx.revoked.size).toBe(4);
  });

  it('revokes each token of a session once per policy, however many alerts and updates concern it', async () => {
    const rx = await receiver();
    const r = await responder([policy('once', 'env-once', rx)]);
    const a = await raise('env-once', 'once-1-r', { rootTokenId: 'once-1', key: 'slack' });
    const b = await raise('env-once', 'once-1', { rootTokenId: 'once-1', key: 'jira', source: { ...SOURCE, id: 'scope_creep' } });
    await settled(r, a, (v) => v.length === 2 && finalStatus(v));
    await raise('env-once', 'once-1-r', { rootTokenId: 'once-1', key: 'slack' });
    const c = await raise('env-once', 'once-2');
    await settled(r, c, finalStatus);

    expect(rx.revoked.size).toBe(3);
    expect([...byToken(rx).keys()].sort()).toEqual(['once-1', 'once-1-r', 'once-2']);
    expect(await r.policyService.deliveries(b)).toEqual([]);
  });

  it('works through a burst larger than one read of changed alerts, a page at a time', async () => {
    const rx = await receiver();
    const r = await responder([policy('paged', 'env-paged', rx, { dryRun: true, maxPerMinute: 100 })], { pageSize: 7 });
    await alerts.record(
      SOURCE,
      Array.from({ length: 30 }, (_, i) => ({
        key: 'slack',
        severity: 'high' as const,
        reason: `token paged-${i} was used against slack`,
        tokenId: `paged-${i}`,
        rootTokenId: `paged-${i}`,
        agentId: 'triage-bot',
        taskId: 'T-1',
        caller: 'triage-svc',
        target: 'slack',
        environment: 'env-paged',
        evidence: { traceId: 'f'.repeat(32), spanId: i.toString(16).padStart(16, '0'), time: new Date().toISOString() },
      })),
    );

    const counts = await eventually(
      async () => (await r.policyService.policyView('paged')).requests,
      (c) => (c.dry_run ?? 0) === 30,
    );

    expect(counts).toEqual({ dry_run: 30 });
    expect(rx.requests).toHaveLength(0);
  });

  it('lets an analyst revoke by hand from an alert no policy matches, through the same signed path, once', async () => {
    const rx = await receiver();
    const r = await responder([policy('manual', 'env-nothing-matches', rx)]);
    const id = await raise('env-manual', 'manual-1');

    const requested = await r.trigger.request(id, 'manual', 'key:ana');
    expect(requested).toEqual([
      expect.objectContaining({ status: 'queued', requestedBy: 'analyst:key:ana', alertId: id, token: 'manual-1', relation: 'self' }),
    ]);
    await settled(r, id, finalStatus);

    expect(rx.requests).toHaveLength(1);
    expect(rx.requests[0]?.verified).toBe(true);
    expect((JSON.parse(rx.requests[0]?.body ?? '{}') as RevokeRequestBody).data.requestedBy).toBe('analyst:key:ana');
    await expect(r.trigger.request(id, 'manual', 'key:ana')).rejects.toMatchObject({ name: 'ConflictError', code: 'already_requested' });
    await expect(r.trigger.request(id, 'nope', 'key:ana')).rejects.toMatchObject({ name: 'NotFoundError', code: 'not_found' });
  });

  it('delivers a revoke requested in a process that does not deliver (an API alone) once a delivering responder starts', async () => {
    const rx = await receiver();
    const p = policy('handoff', 'env-none', rx);
    const apiSide = await Responder.open({ store: ts.store, config: ts.config, policies: [p] });
    closing.push(() => apiSide.close());
    const id = await raise('env-handoff', 'handoff-1');

    expect(await apiSide.trigger.request(id, 'handoff', 'key:ana')).toEqual([expect.objectContaining({ status: 'queued' })]);
    const worker = await responder([p]);
    const views = await settled(worker, id, finalStatus);

    expect(views[0]).toMatchObject({ status: 'delivered', attempts: 1 });
    expect(rx.revoked.size).toBe(1);
  });

  it('after a restart mid-retry, sends the next attempt no earlier than the Retry-After recorded before it (in-process)', async () => {
    const rx = await receiver((n) => (n === 1 ? { status: 503, headers: { 'retry-after': '2' } } : { status: 204 }));
    const p = policy('restart-wait', 'env-restart-wait', rx);
    const first = await responder([p]);
    const id = await raise('env-restart-wait', 'restart-wait-1');
    const pending = await settled(first, id, (v) => v[0]?.status === 'retrying');
    const due = Date.parse(pending[0]?.attemptLog[0]?.nextAttemptAt ?? '');
    expect(due).toBeGreaterThan(rx.requests[0]?.receivedAt ?? Number.NaN);

    // The process goes away with the retry pending in its memory; a new one reads it from the store.
    await first.close();
    const second = await responder([p]);
    const views = await settled(second, id, finalStatus);

    expect(views[0]).toMatchObject({ status: 'delivered', attempts: 2 });
    expect(rx.requests.map((q) => q.status)).toEqual([503, 204]);
    expect(new Set(rx.requests.map((q) => q.webhookId)).size).toBe(1);
    // Timers may fire a millisecond before the wall clock's reading of the due time.
    expect(rx.requests[1]?.receivedAt).toBeGreaterThanOrEqual(due - 5);
  });

  it('sends a CAEP session-revoked event per token as the body when the policy asks for it', async () => {
    const rx = await receiver();
    const r = await responder([policy('caep', 'env-caep', rx, { body: 'caep' })]);
    const id = await raise('env-caep', 'caep-1-r', { rootTokenId: 'caep-1' });

    await settled(r, id, (v) => v.length === 2 && finalStatus(v));

    expect(rx.requests).toHaveLength(2);
    const subjects = rx.requests.map((q) => {
      const set = JSON.parse(q.body) as { sub_id: { id: string } };
      expect(q.verified).toBe(true);
      expect(set).toMatchObject({
        iss: 'intentwatch',
        jti: q.webhookId,
        sub_id: { format: 'opaque' },
        events: { [CAEP_SESSION_REVOKED]: { initiating_entity: 'policy', reason_admin: { en: expect.stringContaining(id) } } },
        intentwatch: { alertId: id, revoke: { token: set.sub_id.id, tokens: [set.sub_id.id], sessionRoot: 'caep-1' } },
      });
      return set.sub_id.id;
    });
    expect(subjects.sort()).toEqual(['caep-1', 'caep-1-r']);
  });

  it('acts on nothing an active suppression mutes', async () => {
    const rx = await receiver();
    const r = await responder([policy('muted', 'env-muted', rx)]);
    const expires = new Date(Date.now() + 3_600_000).toISOString();
    await new SuppressionStore(ts.store).create(
      { detector: '*', scope: 'agent', value: 'noisy-bot', reason: 'known migration', expiresAt: expires },
      'key:ana',
    );
    const muted = await raise('env-muted', 'muted-1', { agentId: 'noisy-bot' });
    const loud = await raise('env-muted', 'muted-2');

    await settled(r, loud, finalStatus);

    expect(await r.policyService.deliveries(muted)).toEqual([]);
    expect(rx.requests).toHaveLength(1);
  });
});

describe('Responder endpoint safety', () => {
  const strict = (): Pick<CoreSettings, 'redisUrl'> & Pick<ResponderSettings, 'responders'> => ({
    ...ts.config,
    responders: { ...ts.config.responders, webhookAllow: [] },
  });

  it('refuses a policy whose endpoint is a private address, or a name resolving to loopback', async () => {
    const r = await Responder.open({ store: ts.store, config: strict() });
    closing.push(() => r.close());
    const body = (url: string) => ({ id: 'private', endpoint: { url, secrets: [SECRET] } });

    await expect(r.policyService.putPolicy(body('https://10.0.0.7/revoke'), 'key:admin')).rejects.toMatchObject({
      name: 'InvalidInputError',
      code: 'endpoint_refused',
    });
    await expect(r.policyService.putPolicy(body('https://169.254.169.254/latest'), 'key:admin')).rejects.toMatchObject({
      name: 'InvalidInputError',
    });
    await expect(r.policyService.putPolicy(body('https://localhost:8443/revoke'), 'key:admin')).rejects.toMatchObject({
      name: 'InvalidInputError',
    });
    await expect(r.policyService.putPolicy(body('http://broker.example.com/revoke'), 'key:admin')).rejects.toMatchObject({
      name: 'InvalidInputError',
    });
    expect(r.policies.get('private')).toBeUndefined();
  });

  it('refuses a policy file whose endpoint is a private address at start-up', async () => {
    const p = parsePolicy({ id: 'file-private', endpoint: { url: 'http://10.0.0.7/revoke', secrets: [SECRET] } }, 'file');
    await expect(Responder.open({ store: ts.store, config: strict(), policies: [p] })).rejects.toThrow(/file-private/);
  });

  it('refuses at delivery a name that resolves to loopback, and the receiver never hears of it', async () => {
    const rx = await receiver();
    const url = rx.url.replace('http://127.0.0.1', 'https://localhost');
    const p = parsePolicy({ id: 'rebound', match: { environments: ['env-rebound'] }, endpoint: { url, secrets: [SECRET] } }, 'file');
    const r = await responder([p], { config: strict() });
    const id = await raise('env-rebound', 'rebound-1');

    const views = await settled(r, id, finalStatus);

    expect(views[0]).toMatchObject({ status: 'refused', lastError: expect.stringMatching(/loopback/) });
    expect(rx.requests).toHaveLength(0);
  });
});

/** Every column of every table of the store, as text (secrets must appear nowhere in it). */
async function everythingStored(store: Store): Promise<string> {
  const tables = await store.query<{ name: string }>('SELECT name FROM system.tables WHERE database = currentDatabase()');
  const parts: string[] = [];
  for (const { name } of tables) {
    const rows = await store.query(`SELECT * FROM ${quoteIdentifier(name)}`, undefined, {
      asterisk_include_materialized_columns: 1,
      asterisk_include_alias_columns: 1,
    });
    parts.push(`${name}\n${rows.map((r) => JSON.stringify(r)).join('\n')}`);
  }
  return parts.join('\n');
}

describe('Responder secrets at rest', () => {
  it('keeps signing with a policy an earlier version stored with a plain secret, and encrypts it once a secrets key is set', async () => {
    const rx = await receiver();
    // The row as an earlier version wrote it: the whsec_ secret itself in the body.
    const body = {
      id: 'legacy',
      description: 'stored before secrets were encrypted',
      enabled: true,
      match: { environments: ['env-legacy'] },
      endpoint: { url: rx.url, secrets: [SECRET] },
      revoke: 'session',
      body: 'standard',
      dryRun: false,
      maxPerMinute: 10,
    };
    await ts.store.insert('responder_policies', [
      {
        id: 'legacy',
        body: JSON.stringify(body),
        deleted: 0,
        updated_by: 'key:admin',
        updated_at: new Date().toISOString(),
        version: nextVersion(),
      },
    ]);

    const before = await responder([]);
    const first = await raise('env-legacy', 'legacy-1');
    expect((await settled(before, first, finalStatus))[0]).toMatchObject({ status: 'delivered' });
    await before.close();
    expect(await everythingStored(ts.store)).toContain(SECRET);

    const keyed = await responder([], {
      config: { ...ts.config, responders: { ...ts.config.responders, secretsKey: new SecretKey(randomBytes(32)) } },
    });
    expect(await everythingStored(ts.store)).not.toContain(SECRET.slice('whsec_'.length));
    const second = await raise('env-legacy', 'legacy-2');
    expect((await settled(keyed, second, finalStatus))[0]).toMatchObject({ status: 'delivered' });

    expect(rx.requests.map((q) => q.verified)).toEqual([true, true]);
    expect(rx.revoked.size).toBe(2);
    expect((await keyed.policyService.policyView('legacy')).endpoint.secrets).toEqual([redactSecret(SECRET)]);
    await keyed.policyService.deletePolicy('legacy', 'key:admin');
  });
});
