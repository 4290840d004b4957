import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store, migrate, composeSettings, coreSettings } from '@intentwatch/core';
import { collectorSettings } from '@intentwatch/collector';
import { detectorSettings } from '@intentwatch/detectors';
import { apiSettings } from '../settings.js';
import { responderSettings } from '@intentwatch/responders';
import { type Alert, AlertStore, type Finding } from '@intentwatch/alerts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeys } from '../api-keys.js';
import { Desk } from '../desk.js';
import { Api } from '../server.js';

/** The settings these tests read: the core settings and those of the workspaces they start. */
const configuration = composeSettings(coreSettings, collectorSettings, detectorSettings, apiSettings, responderSettings);
const loadConfig = configuration.load;

const VIEWER = 'viewer-key-0123456789abcdef';

function finding(i: number): Finding {
  return {
    key: 'slack',
    severity: 'high',
    reason: `token tok-${i} issued to agent triage-bot for task T-9 with audience [github] was used against slack by agent triage-bot`,
    tokenId: `tok-${i}`,
    rootTokenId: `tok-${i}`,
    agentId: 'triage-bot',
    taskId: 'T-9',
    caller: 'triage-svc',
    target: 'slack',
    environment: 'prod',
    evidence: { traceId: 'b'.repeat(32), spanId: `${i}`.padStart(16, '0'), time: `2026-11-25T10:0${i}:00Z` },
  };
}

describe('GET /v1/alerts', () => {
  let dataDir: string;
  let store: Store;
  let api: Api;
  let base: string;
  const get = (path: string, key = VIEWER) => fetch(`${base}${path}`, { headers: { authorization: `Bearer ${key}` } });

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'iw-api-'));
    const config = loadConfig({ INTENTWATCH_DATA_DIR: dataDir, INTENTWATCH_API_KEYS: `viewer:${VIEWER}` }, { dotenv: false });
    store = await Store.open(config);
    await migrate(store, { retentionDays: 30 });
    const alerts = new AlertStore(store);
    await alerts.record({ id: 'cross_service_reuse', title: 'Token reused across services', frameworks: ['OWASP-ASI03'] }, [
      finding(1),
      finding(2),
      finding(3),
    ]);
    api = new Api({ store, keys: ApiKeys.load(config.apiKeys, dataDir).keys, routers: new Desk(store, { alerts }).routers(), ui: false });
    base = `http://127.0.0.1:${await api.listen(0, '127.0.0.1')}`;
  });
  afterAll(async () => {
    await api?.close();
    await store?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('lists alerts in the shape of the conventions, newest first, to a viewer', async () => {
    const res = await get('/v1/alerts');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { alerts: Alert[]; nextCursor: string | null };
    expect(body.nextCursor).toBeNull();
    expect(body.alerts.map((a) => a.tokenId)).toEqual(['tok-3', 'tok-2', 'tok-1']);
    expect(Object.keys(body.alerts[0]!).sort()).toEqual(
      [
        'id',
        'detector',
        'severity',
        'status',
        'title',
        'reason',
        'tokenId',
        'rootTokenId',
        'agentId',
        'taskId',
        'caller',
        'target',
        'environment',
        'firstSeen',
        'lastSeen',
        'count',
        'evidence',
        'frameworks',
        'assignee',
        'notes',
        // Beyond §2.1: the suppression that mutes the alert, if any.
        'suppression',
      ].sort(),
    );
    expect(body.alerts[0]).toMatchObject({
      detector: 'cross_service_reuse',
      status: 'open',
      count: 1,
      evidence: [{ traceId: 'b'.repeat(32), spanId: '0000000000000003', time: '2026-11-25T10:03:00.000000000Z' }],
    });
  });

  it('filters, pages with nextCursor, and serves one alert by id', async () => {
    const page1 = (await (await get('/v1/alerts?detector=cross_service_reuse&limit=2')).json()) as { alerts: Alert[]; nextCursor: string };
    expect(page1.alerts).toHaveLength(2);
    const page2 = (await (await get(`/v1/alerts?limit=2&cursor=${page1.nextCursor}`)).json()) as { alerts: Alert[] };
    expect(page2.alerts.map((a) => a.tokenId)).toEqual(['tok-1']);
    const byToken = (await (await get('/v1/alerts?tokenId=tok-2')).json()) as { alerts: Alert[] };
    expect(byToken.alerts.map((a) => a.tokenId)).toEqual(['tok-2']);

    const one = await get(`/v1/alerts/${byToken.alerts[0]!.id}`);
    expect(one.status).toBe(200);
    expect(((await one.json()) as Alert).tokenId).toBe('tok-2');
  });

  it('answers 404, 400 and 401 with an error body', async () => {
    const missing = await get('/v1/alerts/nope');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'not_found' } });
    const bad = await get('/v1/alerts?limit=many');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: 'invalid_parameter', message: expect.stringMatching(/limit/) } });
    expect((await get('/v1/alerts', 'wrong-key-0123456789abcdef')).status).toBe(401);
  });
});
