import { gzipSync } from 'node:zlib';
import { openApiDocument } from '@intentwatch/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AllInOne, INGEST_KEY, KEYS, type PlantedAlert, apiFetch, plantAlerts, startAll } from './running-all.js';
import { otlpRequest } from './support.js';

// Who gets in, and with how much: ingest keys on the collector, API keys and roles on every
// route the OpenAPI document declares, no CORS, body limits, and an audit row for each write.

let m: AllInOne;
let alert: PlantedAlert;

beforeAll(async () => {
  m = await startAll({ INTENTWATCH_MAX_BODY_BYTES: String(1024 * 1024) });
  [alert] = (await plantAlerts(m, ['tok-access'])) as [PlantedAlert];
});

afterAll(async () => {
  await m?.stop();
});

const ROLES = ['viewer', 'analyst', 'admin'] as const;
type Role = (typeof ROLES)[number];

interface Operation {
  method: string;
  path: string;
  role: Role | undefined;
  body: unknown;
}

/** Every operation of the OpenAPI document, with its path filled in and a body that would be valid. */
function operations(): Operation[] {
  const policy = { id: 'access-test', endpoint: { url: 'https://broker.example/revoke', secrets: ['env:ACCESS_TEST_SECRET'] } };
  const bodies: Record<string, unknown> = {
    'post /v1/responders/policies': policy,
    'put /v1/responders/policies/{id}': policy,
    'post /v1/alerts/{id}/revoke': { policyId: 'access-test' },
  };
  const doc = openApiDocument() as { paths: Record<string, Record<string, { 'x-required-role'?: Role; requestBody?: unknown }>> };
  const out: Operation[] = [];
  for (const [template, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const path = template
        .replace('/v1/alerts/{id}', `/v1/alerts/${encodeURIComponent(alert.id)}`)
        .replace('/v1/tokens/{id}', '/v1/tokens/tok-access')
        .replace('/v1/agents/{id}', `/v1/agents/${encodeURIComponent(alert.agentId)}`)
        .replace(/\{[^}]+\}/g, 'no-such-id');
      const body =
        bodies[`${method} ${template}`] ??
        (method === 'patch' && template === '/v1/alerts/{id}'
          ? { status: 'acknowledged', note: 'access test' }
          : method === 'post' && template === '/v1/suppressions'
            ? {
                detector: '*',
                scope: 'token',
                value: 'tok-access',
                reason: 'access test',
                expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
              }
            : op.requestBody
              ? {}
              : undefined);
      out.push({ method: method.toUpperCase(), path, role: op['x-required-role'], body });
    }
  }
  return out;
}

const call = (op: Operation, role: Role | null, headers: Record<string, string> = {}) =>
  apiFetch(m, op.path, role, {
    method: op.method,
    headers,
    ...(op.body !== undefined ? { body: JSON.stringify(op.body) } : {}),
  });

/** Rows of the tables every API write lands in. */
async function writeCounts() {
  const tables = await m.running.store.query<{ name: string }>(
    `SELECT name FROM system.tables WHERE database = currentDatabase()
       AND name IN ('alert_events', 'alert_triage', 'suppressions', 'responder_policies', 'revocations', 'deliveries')`,
  );
  const counts: Record<string, string> = {};
  for (const { name } of tables)
    counts[name] = ((await m.running.store.query<{ c: string }>(`SELECT count() AS c FROM ${name}`))[0] as { c: string }).c;
  return counts;
}

describe('API keys and roles', () => {
  it('declares a role for every route but health, readiness, the OpenAPI document and Shared Signals discovery', () => {
    const open = operations()
      .filter((op) => op.role === undefined)
      .map((op) => `${op.method} ${op.path}`);
    // A Shared Signals receiver reads the transmitter's metadata and signing keys before it holds any key of ours.
    const discovery = ['GET /.well-known/ssf-configuration', 'GET /ssf/jwks.json'];
    expect(['GET /healthz', 'GET /openapi.json', 'GET /readyz', ...discovery]).toEqual(expect.arrayContaining(open));
    expect(open).toContain('GET /healthz');
  });

  it('answers every protected route with 401 without a key, or with a forged one, and writes nothing', async () => {
    const before = await writeCounts();
    const forged = [
      `${KEYS.admin.slice(0, -1)}X`,
      KEYS.admin.toUpperCase(),
      `${KEYS.admin}0`,
      KEYS.admin.slice(0, 16),
      INGEST_KEY,
      `Basic ${Buffer.from(`admin:${KEYS.admin}`).toString('base64')}`,
    ];
    for (const op of operations().filter((o) => o.role !== undefined)) {
      const none = await call(op, null);
      expect(none.status, `${op.method} ${op.path}`).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/Bearer/);
      for (const key of forged) {
        const res = await call(op, null, { authorization: key.startsWith('Basic ') ? key : `Bearer ${key}` });
        expect(res.status, `${op.method} ${op.path} with a forged key`).toBe(401);
      }
      // A key in the query string or a cookie is not a key.
      const inQuery = await apiFetch(m, `${op.path}${op.path.includes('?') ? '&' : '?'}access_token=${KEYS.admin}`, null, {
        method: op.method,
      });
      expect(inQuery.status).toBe(401);
      const inCookie = await call(op, null, { cookie: `token=${KEYS.admin}` });
      expect(inCookie.status).toBe(401);
    }
    expect(await writeCounts()).toEqual(before);
  }, 180_000);

  it('answers a key whose role is below the route’s with 403, and writes nothing', async () => {
    const before = await writeCounts();
    let refused = 0;
    for (const op of operations().filter((o) => o.role !== undefined)) {
      for (const role of ROLES.slice(0, ROLES.indexOf(op.role as Role))) {
        const res = await call(op, role);
        expect(res.status, `${op.method} ${op.path} as ${role}`).toBe(403);
        expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(new RegExp(`needs the ${op.role} role`));
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(2);
    expect(await writeCounts()).toEqual(before);
  });

  it('records each triage write with the key that made it', async () => {
    const res = await apiFetch(m, `/v1/alerts/${encodeURIComponent(alert.id)}`, 'analyst', {
      method: 'PATCH',
      body: JSON.stringify({ status: 'acknowledged', assignee: 'sam', note: 'looking into it' }),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    const events = await m.running.store.query<{ actor: string; action: string; detail: string }>(
      'SELECT actor, action, detail FROM alert_events WHERE alert_id = {id:String} ORDER BY time',
      { id: alert.id },
    );
    const mine = events.filter((e) => /^key:analyst:[0-9a-f]{8}$/.test(e.actor));
    expect(mine.length).toBeGreaterThanOrEqual(3);
    // The audit names the key by its role and a digest, never by any part of the key.
    for (const e of events) expect(e.actor).not.toContain(`${KEYS.analyst.slice(0, 6)}…`);
    const detail = await apiFetch(m, `/v1/alerts/${encodeURIComponent(alert.id)}`, 'viewer');
    expect(((await detail.json()) as { status: string }).status).toBe('acknowledged');
  });
});

describe('Audit of writes', () => {
  it('records the key behind each kind of write: suppression and its lifting, policy, manual revoke', async () => {
    const suppression = await apiFetch(m, '/v1/suppressions', 'analyst', {
      method: 'POST',
      body: JSON.stringify({
        detector: '*',
        scope: 'agent',
        value: 'audit-agent',
        reason: 'audit test',
        expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
      }),
    });
    expect(suppression.status, await suppression.clone().text()).toBe(201);
    const { id } = (await suppression.json()) as { id: string };
    expect((await apiFetch(m, `/v1/suppressions/${encodeURIComponent(id)}`, 'admin', { method: 'DELETE' })).status).toBeLessThan(300);
    // A public address written as an address needs no DNS; a dry run sends nothing.
    const policy = await apiFetch(m, '/v1/responders/policies', 'admin', {
      method: 'POST',
      body: JSON.stringify({
        id: 'audit-policy',
        dryRun: true,
        match: { detectors: ['no_such_detector'] },
        endpoint: { url: 'https://93.184.215.14/revoke', secrets: [`whsec_${'B'.repeat(32)}`] },
      }),
    });
    expect(policy.status, await policy.clone().text()).toBe(201);
    const revoke = await apiFetch(m, `/v1/alerts/${encodeURIComponent(alert.id)}/revoke`, 'analyst', {
      method: 'POST',
      body: JSON.stringify({ policyId: 'audit-policy', mode: 'token' }),
    });
    expect(revoke.status, await revoke.clone().text()).toBe(202);

    const who = async (sql: string) => (await m.running.store.query<{ who: string }>(sql)).map((r) => r.who);
    expect(await who("SELECT author AS who FROM suppressions WHERE value = 'audit-agent'")).toContainEqual(
      expect.stringMatching(/^key:analyst:[0-9a-f]{8}$/),
    );
    expect(await who("SELECT deleted_by AS who FROM suppressions WHERE value = 'audit-agent'")).toContainEqual(
      expect.stringMatching(/^key:admin:[0-9a-f]{8}$/),
    );
    expect(await who("SELECT updated_by AS who FROM responder_policies WHERE id = 'audit-policy'")).toContainEqual(
      expect.stringMatching(/^key:admin:[0-9a-f]{8}$/),
    );
    expect(await who("SELECT requested_by AS who FROM revocations WHERE policy_id = 'audit-policy'")).toContainEqual(
      expect.stringMatching(/key:analyst:[0-9a-f]{8}$/),
    );
  });
});

describe('Ingest keys', () => {
  it('are required on every collector endpoint; forged ones are refused and nothing is stored', async () => {
    const bodies: [string, unknown][] = [
      ['/v1/traces', otlpRequest({ 'service.name': 'ingest-keys' }, [{ attributes: { 'token.id': 'tok-ingest-keys' } }])],
      ['/v1/token-events', [{ 'token.event': 'revoked', 'token.id': 'tok-ingest-keys' }]],
      ['/v1/task-events', [{ 'task.event': 'completed', 'task.id': 'task-ingest-keys' }]],
    ];
    const forged = [
      undefined,
      `Bearer ${INGEST_KEY}x`,
      `Bearer ${INGEST_KEY.toUpperCase()}`,
      `Bearer ${KEYS.admin}`,
      `Basic ${INGEST_KEY}`,
      `Bearer`,
      INGEST_KEY,
    ];
    for (const [path, body] of bodies) {
      for (const authorization of forged) {
        const res = await fetch(`${m.collector}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
          body: JSON.stringify(body),
        });
        expect(res.status, `${path} with ${authorization}`).toBe(401);
      }
    }
    const stored = await m.running.store.query<{ c: string }>(
      `SELECT (SELECT count() FROM spans WHERE token_id = 'tok-ingest-keys') + (SELECT count() FROM token_events WHERE token_id = 'tok-ingest-keys')
        + (SELECT count() FROM task_events WHERE task_id = 'task-ingest-keys') AS c`,
    );
    expect(stored).toEqual([{ c: '0' }]);
    for (const [path, body] of bodies) {
      const res = await fetch(`${m.collector}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${INGEST_KEY}` },
        body: JSON.stringify(body),
      });
      expect(res.status, path).toBe(200);
    }
  });
});

describe('Cross-origin requests', () => {
  const origin = 'https://evil.example';
  const noCors = (res: Response) => {
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
  };

  it('get no Access-Control-Allow-Origin from the API, preflight included', async () => {
    noCors(await apiFetch(m, '/v1/alerts', 'viewer', { headers: { origin } }));
    noCors(await apiFetch(m, '/healthz', null, { headers: { origin } }));
    const preflight = await fetch(`${m.api}/v1/alerts/${encodeURIComponent(alert.id)}`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'PATCH', 'access-control-request-headers': 'authorization,content-type' },
    });
    noCors(preflight);
    expect(preflight.headers.get('access-control-allow-methods')).toBeNull();
  });

  it('get no Access-Control-Allow-Origin from the collector, preflight included', async () => {
    const res = await fetch(`${m.collector}/v1/traces`, {
      method: 'POST',
      headers: { origin, 'content-type': 'application/json', authorization: `Bearer ${INGEST_KEY}` },
      body: JSON.stringify({ resourceSpans: [] }),
    });
    expect(res.status).toBe(200);
    noCors(res);
    const preflight = await fetch(`${m.collector}/v1/traces`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    noCors(preflight);
  });
});

describe('Request size limits', () => {
  it('refuse API JSON bodies past the limit with 413, compressed or not, and write nothing', async () => {
    const before = await writeCounts();
    const big = JSON.stringify({ note: 'x'.repeat(200_000) });
    const plain = await apiFetch(m, `/v1/alerts/${encodeURIComponent(alert.id)}`, 'analyst', { method: 'PATCH', body: big });
    expect(plain.status).toBe(413);
    const bomb = await apiFetch(m, `/v1/alerts/${encodeURIComponent(alert.id)}`, 'analyst', {
      method: 'PATCH',
      body: gzipSync(JSON.stringify({ note: 'y'.repeat(50_000_000) })),
      headers: { 'content-encoding': 'gzip', 'content-type': 'application/json' },
    });
    expect(bomb.status).toBe(413);
    expect(await writeCounts()).toEqual(before);
  });

  it('refuse collector bodies past INTENTWATCH_MAX_BODY_BYTES with 413 on every endpoint, compressed or not', async () => {
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${INGEST_KEY}` };
    const huge = JSON.stringify([{ 'token.event': 'revoked', 'token.id': 'tok-huge', pad: 'z'.repeat(2 * 1024 * 1024) }]);
    for (const path of ['/v1/traces', '/v1/token-events', '/v1/task-events']) {
      expect((await fetch(`${m.collector}${path}`, { method: 'POST', headers, body: huge })).status, path).toBe(413);
      const zipped = await fetch(`${m.collector}${path}`, {
        method: 'POST',
        headers: { ...headers, 'content-encoding': 'gzip' },
        body: gzipSync(huge),
      });
      expect(zipped.status, `${path} gzip`).toBe(413);
    }
  });
});
