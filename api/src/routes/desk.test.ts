import type { Alert } from '@intentwatch/alerts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentDetailOut, AgentSummaryOut, AlertDetailOut, AlertSummaryOut, TokenDetailOut } from '../contract/schemas.js';
import { DeskHarness, KEYS, propagationScenario } from '../../testing/desk-harness.js';

/** The analyst's path over misuse that went through the real collector and the real detectors. */
describe('the analyst desk API', () => {
  let h: DeskHarness;
  let alerts: Alert[];
  const json = async <T>(path: string, init: Parameters<DeskHarness['call']>[1] = {}): Promise<T> => {
    const res = await h.call(path, init);
    const body = await res.json();
    expect(res.ok, `${path} → ${res.status} ${JSON.stringify(body)}`).toBe(true);
    return body as T;
  };
  const byDetector = (d: string) => alerts.find((a) => a.detector === d) as Alert;

  beforeAll(async () => {
    h = await DeskHarness.start();
    alerts = await h.playMisuse();
  });
  afterAll(async () => h?.close());

  it('serves an alert with its evidence resolved from the stored spans and its token’s intent against its use', async () => {
    const scope = alerts.find((a) => a.detector === 'scope_creep' && a.reason.includes('contents:write')) as Alert;
    const a = await json<AlertDetailOut>(`/v1/alerts/${scope.id}`);
    expect(a.evidence).toHaveLength(1);
    expect(a.evidence[0]?.use).toMatchObject({
      tokenId: 'tok-7f3a',
      agentId: 'triage-bot',
      caller: 'triage-bot-svc',
      target: 'github',
      action: 'push_commit',
      tool: 'push_commit',
      scopes: ['contents:write'],
      resource: 'repos/acme/billing/contents/config.yml',
      environment: 'prod',
      alertIds: expect.arrayContaining([scope.id]),
    });
    expect(a.grant).toMatchObject({ event: 'issued', agentId: 'triage-bot', audience: ['github', 'slack'] });
    expect(a.task).toMatchObject({ taskId: 'T-1042', tools: ['list_issues', 'get_issue', 'post_message'] });
    const outside = (d: keyof AlertDetailOut['intentVsActual']) =>
      (a.intentVsActual[d] as { used: { value: string; allowed: boolean | null }[] }).used
        .filter((u) => u.allowed === false)
        .map((u) => u.value);
    expect(outside('services')).toEqual(['aws-s3']);
    expect(outside('scopes')).toEqual(['contents:write']);
    expect(outside('resources')).toEqual(['repos/acme/billing/contents/config.yml']);
    expect(outside('tools')).toEqual(['push_commit']);
    expect(outside('agents')).toEqual([]);
    expect(a.intentVsActual.intent).toBe('Triage new issues in acme/api and post a summary to #triage');
    expect(a.history).toEqual([expect.objectContaining({ action: 'raised', actor: 'detector:scope_creep', toStatus: 'open' })]);

    // Time is part of the intent: the revoked token's alert shows its use after the revocation.
    const stale = await json<AlertDetailOut>(`/v1/alerts/${byDetector('stale_token_use').id}`);
    expect(stale.lifetime.revokedAt).not.toBeNull();
    expect(Date.parse(stale.lifetime.lastUse as string)).toBeGreaterThan(Date.parse(stale.lifetime.revokedAt as string));
    expect(stale.evidence[0]?.use?.time).toBe(stale.lifetime.lastUse);
  });

  it('keeps every triage change as an audit event — who, when, what — visible in the alert', async () => {
    const target = byDetector('stale_token_use');
    const started = Date.now();
    await json(`/v1/alerts/${target.id}`, {
      method: 'PATCH',
      key: KEYS.analyst,
      body: JSON.stringify({ status: 'acknowledged', assignee: 'dana' }),
    });
    await json(`/v1/alerts/${target.id}`, {
      method: 'PATCH',
      key: KEYS.analyst2,
      body: JSON.stringify({ note: 'token rotated by the broker at 11:14; deploy-bot kept the old one' }),
    });
    const resolved = await json<Alert>(`/v1/alerts/${target.id}`, {
      method: 'PATCH',
      key: KEYS.admin,
      body: JSON.stringify({ status: 'resolved', assignee: null }),
    });
    expect(resolved).toMatchObject({ status: 'resolved', assignee: null });

    const a = await json<AlertDetailOut>(`/v1/alerts/${target.id}`);
    expect(a.notes).toEqual([
      expect.objectContaining({ author: expect.stringMatching(/^key:analyst:[0-9a-f]{8}$/), text: expect.stringContaining('rotated') }),
    ]);
    const trail = a.history.filter((e) => e.action !== 'raised');
    expect(trail.map((e) => [e.action, e.detail])).toEqual([
      ['status', 'status open → acknowledged'],
      ['assigned', 'assigned to dana'],
      ['note', 'token rotated by the broker at 11:14; deploy-bot kept the old one'],
      ['status', 'status acknowledged → resolved'],
      ['assigned', 'unassigned'],
    ]);
    const [ack, , note, resolve] = trail;
    expect(ack?.actor).not.toBe(note?.actor);
    expect(resolve?.actor).toMatch(/^key:admin:[0-9a-f]{8}$/);
    for (const e of trail) expect(Date.parse(e.time)).toBeGreaterThanOrEqual(started - 1000);

    // The queue reads the same state.
    const resolvedList = await json<{ alerts: Alert[] }>('/v1/alerts?status=resolved');
    expect(resolvedList.alerts.map((x) => x.id)).toEqual([target.id]);
  });

  it('serves a token with its grants, session, delegation chain, intent vs actual and timeline of uses', async () => {
    const t = await json<TokenDetailOut>('/v1/tokens/tok-7f3b');
    expect(t).toMatchObject({ tokenId: 'tok-7f3b', status: 'active', grant: { event: 'refreshed', parentId: 'tok-7f3a' } });
    expect(t.session.rootTokenId).toBe('tok-7f3a');
    expect(t.session.tokens.map((l) => [l.tokenId, l.event, l.current])).toEqual([
      ['tok-7f3a', 'issued', false],
      ['tok-7f3b', 'refreshed', true],
    ]);
    expect(t.session.maxSessionS).toBe(4 * 3600);
    expect(t.delegation.chain.map((l) => l.tokenId)).toEqual(['tok-7f3a']);
    expect(t.delegation.delegatedTo).toEqual([
      expect.objectContaining({ tokenId: 'tok-9c21', agentId: 'summarizer-bot', event: 'exchanged' }),
    ]);
    expect(t.uses).toMatchObject({ total: 1, truncated: false });
    expect(t.alerts.map((a) => a.rootTokenId)).toEqual(expect.arrayContaining(['tok-7f3a']));
    expect(t.task?.intent).toContain('Triage');

    const delegated = await json<TokenDetailOut>('/v1/tokens/tok-9c21');
    expect(delegated.delegation.chain.map((l) => [l.tokenId, l.agentId])).toEqual([
      ['tok-7f3a', 'triage-bot'],
      ['tok-9c21', 'summarizer-bot'],
    ]);
    expect(delegated.intentVsActual.agents.used.map((u) => [u.value, u.allowed])).toEqual(
      expect.arrayContaining([
        ['summarizer-bot', true],
        ['exfil-bot', false],
      ]),
    );
    const flagged = delegated.uses.items.filter((u) => u.alertIds.length > 0);
    expect(flagged.map((u) => u.agentId)).toEqual(['exfil-bot']);

    const revoked = await json<TokenDetailOut>('/v1/tokens/tok-51de');
    expect(revoked.status).toBe('revoked');
    expect(revoked.lifetime.revokedAt).not.toBeNull();
    expect(revoked.uses.items.map((u) => u.alertIds.length > 0)).toEqual([true, false]);

    const ghost = await json<TokenDetailOut>('/v1/tokens/tok-ghost');
    expect(ghost).toMatchObject({ status: 'ungoverned', grant: null, intentVsActual: { grantKnown: false } });
    expect(ghost.intentVsActual.services.used).toEqual([{ value: 'postgres', count: 1, allowed: null }]);

    const few = await json<TokenDetailOut>('/v1/tokens/tok-7f3a?uses=2');
    expect(few.uses).toMatchObject({ total: 5, truncated: true });
    expect(few.uses.items).toHaveLength(2);
  });

  it('lists agents with their tokens, activity and open alerts, and serves one agent', async () => {
    const { agents } = await json<{ agents: AgentSummaryOut[] }>('/v1/agents');
    const triage = agents.find((a) => a.agentId === 'triage-bot');
    expect(triage).toMatchObject({ tokens: 2, tokensUsed: 2, uses: 6, worstOpenSeverity: 'high' });
    expect(agents.find((a) => a.agentId === 'exfil-bot')).toMatchObject({ tokens: 0, tokensUsed: 1, worstOpenSeverity: 'critical' });
    expect((await json<{ agents: AgentSummaryOut[] }>('/v1/agents?q=EXFIL')).agents.map((a) => a.agentId)).toEqual(['exfil-bot']);

    const exfil = await json<AgentDetailOut>('/v1/agents/exfil-bot');
    expect(exfil.tokenList).toEqual([expect.objectContaining({ tokenId: 'tok-9c21', grantedTo: 'summarizer-bot', uses: 1 })]);
    expect(exfil.alerts.map((a) => a.detector)).toEqual(['cross_service_reuse']);

    const bot = await json<AgentDetailOut>('/v1/agents/triage-bot');
    expect(bot.tasks.map((t) => t.taskId)).toEqual(['T-1042']);
    expect(bot.activity.buckets.reduce((n, b) => n + b.uses, 0)).toBe(6);
    expect(bot.activity.buckets.reduce((n, b) => n + b.flagged, 0)).toBe(2);
    expect(bot.activity.byTarget[0]).toEqual({ value: 'github', count: 4 });
  });

  it('suppresses: muted alerts leave the open queue but stay stored and counted, and come back when lifted', async () => {
    const reuse = alerts.filter((a) => a.detector === 'cross_service_reuse' && a.agentId === 'triage-bot');
    expect(reuse).toHaveLength(1);
    const before = await json<AlertSummaryOut>('/v1/alerts/summary');
    const created = await json<{ id: string }>('/v1/suppressions', {
      method: 'POST',
      key: KEYS.analyst,
      body: JSON.stringify({
        detector: 'cross_service_reuse',
        scope: 'agent',
        value: 'triage-bot',
        reason: 'the export job to aws-s3 is approved until Friday',
        expiresAt: new Date(Date.now() + 2 * 3600_000).toISOString(),
      }),
    });
    const open = await json<{ alerts: Alert[] }>('/v1/alerts?status=open&limit=500');
    expect(open.alerts.map((a) => a.id)).not.toContain(reuse[0]?.id);
    const only = await json<{ alerts: (Alert & { suppression: { id: string; reason: string } | null })[] }>('/v1/alerts?suppressed=only');
    expect(only.alerts.map((a) => [a.id, a.suppression?.id])).toEqual([[reuse[0]?.id, created.id]]);
    const during = await json<AlertSummaryOut>('/v1/alerts/summary');
    expect(during.total).toBe(before.total);
    expect(during.suppressed).toBe(before.suppressed + 1);
    expect(during.byStatus.open).toBe(before.byStatus.open - 1);
    const detail = await json<AlertDetailOut>(`/v1/alerts/${reuse[0]?.id}`);
    expect(detail.suppression).toMatchObject({ id: created.id, reason: expect.stringContaining('approved'), active: true });

    const metrics = await (await h.call('/metrics')).text();
    expect(metrics).toMatch(/intentwatch_alerts\{detector="cross_service_reuse",severity="high",status="suppressed"\} 1/);
    expect(metrics).toMatch(/intentwatch_suppressions_active 1/);
    expect(metrics).toMatch(/intentwatch_triage_queue_depth\{severity="critical"\} \d/);
    expect(metrics).toMatch(/intentwatch_api_requests_total\{method="GET",route="\/v1\/alerts\/summary",status="200"\}/);

    await json(`/v1/suppressions/${created.id}`, { method: 'DELETE', key: KEYS.analyst });
    const after = await json<{ alerts: Alert[] }>('/v1/alerts?status=open&limit=500');
    expect(after.alerts.map((a) => a.id)).toContain(reuse[0]?.id);
    expect((await json<{ suppressions: unknown[] }>('/v1/suppressions')).suppressions).toEqual([]);
    expect((await json<{ suppressions: unknown[] }>('/v1/suppressions?all=true')).suppressions).toHaveLength(1);
  });

  it('filters, sorts, searches and pages the queue', async () => {
    const critical = await json<{ alerts: Alert[] }>('/v1/alerts?severity=critical&suppressed=include&status=open,acknowledged,resolved');
    expect(critical.alerts.map((a) => a.detector).sort()).toEqual(['cross_service_reuse', 'stale_token_use']);
    const bySeverity = await json<{ alerts: Alert[] }>(
      '/v1/alerts?sort=severity&suppressed=include&status=open,acknowledged,resolved,false_positive',
    );
    const ranks = bySeverity.alerts.map((a) => ['low', 'medium', 'high', 'critical'].indexOf(a.severity));
    expect(ranks).toEqual([...ranks].sort((x, y) => y - x));
    expect((await json<{ alerts: Alert[] }>('/v1/alerts?q=billing')).alerts.map((a) => a.detector)).toEqual(['scope_creep']);
    const seen: string[] = [];
    let cursor = '';
    for (let i = 0; i < 10; i++) {
      const page = await json<{ alerts: Alert[]; nextCursor: string | null }>(
        `/v1/alerts?limit=2&suppressed=include${cursor ? `&cursor=${cursor}` : ''}`,
      );
      seen.push(...page.alerts.map((a) => a.id));
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.length).toBe(alerts.length);
  });

  // Last: it adds a lineage (and its alert) that the counts above do not expect.
  it('shows a revocation reaching every token of the lineage: its session and everything delegated from it', async () => {
    const base = Date.now() - 25 * 60_000;
    await h.send(propagationScenario(base), base);
    await h.detect();

    const used = await json<TokenDetailOut>('/v1/tokens/tok-prop-x1');
    expect(used).toMatchObject({ status: 'revoked', state: { status: 'revoked_through_delegator', revokedBy: 'tok-prop-0' } });
    const through = (links: TokenDetailOut['session']['tokens']) => links.map((l) => [l.tokenId, l.state.revokedVia, l.state.revokedBy]);
    expect(through(used.session.tokens)).toEqual([
      ['tok-prop-x', 'delegator', 'tok-prop-0'],
      ['tok-prop-x1', 'delegator', 'tok-prop-0'],
    ]);
    expect(through(used.delegation.chain)).toEqual([
      ['tok-prop-0', 'self', 'tok-prop-0'],
      ['tok-prop-x', 'delegator', 'tok-prop-0'],
    ]);
    // The timeline marks the instant the token lost its authority.
    expect(used.lifetime.revokedAt).toBe(used.state.revokedAt);

    const root = await json<TokenDetailOut>('/v1/tokens/tok-prop-0');
    expect(root.state.status).toBe('revoked');
    expect(through(root.session.tokens)).toEqual([
      ['tok-prop-0', 'self', 'tok-prop-0'],
      ['tok-prop-1', 'session', 'tok-prop-0'],
    ]);
    expect(through(root.delegation.delegatedTo)).toEqual([
      ['tok-prop-x', 'delegator', 'tok-prop-0'],
      ['tok-prop-x1', 'delegator', 'tok-prop-0'],
    ]);

    // A renewal extends the same token: the page shows its renewed expiry, and its use is not stale.
    const renewed = await json<TokenDetailOut>('/v1/tokens/tok-renew');
    expect(renewed).toMatchObject({ status: 'active', state: { status: 'valid', renewedUntil: expect.any(String) } });
    expect(renewed.lifetime.expiresAt).toBe(renewed.state.renewedUntil);
    expect(renewed.events.map((e) => e.event)).toEqual(['issued', 'renewed']);
    expect((await json<{ alerts: Alert[] }>('/v1/alerts?tokenId=tok-renew')).alerts).toEqual([]);

    const stale = await json<{ alerts: Alert[] }>('/v1/alerts?detector=stale_token_use&tokenId=tok-prop-x1');
    expect(stale.alerts.map((a) => [a.severity, a.rootTokenId])).toEqual([['critical', 'tok-prop-x']]);
    expect(stale.alerts[0]?.reason).toContain('token tok-prop-0, from which it was delegated, was revoked (task cancelled)');
  });
});
