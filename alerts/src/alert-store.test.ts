import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestStore, openTestStore } from '@intentwatch/testkit';
import { AlertStore } from './alert-store.js';
import { alertId } from './recorder.js';
import type { AlertSource, Finding } from './model.js';

const source: AlertSource = { id: 'cross_service_reuse', title: 'Token reused across services', frameworks: ['OWASP-ASI03', 'OWASP-NHI9'] };

function finding(over: Partial<Finding> & { spanId: string; time: string }): Finding {
  const { spanId, time, ...rest } = over;
  return {
    key: 'slack',
    severity: 'high',
    reason: 'token tok-1 issued to agent triage-bot for task T-9 with audience [github] was used against slack by agent triage-bot',
    tokenId: 'tok-1',
    rootTokenId: 'tok-1',
    agentId: 'triage-bot',
    taskId: 'T-9',
    caller: 'triage-svc',
    target: 'slack',
    environment: 'prod',
    evidence: { traceId: 'a'.repeat(32), spanId, time },
    ...rest,
  };
}

describe('AlertStore', () => {
  let t: TestStore;
  let alerts: AlertStore;
  beforeAll(async () => {
    t = await openTestStore();
    alerts = new AlertStore(t.store);
  });
  afterAll(async () => t?.dispose());

  it('raises one alert per dedup key and adds repeats as evidence', async () => {
    const r = await alerts.record(source, [
      finding({ spanId: '0000000000000001', time: '2026-11-25T10:00:00.000000001Z' }),
      finding({ spanId: '0000000000000002', time: '2026-11-25T10:00:05Z' }),
    ]);
    expect(r).toMatchObject({ raised: 1, newHits: 2 });
    const page = await alerts.list({ tokenId: 'tok-1' });
    expect(page.alerts).toHaveLength(1);
    const a = page.alerts[0]!;
    expect(a).toMatchObject({
      id: alertId('cross_service_reuse', 'tok-1', 'slack'),
      detector: 'cross_service_reuse',
      severity: 'high',
      status: 'open',
      tokenId: 'tok-1',
      rootTokenId: 'tok-1',
      count: 2,
      firstSeen: '2026-11-25T10:00:00.000000001Z',
      lastSeen: '2026-11-25T10:00:05.000000000Z',
      frameworks: ['OWASP-ASI03', 'OWASP-NHI9'],
      assignee: null,
      notes: [],
    });
    expect(a.evidence.map((e) => e.spanId)).toEqual(['0000000000000002', '0000000000000001']);
  });

  it('changes nothing when the same evidence is recorded again', async () => {
    const r = await alerts.record(source, [finding({ spanId: '0000000000000002', time: '2026-11-25T10:00:05Z' })]);
    expect(r).toEqual({ raised: 0, updated: 0, reopened: 0, newHits: 0 });
    const a = await alerts.get(alertId('cross_service_reuse', 'tok-1', 'slack'));
    expect(a?.count).toBe(2);
  });

  it('takes the explanation of more severe evidence, and keeps it over milder repeats', async () => {
    await alerts.record(source, [
      finding({ spanId: '0000000000000003', time: '2026-11-25T10:01:00Z', severity: 'critical', reason: 'worse', agentId: 'rogue' }),
    ]);
    await alerts.record(source, [finding({ spanId: '0000000000000004', time: '2026-11-25T10:02:00Z' })]);
    const a = await alerts.get(alertId('cross_service_reuse', 'tok-1', 'slack'));
    expect(a).toMatchObject({
      severity: 'critical',
      reason: 'worse',
      agentId: 'rogue',
      count: 4,
      lastSeen: '2026-11-25T10:02:00.000000000Z',
    });
  });

  it('keeps an analyst decision over re-detection, but reopens a resolved alert on new evidence', async () => {
    const id = alertId('cross_service_reuse', 'tok-1', 'slack');
    await alerts.updateTriage(id, { status: 'acknowledged', assignee: 'ana', note: 'looking' }, 'key:abc…');
    await alerts.record(source, [finding({ spanId: '0000000000000005', time: '2026-11-25T10:03:00Z' })]);
    expect(await alerts.get(id)).toMatchObject({
      status: 'acknowledged',
      assignee: 'ana',
      notes: [{ author: 'key:abc…', text: 'looking' }],
    });

    await alerts.updateTriage(id, { status: 'resolved' }, 'key:abc…');
    await alerts.record(source, [finding({ spanId: '0000000000000005', time: '2026-11-25T10:03:00Z' })]);
    expect((await alerts.get(id))?.status).toBe('resolved');

    const r = await alerts.record(source, [finding({ spanId: '0000000000000006', time: '2026-11-25T10:04:00Z' })]);
    expect(r.reopened).toBe(1);
    expect(await alerts.get(id)).toMatchObject({ status: 'open', assignee: 'ana', count: 6 });
    const history = await alerts.history(id);
    expect(history.map((e) => e.action)).toEqual(['raised', 'status', 'assigned', 'note', 'status', 'reopened']);
    expect(history.at(-1)).toMatchObject({ actor: 'detector:cross_service_reuse', fromStatus: 'resolved', toStatus: 'open' });
    expect(history.at(-1)?.detail).toMatch(/new evidence.*0000000000000006/);
  });

  it('reads a reopened alert as open as soon as its new version is written (a look woken by the write acts on it)', async () => {
    const id = alertId('cross_service_reuse', 'tok-1', 'jira');
    const at = (n: number) => ({ key: 'jira', target: 'jira', spanId: `00000000000001${n}0`, time: `2026-11-25T10:1${n}:00Z` });
    await alerts.record(source, [finding(at(1))]);
    await alerts.updateTriage(id, { status: 'resolved' }, 'key:abc…');
    const seen: Promise<string | undefined>[] = [];
    const stop = t.store.onWrite((table) => {
      // What a responder woken by this write reads first.
      if (table === 'alerts') seen.push(alerts.get(id).then((a) => a?.status));
    });
    try {
      expect((await alerts.record(source, [finding(at(2))])).reopened).toBe(1);
    } finally {
      stop();
    }
    expect(await Promise.all(seen)).toEqual(['open']);
  });

  it('filters and pages with a cursor', async () => {
    for (let i = 0; i < 5; i++) {
      await alerts.record({ ...source, id: 'scope_creep' }, [
        finding({
          key: `scope:s${i}`,
          tokenId: `tok-p${i}`,
          rootTokenId: `tok-p${i}`,
          spanId: `10000000000000${i}0`,
          time: `2026-11-26T10:0${i}:00Z`,
        }),
      ]);
    }
    const first = await alerts.list({ detector: 'scope_creep', limit: 2 });
    expect(first.alerts.map((a) => a.tokenId)).toEqual(['tok-p4', 'tok-p3']);
    expect(first.nextCursor).toBeTruthy();
    const second = await alerts.list({ detector: 'scope_creep', limit: 2, cursor: first.nextCursor! });
    expect(second.alerts.map((a) => a.tokenId)).toEqual(['tok-p2', 'tok-p1']);
    const third = await alerts.list({ detector: 'scope_creep', limit: 2, cursor: second.nextCursor! });
    expect(third.alerts.map((a) => a.tokenId)).toEqual(['tok-p0']);
    expect(third.nextCursor).toBeNull();

    expect((await alerts.list({ since: '2026-11-26T10:03:00Z' })).alerts.map((a) => a.tokenId)).toEqual(['tok-p4', 'tok-p3']);
    expect((await alerts.list({ status: 'open', severity: 'critical' })).alerts.map((a) => a.tokenId)).toEqual(['tok-1']);
    expect((await alerts.list({ agentId: 'nobody' })).alerts).toEqual([]);
  });

  it('rejects malformed filters with a message naming the parameter', async () => {
    await expect(alerts.list({ severity: 'huge' })).rejects.toMatchObject({
      name: 'InvalidInputError',
      message: /severity must be one of/,
    });
    await expect(alerts.list({ since: 'yesterday' })).rejects.toMatchObject({
      name: 'InvalidInputError',
      message: /since must be an RFC 3339/,
    });
    await expect(alerts.list({ cursor: 'nonsense' })).rejects.toMatchObject({ name: 'InvalidInputError', message: /cursor/ });
    await expect(alerts.list({ limit: 0 })).rejects.toMatchObject({ name: 'InvalidInputError', message: /limit/ });
  });
});
