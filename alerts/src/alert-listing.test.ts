import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestStore, openTestStore } from '@intentwatch/testkit';
import { type AlertFilter, AlertStore } from './alert-store.js';
import type { Alert, AlertSource, Finding, Severity } from './model.js';
import { SUPPRESSIONS_REREAD_MS, type SuppressionMatcher, SuppressionStore, suppressionMatches } from './suppression-store.js';
import { nextVersion } from '@intentwatch/core';

const reuse: AlertSource = { id: 'cross_service_reuse', title: 'Token reused across services', frameworks: ['OWASP-ASI03'] };
const creep: AlertSource = { id: 'scope_creep', title: 'Scope creep', frameworks: ['OWASP-ASI03', 'OWASP-ASI02'] };

interface Seed {
  n: number;
  severity: Severity;
  agent: string;
  target: string;
  env: string;
  hits: number;
}

// Eight alerts whose sort keys all differ in a known way: n orders last seen, hits orders count.
const SEEDS: Seed[] = [
  { n: 1, severity: 'low', agent: 'triage-bot', target: 'github', env: 'prod', hits: 3 },
  { n: 2, severity: 'critical', agent: 'triage-bot', target: 'slack', env: 'prod', hits: 1 },
  { n: 3, severity: 'high', agent: 'deploy-bot', target: 's3', env: 'staging', hits: 5 },
  { n: 4, severity: 'medium', agent: 'deploy-bot', target: 'slack', env: 'prod', hits: 2 },
  { n: 5, severity: 'high', agent: 'report-bot', target: 'jira', env: 'dev', hits: 4 },
  { n: 6, severity: 'critical', agent: 'report-bot', target: 'github', env: 'prod', hits: 6 },
  { n: 7, severity: 'low', agent: 'triage-bot', target: 'vault', env: 'staging', hits: 7 },
  { n: 8, severity: 'high', agent: 'deploy-bot', target: 'github', env: 'prod', hits: 8 },
];

function findings(s: Seed): Finding[] {
  return Array.from({ length: s.hits }, (_, h) => ({
    key: s.target,
    severity: s.severity,
    reason: `token tok-${s.n} of agent ${s.agent} was used against ${s.target}`,
    tokenId: `tok-${s.n}`,
    rootTokenId: `root-${s.n}`,
    agentId: s.agent,
    taskId: `T-${s.n}`,
    caller: `${s.agent}-svc`,
    target: s.target,
    environment: s.env,
    // First and last seen grow with n; the count is `hits`.
    evidence: {
      traceId: 'c'.repeat(32),
      spanId: `${s.n}${h}`.padStart(16, '0'),
      time: `2026-11-25T10:${String(10 + s.n).padStart(2, '0')}:0${h}Z`,
    },
  }));
}

describe('AlertStore listing', () => {
  let t: TestStore;
  let alerts: AlertStore;
  const all = async (filter: AlertFilter, pageSize = 3): Promise<Alert[]> => {
    const out: Alert[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 20; i++) {
      const page = await alerts.list({ ...filter, limit: pageSize, ...(cursor ? { cursor } : {}) });
      out.push(...page.alerts);
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    return out;
  };
  const ns = (list: Alert[]) => list.map((a) => Number(a.tokenId.slice(4)));

  beforeAll(async () => {
    t = await openTestStore();
    alerts = new AlertStore(t.store);
    for (const s of SEEDS) await alerts.record(s.n === 5 ? creep : reuse, findings(s));
  });
  afterAll(async () => t?.dispose());

  it('pages through every sort and order without gaps or repeats', async () => {
    expect(ns(await all({}))).toEqual([8, 7, 6, 5, 4, 3, 2, 1]);
    expect(ns(await all({ order: 'asc' }))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(ns(await all({ sort: 'count' }))).toEqual([8, 7, 6, 3, 5, 1, 4, 2]);
    expect(ns(await all({ sort: 'severity' }))).toEqual([6, 2, 8, 5, 3, 4, 7, 1]);
    expect(ns(await all({ sort: 'severity', order: 'asc' }))).toEqual([1, 7, 4, 3, 5, 8, 2, 6]);
    expect(ns(await all({ sort: 'firstSeen' }, 2))).toEqual([8, 7, 6, 5, 4, 3, 2, 1]);
  });

  it('filters by several values, target, environment, and text anywhere in the alert', async () => {
    expect(ns(await all({ severity: ['critical', 'high'] }))).toEqual([8, 6, 5, 3, 2]);
    expect(ns(await all({ detector: 'scope_creep' }))).toEqual([5]);
    expect(ns(await all({ target: 'github', environment: 'prod' }))).toEqual([8, 6, 1]);
    expect(ns(await all({ q: 'DEPLOY-BOT' }))).toEqual([8, 4, 3]);
    expect(ns(await all({ q: 'root-7' }))).toEqual([7]);
    expect(ns(await all({ tokenId: 'root-2' }))).toEqual([2]);
  });

  it('treats hostile filter values as plain text: no match, no error', async () => {
    for (const hostile of ["' OR 1=1 --", "x') OR ('1'='1", '{q:String}', '\\', '%', '_', "'; DROP TABLE alerts; --"]) {
      expect((await alerts.list({ q: hostile, agentId: hostile })).alerts).toEqual([]);
      expect((await alerts.list({ tokenId: hostile, target: hostile, environment: hostile, assignee: hostile })).alerts).toEqual([]);
    }
    expect(ns(await all({}))).toHaveLength(8);
  });

  it('refuses malformed values and cursors of another sort as invalid input naming the field', async () => {
    await expect(alerts.list({ severity: ['high', 'urgent'] })).rejects.toMatchObject({ name: 'InvalidInputError', message: /severity/ });
    await expect(alerts.list({ sort: 'name' as never })).rejects.toMatchObject({ name: 'InvalidInputError', message: /sort/ });
    const page = await alerts.list({ sort: 'count', limit: 2 });
    await expect(alerts.list({ sort: 'severity', cursor: page.nextCursor! })).rejects.toMatchObject({
      name: 'InvalidInputError',
      message: /cursor/,
    });
    await expect(
      alerts.list({ cursor: Buffer.from('{"s":"lastSeen","o":"desc","k":["1) OR 1=1"],"id":"x"}').toString('base64url') }),
    ).rejects.toMatchObject({
      name: 'InvalidInputError',
    });
  });
});

describe('Suppressions', () => {
  let t: TestStore;
  let alerts: AlertStore;
  let suppressions: SuppressionStore;
  const inAnHour = () => new Date(Date.now() + 3600_000).toISOString();

  beforeAll(async () => {
    t = await openTestStore();
    alerts = new AlertStore(t.store);
    suppressions = new SuppressionStore(t.store);
    for (const s of SEEDS) await alerts.record(s.n === 5 ? creep : reuse, findings(s));
  });
  afterAll(async () => t?.dispose());

  it('mute exactly the alerts the JavaScript rule says, in SQL, for every scope', async () => {
    const everything = (await alerts.list({ limit: 500, suppressed: 'include' })).alerts;
    const matchers: SuppressionMatcher[] = [
      { detector: 'cross_service_reuse', scope: 'agent', value: 'deploy-bot' },
      { detector: '*', scope: 'environment', value: 'staging' },
      { detector: 'scope_creep', scope: 'target', value: 'jira' },
      { detector: 'cross_service_reuse', scope: 'token', value: 'root-2' },
      { detector: 'scope_creep', scope: 'agent', value: 'triage-bot' },
      { detector: 'cross_service_reuse', scope: 'token', value: 'tok-1' },
    ];
    for (const m of matchers) {
      const expected = everything
        .filter((a) => suppressionMatches(m, a))
        .map((a) => a.id)
        .sort();
      const only = (await alerts.list({ limit: 500, suppressions: [m], suppressed: 'only' })).alerts.map((a) => a.id).sort();
      const rest = (await alerts.list({ limit: 500, suppressions: [m] })).alerts.map((a) => a.id);
      expect(only, JSON.stringify(m)).toEqual(expected);
      expect(rest.filter((id) => expected.includes(id))).toEqual([]);
      expect(rest.length + only.length).toBe(everything.length);
    }
  });

  it('are stored with reason, author and expiry; keep muted alerts counted; stop muting when lifted', async () => {
    const s = await suppressions.create(
      {
        detector: 'cross_service_reuse',
        scope: 'agent',
        value: 'deploy-bot',
        reason: 'deploy-bot migration this week',
        expiresAt: inAnHour(),
      },
      'key:analyst',
    );
    expect(s).toMatchObject({ scope: 'agent', value: 'deploy-bot', author: 'key:analyst', deletedAt: null });
    const active = await suppressions.active();
    expect(active.map((x) => x.id)).toEqual([s.id]);

    const open = await alerts.list({ status: 'open', suppressions: active, limit: 500 });
    expect(open.alerts.map((a) => a.agentId)).not.toContain('deploy-bot');
    const counts = await alerts.counts({ suppressions: active });
    expect(counts.filter((c) => c.suppressed).reduce((n, c) => n + c.count, 0)).toBe(3);
    expect(counts.reduce((n, c) => n + c.count, 0)).toBe(8);

    // An alert someone already works on stays in view.
    const deploy = (await alerts.list({ agentId: 'deploy-bot', suppressed: 'include', limit: 1 })).alerts[0]!;
    await alerts.updateTriage(deploy.id, { status: 'acknowledged' }, 'key:analyst');
    expect((await alerts.list({ suppressions: active, limit: 500 })).alerts.map((a) => a.id)).toContain(deploy.id);

    const lifted = await suppressions.lift(s.id, 'key:admin');
    expect(lifted).toMatchObject({ deletedBy: 'key:admin', deletedAt: expect.any(String) });
    expect(await suppressions.active()).toEqual([]);
    expect((await suppressions.list({ all: true })).map((x) => x.id)).toEqual([s.id]);
    await expect(suppressions.lift(s.id, 'key:admin')).rejects.toMatchObject({ name: 'ConflictError' });
    await expect(suppressions.lift('nope', 'key:admin')).rejects.toMatchObject({ name: 'NotFoundError' });
  });

  it('expire on their own and refuse an expiry in the past or beyond a year', async () => {
    const now = Date.now();
    const s = await suppressions.create(
      { detector: '*', scope: 'environment', value: 'dev', reason: 'load test', expiresAt: new Date(now + 60_000).toISOString() },
      'key:analyst',
      now,
    );
    expect((await suppressions.active(now)).map((x) => x.id)).toContain(s.id);
    expect((await suppressions.active(now + 61_000)).map((x) => x.id)).not.toContain(s.id);
    const base = { detector: '*', scope: 'agent' as const, value: 'x', reason: 'r' };
    await expect(suppressions.create({ ...base, expiresAt: new Date(now - 1000).toISOString() }, 'a')).rejects.toMatchObject({
      name: 'InvalidInputError',
    });
    await expect(suppressions.create({ ...base, expiresAt: '2126-01-01T00:00:00Z' }, 'a')).rejects.toMatchObject({
      name: 'InvalidInputError',
    });
    await expect(suppressions.create({ ...base, expiresAt: 'tomorrow' }, 'a')).rejects.toMatchObject({ name: 'InvalidInputError' });
  });

  it('made or lifted through another SuppressionStore of the same store, mute or stop muting at once', async () => {
    const reader = new SuppressionStore(t.store);
    const before = (await reader.active()).map((x) => x.id);
    const writer = new SuppressionStore(t.store);
    const s = await writer.create(
      { detector: 'scope_creep', scope: 'target', value: 'jira', reason: 'jira import', expiresAt: inAnHour() },
      'key:analyst',
    );
    expect((await reader.active()).map((x) => x.id)).toEqual([s.id, ...before]);
    await writer.lift(s.id, 'key:admin');
    expect((await reader.active()).map((x) => x.id)).toEqual(before);
  });

  it('written by another process are seen within the re-read interval', async () => {
    const reader = new SuppressionStore(t.store);
    await reader.active();
    // Another process's write: the row lands in the table without this process's SuppressionStore.
    const id = 'from-another-process';
    await t.store.insert('suppressions', [
      {
        id,
        detector: '*',
        scope: 'agent',
        value: 'elsewhere-bot',
        reason: 'muted from another process',
        author: 'key:other',
        created_at: new Date().toISOString(),
        expires_at: inAnHour(),
        deleted_at: null,
        deleted_by: '',
        version: nextVersion(),
      },
    ]);
    const deadline = Date.now() + 10 * SUPPRESSIONS_REREAD_MS;
    while (!(await reader.active()).some((x) => x.id === id)) {
      if (Date.now() > deadline) throw new Error(`a suppression written elsewhere was not seen within ${10 * SUPPRESSIONS_REREAD_MS} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  it('answer each caller at its own time: a reused list still drops a suppression at its expiry', async () => {
    const now = Date.now();
    const s = await suppressions.create(
      { detector: '*', scope: 'agent', value: 'brief-bot', reason: 'two seconds', expiresAt: new Date(now + 2_000).toISOString() },
      'key:analyst',
      now,
    );
    expect((await suppressions.active(now)).map((x) => x.id)).toContain(s.id);
    expect((await suppressions.active(now + 2_001)).map((x) => x.id)).not.toContain(s.id);
    expect((await suppressions.active(now + 1_000)).map((x) => x.id)).toContain(s.id);
    // Long before the list was read: the store's answer as of then.
    expect(await suppressions.active(now - 3_600_000)).toEqual(await suppressions.list({ now: now - 3_600_000 }));
  });
});
