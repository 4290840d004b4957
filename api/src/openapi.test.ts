import type { Alert } from '@intentwatch/detectors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type RouteSpec, routes } from './contract/routes.js';
import { DeskHarness, KEYS } from './test-support/desk-harness.js';

// biome-ignore lint/suspicious/noExplicitAny: OpenAPI documents are open-ended JSON
type Json = any;

/**
 * Responses are checked against the document the API serves — read back from /openapi.json and
 * turned into validators — not against the code's own schemas: what is tested is the document a
 * client would generate its code from.
 */
class DocumentValidator {
  readonly #doc: Json;
  readonly #cache = new Map<string, z.ZodType>();
  readonly covered = new Set<string>();

  constructor(doc: Json) {
    this.#doc = doc;
  }

  /** Problems with `body` as the answer `status` of `method path` (an OpenAPI path template); [] when it conforms. */
  check(method: string, path: string, status: number, body: unknown): string[] {
    const op = this.#doc.paths?.[path]?.[method];
    if (!op) return [`the document has no ${method.toUpperCase()} ${path}`];
    const response = op.responses?.[String(status)];
    if (!response) return [`the document lists no ${status} answer for ${method.toUpperCase()} ${path}`];
    this.covered.add(`${op.operationId} ${status}`);
    const json = response.content?.['application/json']?.schema;
    if (!json) return typeof body === 'string' ? [] : ['a JSON body where the document describes none'];
    const key = `${method} ${path} ${status}`;
    let schema = this.#cache.get(key);
    if (!schema) {
      const defs = JSON.parse(JSON.stringify(this.#doc.components.schemas).replaceAll('#/components/schemas/', '#/$defs/'));
      const root = JSON.parse(JSON.stringify(json).replaceAll('#/components/schemas/', '#/$defs/'));
      schema = z.fromJSONSchema({ ...root, $defs: defs });
      this.#cache.set(key, schema);
    }
    const result = schema.safeParse(body);
    return result.success ? [] : result.error.issues.slice(0, 5).map((i) => `${i.path.join('.')}: ${i.message}`);
  }
}

const template = (spec: RouteSpec) => spec.path.replace(/:([A-Za-z]+)/g, '{$1}');

describe('the OpenAPI document at /openapi.json', () => {
  let h: DeskHarness;
  let alerts: Alert[];
  let doc: Json;
  let validator: DocumentValidator;

  /** Calls the API and checks the answer against the document; returns status and body. */
  const call = async (spec: RouteSpec, path: string, init: Parameters<DeskHarness['call']>[1] = {}) => {
    const res = await h.call(path, { method: spec.method.toUpperCase(), ...init });
    const text = await res.text();
    const body = res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text;
    const problems = validator.check(spec.method, template(spec), res.status, body);
    expect(problems, `${spec.method.toUpperCase()} ${path} → ${res.status}: ${text.slice(0, 300)}`).toEqual([]);
    return { status: res.status, body };
  };

  beforeAll(async () => {
    h = await DeskHarness.start();
    alerts = await h.playMisuse();
    const res = await fetch(`${h.apiUrl}/openapi.json`);
    expect(res.status).toBe(200);
    doc = await res.json();
    validator = new DocumentValidator(doc);
  });
  afterAll(async () => h?.close());

  it('is an OpenAPI 3.1 document of every route, each mounted where it says', async () => {
    expect(doc.openapi).toBe('3.1.0');
    const declared = Object.values(routes as Record<string, RouteSpec>).map((r) => `${r.method} ${template(r)}`);
    const documented = Object.entries(doc.paths as Record<string, Json>).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`));
    expect(documented.sort()).toEqual(declared.sort());
    for (const spec of Object.values(routes as Record<string, RouteSpec>)) {
      const path = spec.path.replace(':id', 'x');
      const res = await fetch(`${h.apiUrl}${path}`, { method: spec.method.toUpperCase() });
      // Mounted: an authenticated route refuses a request without a key; an open route answers.
      expect(res.status, `${spec.method} ${path}`).toBe(spec.role ? 401 : 200);
    }
    expect((await fetch(`${h.apiUrl}/v1/nothing-here`, { headers: { authorization: `Bearer ${KEYS.viewer}` } })).status).toBe(404);
  });

  it('describes every answer of every route, successes and errors', async () => {
    const scope = alerts.find((a) => a.detector === 'scope_creep') as Alert;
    const other = alerts.find((a) => a.detector === 'stale_token_use') as Alert;

    await call(routes.healthz, '/healthz');
    await call(routes.readyz, '/readyz');
    expect((await call(routes.metrics, '/metrics')).body).toContain('intentwatch_alerts{');
    await call(routes.metrics, '/metrics', { key: null });
    await call(routes.me, '/v1/me');

    const list = await call(routes.listAlerts, '/v1/alerts?severity=high,critical&sort=severity&limit=2');
    expect(list.body.alerts).toHaveLength(2);
    await call(routes.listAlerts, `/v1/alerts?limit=2&sort=severity&severity=high,critical&cursor=${list.body.nextCursor}`);
    await call(routes.listAlerts, '/v1/alerts?suppressed=include&status=open,acknowledged&q=triage&order=asc&sort=count');
    await call(routes.listAlerts, '/v1/alerts?limit=0');
    await call(routes.listAlerts, '/v1/alerts?unknown=1');
    await call(routes.listAlerts, '/v1/alerts', { key: 'not-a-key-0000000000' });
    await call(routes.alertSummary, '/v1/alerts/summary?agentId=triage-bot');
    await call(routes.alertSummary, '/v1/alerts/summary?since=yesterday');

    for (const a of alerts) await call(routes.getAlert, `/v1/alerts/${a.id}`);
    // The validator bites: a field the document does not list, or a malformed time, is caught.
    const detail = (await call(routes.getAlert, `/v1/alerts/${scope.id}`)).body;
    expect(validator.check('get', '/v1/alerts/{id}', 200, { ...detail, extra: 1 })).not.toEqual([]);
    expect(validator.check('get', '/v1/alerts/{id}', 200, { ...detail, lastSeen: 'yesterday' })).not.toEqual([]);
    expect(validator.check('get', '/v1/alerts/{id}', 200, { ...detail, severity: 'urgent' })).not.toEqual([]);
    await call(routes.getAlert, '/v1/alerts/0123456789abcdef0123456789abcdef');

    const patched = await call(routes.triageAlert, `/v1/alerts/${scope.id}`, {
      key: KEYS.analyst,
      body: JSON.stringify({ status: 'acknowledged', assignee: 'dana', note: 'looking' }),
    });
    expect(patched.body).toMatchObject({ status: 'acknowledged', assignee: 'dana' });
    await call(routes.triageAlert, `/v1/alerts/${scope.id}`, { key: KEYS.analyst, body: JSON.stringify({ assignee: null }) });
    await call(routes.triageAlert, `/v1/alerts/${scope.id}`, { key: KEYS.analyst, body: JSON.stringify({ status: 'closed' }) });
    await call(routes.triageAlert, `/v1/alerts/${scope.id}`, { key: KEYS.analyst, body: JSON.stringify({}) });
    await call(routes.triageAlert, `/v1/alerts/${scope.id}`, { key: KEYS.viewer, body: JSON.stringify({ status: 'resolved' }) });
    await call(routes.triageAlert, `/v1/alerts/${scope.id}`, {
      key: KEYS.analyst,
      body: 'status=resolved',
      headers: { 'content-type': 'text/plain' },
    });
    await call(routes.triageAlert, `/v1/alerts/${scope.id}`, { key: KEYS.analyst, body: JSON.stringify({ note: 'x'.repeat(70_000) }) });
    await call(routes.triageAlert, '/v1/alerts/0123456789abcdef0123456789abcdef', {
      key: KEYS.analyst,
      body: JSON.stringify({ note: 'x' }),
    });

    for (const token of ['tok-7f3a', 'tok-7f3b', 'tok-9c21', 'tok-51de', 'tok-ghost']) await call(routes.getToken, `/v1/tokens/${token}`);
    await call(routes.getToken, '/v1/tokens/tok-7f3a?uses=2');
    await call(routes.getToken, '/v1/tokens/never-seen');
    await call(routes.getToken, '/v1/tokens/tok-7f3a?uses=-1');

    await call(routes.listAgents, '/v1/agents');
    await call(routes.listAgents, '/v1/agents?q=bot&since=2026-01-01T00:00:00Z');
    for (const agent of ['triage-bot', 'summarizer-bot', 'exfil-bot', 'deploy-bot', 'report-bot'])
      await call(routes.getAgent, `/v1/agents/${agent}`);
    await call(routes.getAgent, '/v1/agents/nobody');

    const expiresAt = new Date(Date.now() + 3600_000).toISOString();
    const created = await call(routes.createSuppression, '/v1/suppressions', {
      key: KEYS.analyst,
      body: JSON.stringify({ detector: other.detector, scope: 'agent', value: other.agentId, reason: 'deploy rehearsal', expiresAt }),
    });
    expect(created.status).toBe(201);
    await call(routes.createSuppression, '/v1/suppressions', {
      key: KEYS.analyst,
      body: JSON.stringify({ detector: 'DROP TABLE', scope: 'agent', value: 'x', reason: 'r', expiresAt }),
    });
    await call(routes.createSuppression, '/v1/suppressions', {
      key: KEYS.viewer,
      body: JSON.stringify({ detector: '*', scope: 'agent', value: 'x', reason: 'nope', expiresAt }),
    });
    await call(routes.listSuppressions, '/v1/suppressions');
    await call(routes.listSuppressions, '/v1/suppressions?all=true');
    await call(routes.listAlerts, '/v1/alerts?suppressed=only');
    await call(routes.liftSuppression, `/v1/suppressions/${created.body.id}`, { key: KEYS.analyst2 });
    await call(routes.liftSuppression, `/v1/suppressions/${created.body.id}`, { key: KEYS.analyst });
    await call(routes.liftSuppression, `/v1/suppressions/${created.body.id}`, { key: KEYS.admin });
    await call(routes.liftSuppression, '/v1/suppressions/no-such-id', { key: KEYS.admin });

    // Every operation was seen answering with its success status.
    for (const spec of Object.values(routes as Record<string, RouteSpec>)) {
      const success = Object.keys(spec.responses)[0];
      expect(validator.covered, spec.id).toContain(`${spec.id} ${success}`);
    }
    expect([...validator.covered].filter((c) => / (400|401|403|404|409|413|415)$/.test(c)).length).toBeGreaterThan(12);
  });
});
