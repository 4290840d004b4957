import type { Alert } from '@intentwatch/alerts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeys } from './api-keys.js';
import { type RouteSpec, routes } from './contract/routes.js';
import { Api } from './server.js';
import { DeskHarness, KEYS } from '../testing/desk-harness.js';

/** Values an attacker would try in filters, ids and bodies. */
const HOSTILE = [
  "' OR 1=1 --",
  "x' OR '1'='1",
  '"; DROP TABLE alerts; --',
  "1) UNION ALL SELECT name, '', '', '', '' FROM system.tables --",
  "') OR 1=1 FORMAT JSONEachRow --",
  '{tokenId:String}',
  "' AND sleep(3) --",
  '../../../etc/passwd',
  '\\',
  '%',
  '%00',
  '<script>alert(1)</script>',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a log-injection probe, meant literally
  '${jndi:ldap://x}',
  '🔥\u202e',
  'a'.repeat(5000),
  "'\u0000",
];

const authenticated = Object.values(routes as Record<string, RouteSpec>).filter((r) => r.role !== null);

describe('API access', () => {
  let h: DeskHarness;
  let alerts: Alert[];

  beforeAll(async () => {
    h = await DeskHarness.start();
    alerts = await h.playMisuse();
  });
  afterAll(async () => h?.close());

  it('leaves health, the OpenAPI document and the UI open, and nothing else', async () => {
    for (const path of ['/healthz', '/readyz', '/openapi.json', '/', '/app.css', '/js/main.js']) {
      expect((await h.call(path, { key: null })).status, path).toBe(200);
    }
    for (const r of authenticated) {
      const res = await h.call(r.path.replace(':id', 'x'), { method: r.method.toUpperCase(), key: null });
      expect(res.status, `${r.method} ${r.path}`).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      expect(await res.json()).toMatchObject({ error: { code: 'unauthenticated' } });
    }
    const wrong = [`Bearer ${KEYS.viewer}x`, `Basic ${Buffer.from(`u:${KEYS.viewer}`).toString('base64')}`, KEYS.viewer, 'Bearer'];
    for (const authorization of wrong) {
      expect((await h.call('/v1/alerts', { key: null, headers: { authorization } })).status, authorization).toBe(401);
    }
  });

  it('lets a viewer read but not triage or suppress (403), an analyst triage, and only the author or an admin lift', async () => {
    const a = alerts[0] as Alert;
    for (const path of ['/v1/alerts', `/v1/alerts/${a.id}`, '/v1/tokens/tok-7f3a', '/v1/agents', '/v1/suppressions', '/metrics']) {
      expect((await h.call(path, { key: KEYS.viewer })).status, path).toBe(200);
    }
    const patch = (key: string) => h.call(`/v1/alerts/${a.id}`, { method: 'PATCH', key, body: JSON.stringify({ note: 'checked' }) });
    const viewer = await patch(KEYS.viewer);
    expect(viewer.status).toBe(403);
    expect(await viewer.json()).toMatchObject({ error: { code: 'forbidden', message: expect.stringMatching(/analyst/) } });
    expect((await patch(KEYS.analyst)).status).toBe(200);
    expect((await patch(KEYS.admin)).status).toBe(200);

    const body = JSON.stringify({
      detector: '*',
      scope: 'environment',
      value: 'staging',
      reason: 'load test this afternoon',
      expiresAt: new Date(Date.now() + 3600_000).toISOString(),
    });
    expect((await h.call('/v1/suppressions', { method: 'POST', key: KEYS.viewer, body })).status).toBe(403);
    const created = await h.call('/v1/suppressions', { method: 'POST', key: KEYS.analyst, body });
    expect(created.status).toBe(201);
    const { id, author } = (await created.json()) as { id: string; author: string };
    expect(author).toMatch(/^key:analyst:[0-9a-f]{8}$/);
    const lift = (key: string) => h.call(`/v1/suppressions/${id}`, { method: 'DELETE', key });
    expect((await lift(KEYS.viewer)).status).toBe(403);
    expect((await lift(KEYS.analyst2)).status).toBe(403);
    expect((await lift(KEYS.analyst)).status).toBe(200);
    expect((await lift(KEYS.admin)).status).toBe(409);
  });

  it('sends security headers: a CSP the UI runs under, no sniffing, no framing, no caching of data', async () => {
    const ui = await h.call('/', { key: null });
    const csp = ui.headers.get('content-security-policy') ?? '';
    for (const directive of [
      "default-src 'self'",
      "script-src 'self'",
      "style-src 'self'",
      "frame-ancestors 'none'",
      "object-src 'none'",
      "base-uri 'none'",
    ]) {
      expect(csp).toContain(directive);
    }
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    const data = await h.call('/v1/alerts');
    expect(data.headers.get('x-content-type-options')).toBe('nosniff');
    expect(data.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(data.headers.get('referrer-policy')).toBe('no-referrer');
    expect(data.headers.get('cache-control')).toBe('no-store');
    expect(data.headers.get('x-powered-by')).toBeNull();
  });

  it('keeps CORS closed: no origin is ever allowed, preflights included', async () => {
    const origin = 'https://evil.example';
    const simple = await h.call('/v1/alerts', { headers: { origin } });
    expect(simple.headers.get('access-control-allow-origin')).toBeNull();
    const preflight = await h.call('/v1/alerts/x', {
      method: 'OPTIONS',
      key: null,
      headers: { origin, 'access-control-request-method': 'PATCH', 'access-control-request-headers': 'authorization, content-type' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    expect(preflight.headers.get('access-control-allow-methods')).toBeNull();
  });

  it('refuses bodies that are not JSON, malformed, or too large', async () => {
    const id = (alerts[0] as Alert).id;
    const send = (body: string, type = 'application/json') =>
      h.call(`/v1/alerts/${id}`, { method: 'PATCH', key: KEYS.analyst, body, headers: { 'content-type': type } });
    expect((await send('{"note":')).status).toBe(400);
    expect((await send('note=x', 'application/x-www-form-urlencoded')).status).toBe(415);
    expect((await send(JSON.stringify({ note: 'x'.repeat(100_000) }))).status).toBe(413);
    const extra = await send(JSON.stringify({ note: 'ok', status: 'open', admin: true }));
    expect(extra.status).toBe(400);
    expect(await extra.json()).toMatchObject({ error: { code: 'invalid_body', message: 'unknown field admin' } });
  });

  it('answers hostile values in every filter and path with 400 or nothing — never an error, never data', async () => {
    const before = await h.alerts.counts();
    const params = [
      'detector',
      'severity',
      'status',
      'tokenId',
      'agentId',
      'target',
      'environment',
      'assignee',
      'q',
      'since',
      'suppressed',
      'sort',
      'order',
      'limit',
      'cursor',
    ];
    for (const value of HOSTILE) {
      for (const p of params) {
        const res = await h.call(`/v1/alerts?${new URLSearchParams({ [p]: value })}`);
        const body = (await res.json()) as { alerts?: unknown[]; error?: { code: string } };
        expect([200, 400], `${p}=${value.slice(0, 40)}`).toContain(res.status);
        if (res.status === 200) expect(body.alerts, `${p}=${value.slice(0, 40)}`).toEqual([]);
        else expect(body.error?.code).toBe('invalid_parameter');
      }
      for (const p of ['tokenId', 'agentId', 'q', 'severity']) {
        const res = await h.call(`/v1/alerts/summary?${new URLSearchParams({ [p]: value })}`);
        expect([200, 400]).toContain(res.status);
        if (res.status === 200) expect(((await res.json()) as { total: number }).total).toBe(0);
      }
      const res = await h.call(`/v1/agents?${new URLSearchParams({ q: value })}`);
      expect([200, 400]).toContain(res.status);
      if (res.status === 200) expect(((await res.json()) as { agents: unknown[] }).agents).toEqual([]);

      const id = encodeURIComponent(value);
      for (const [method, path] of [
        ['GET', `/v1/alerts/${id}`],
        ['GET', `/v1/tokens/${id}`],
        ['GET', `/v1/agents/${id}`],
        ['DELETE', `/v1/suppressions/${id}`],
        ['PATCH', `/v1/alerts/${id}`],
      ] as const) {
        const r = await h.call(path, { method, key: KEYS.admin, ...(method === 'PATCH' ? { body: JSON.stringify({ note: 'x' }) } : {}) });
        expect([400, 404], `${method} ${value.slice(0, 40)}`).toContain(r.status);
      }
    }
    // Stored as text, read back as text.
    const target = alerts[0] as Alert;
    const hostileNote = "'); DROP TABLE alert_events; -- <img src=x onerror=alert(1)>";
    const patched = await h.call(`/v1/alerts/${target.id}`, {
      method: 'PATCH',
      key: KEYS.analyst,
      body: JSON.stringify({ note: hostileNote, assignee: 'o\'brien"; --' }),
    });
    expect(patched.status).toBe(200);
    expect(await patched.json()).toMatchObject({
      assignee: 'o\'brien"; --',
      notes: expect.arrayContaining([expect.objectContaining({ text: hostileNote })]),
    });
    expect(await h.alerts.counts()).toEqual(before);
  });
});

describe('rate limits', () => {
  let h: DeskHarness;
  let api: Api;
  let base: string;

  beforeAll(async () => {
    h = await DeskHarness.start();
    api = new Api({ store: h.store, keys: ApiKeys.load(h.config.apiKeys, h.config.dataDir).keys, routers: h.desk.routers(), rateLimit: 5 });
    base = `http://127.0.0.1:${await api.listen(0, '127.0.0.1')}`;
  });
  afterAll(async () => {
    await api?.close();
    await h?.close();
  });

  const get = (key: string) => fetch(`${base}/v1/me`, { headers: { authorization: `Bearer ${key}` } });

  it('limits each key on its own, and says when to come back', async () => {
    for (let i = 0; i < 5; i++) expect((await get(KEYS.viewer)).status).toBe(200);
    const limited = await get(KEYS.viewer);
    expect(limited.status).toBe(429);
    expect(await limited.json()).toMatchObject({ error: { code: 'rate_limited' } });
    expect(limited.headers.get('ratelimit-policy')).toMatch(/5;w=60/);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited.headers.get('ratelimit')).toMatch(/limit=5, remaining=0, reset=\d+/);
    // Another key from the same address is not held up.
    expect((await get(KEYS.analyst)).status).toBe(200);
  });

  it('limits failed key checks per address without holding up valid keys', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await get(`guess-${i}-0000000000000000`)).status);
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.slice(5)).toEqual([429, 429]);
    expect((await get(KEYS.admin)).status).toBe(200);
  });
});
