import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Alert } from '@intentwatch/alerts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type RouteSpec, routes } from './contract/routes.js';
import { DeskHarness, KEYS } from '../testing/desk-harness.js';
import { eventually } from '@intentwatch/testkit';

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
  check(method: string, path: string, status: number, body: unknown, contentType = ''): string[] {
    const op = this.#doc.paths?.[path]?.[method];
    if (!op) return [`the document has no ${method.toUpperCase()} ${path}`];
    const response = op.responses?.[String(status)];
    if (!response) return [`the document lists no ${status} answer for ${method.toUpperCase()} ${path}`];
    this.covered.add(`${op.operationId} ${status}`);
    if (!response.content) return body === '' ? [] : ['a body where the document describes none'];
    const json = response.content['application/json']?.schema;
    if (!json) {
      const declared = Object.keys(response.content);
      if (typeof body !== 'string') return ['a JSON body where the document describes none'];
      return declared.some((t) => contentType.startsWith(t.split(';')[0] as string))
        ? []
        : [`${contentType}, not ${declared.join(' or ')}`];
    }
    return this.#validate(`${method} ${path} ${status}`, json, body);
  }

  /** Problems with `value` as the component schema `name`; [] when it conforms. */
  checkComponent(name: string, value: unknown): string[] {
    if (!this.#doc.components.schemas[name]) return [`the document has no schema ${name}`];
    return this.#validate(`component ${name}`, { $ref: `#/components/schemas/${name}` }, value);
  }

  #validate(key: string, json: Json, value: unknown): string[] {
    let schema = this.#cache.get(key);
    if (!schema) {
      const defs = JSON.parse(JSON.stringify(this.#doc.components.schemas).replaceAll('#/components/schemas/', '#/$defs/'));
      const root = JSON.parse(JSON.stringify(json).replaceAll('#/components/schemas/', '#/$defs/'));
      schema = z.fromJSONSchema({ ...root, $defs: defs });
      this.#cache.set(key, schema);
    }
    const result = schema.safeParse(value);
    return result.success ? [] : result.error.issues.slice(0, 5).map((i) => `${i.path.join('.')}: ${i.message}`);
  }
}

const template = (spec: RouteSpec) => spec.path.replace(/:([A-Za-z]+)/g, '{$1}');

describe('the OpenAPI document at /openapi.json', () => {
  let h: DeskHarness;
  let alerts: Alert[];
  let doc: Json;
  let validator: DocumentValidator;
  let policyDir: string;
  let receiver: Server;
  let receiverUrl: string;

  /** Calls the API and checks the answer against the document; returns status and body. */
  const call = async (spec: RouteSpec, path: string, init: Parameters<DeskHarness['call']>[1] = {}) => {
    const res = await h.call(path, { method: spec.method.toUpperCase(), ...init });
    const text = await res.text();
    const type = res.headers.get('content-type') ?? '';
    const body = type.startsWith('application/json') ? JSON.parse(text) : text;
    const problems = validator.check(spec.method, template(spec), res.status, body, type);
    expect(problems, `${spec.method.toUpperCase()} ${path} → ${res.status}: ${text.slice(0, 300)}`).toEqual([]);
    return { status: res.status, body };
  };

  beforeAll(async () => {
    // A broker that takes revokes at /ok and fails them at /fail.
    receiver = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(req.url === '/ok' ? 204 : 500).end());
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;
    policyDir = mkdtempSync(join(tmpdir(), 'iw-openapi-'));
    const policiesFile = join(policyDir, 'policies.json');
    writeFileSync(
      policiesFile,
      JSON.stringify([
        {
          id: 'from-file',
          match: { detectors: ['no_such_detector'] },
          endpoint: { url: `${receiverUrl}/ok`, secrets: [`whsec_${randomBytes(24).toString('base64')}`] },
        },
      ]),
    );
    h = await DeskHarness.start(
      {
        INTENTWATCH_POLICIES_FILE: policiesFile,
        INTENTWATCH_WEBHOOK_ALLOW: '127.0.0.1/32',
        INTENTWATCH_SECRETS_KEY: randomBytes(32).toString('base64'),
        INTENTWATCH_RESPONDER_POLL_MS: '25',
      },
      { responders: true },
    );
    alerts = await h.playMisuse();
    const res = await fetch(`${h.apiUrl}/openapi.json`);
    expect(res.status).toBe(200);
    doc = await res.json();
    validator = new DocumentValidator(doc);
  });
  afterAll(async () => {
    await h?.close();
    receiver?.closeAllConnections();
    await new Promise<void>((r) => (receiver ? receiver.close(() => r()) : r()));
    if (policyDir) rmSync(policyDir, { recursive: true, force: true });
  });

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

    // The responders: policies, manual revokes and their deliveries, dead letters, OCSF.
    const secret = `whsec_${randomBytes(24).toString('base64')}`;
    const policy = (id: string, path = '/ok', more: object = {}) =>
      JSON.stringify({
        id,
        match: { detectors: ['no_such_detector'] },
        endpoint: { url: `${receiverUrl}${path}`, secrets: [secret] },
        ...more,
      });
    const admin = (body: string) => ({ key: KEYS.admin, body });
    const createdPolicy = await call(routes.createPolicy, '/v1/responders/policies', admin(policy('broker')));
    expect(createdPolicy.status).toBe(201);
    expect(JSON.stringify(createdPolicy.body)).not.toContain(secret);
    expect((await call(routes.createPolicy, '/v1/responders/policies', admin(policy('broker')))).status).toBe(409);
    await call(routes.createPolicy, '/v1/responders/policies', { key: KEYS.analyst, body: policy('nope') });
    await call(routes.createPolicy, '/v1/responders/policies', { ...admin(policy('bad')), headers: { 'content-type': 'text/plain' } });
    await call(routes.createPolicy, '/v1/responders/policies', admin(JSON.stringify({ id: 'big', description: 'x'.repeat(70_000) })));
    const badSecret = await call(
      routes.createPolicy,
      '/v1/responders/policies',
      admin(JSON.stringify({ id: 'bad', endpoint: { url: 'ftp://x', secrets: ['hunter2-not-a-secret'] } })),
    );
    expect(badSecret.body.error.message).toMatch(/endpoint.url.*endpoint.secrets/);
    expect(badSecret.body.error.message).not.toContain('hunter2');
    await call(routes.createPolicy, '/v1/responders/policies', admin(policy('bad', '/ok', { maxPerMinute: 0, unknown: 1 })));

    await call(routes.listPolicies, '/v1/responders/policies', { key: KEYS.analyst });
    await call(routes.listPolicies, '/v1/responders/policies');
    const shown = await call(routes.getPolicy, '/v1/responders/policies/broker', { key: KEYS.analyst });
    // The document promises that no secret is ever shown: a policy answer holding one does not conform.
    const leaked = { ...shown.body, endpoint: { ...shown.body.endpoint, secrets: [secret] } };
    expect(validator.check('get', '/v1/responders/policies/{id}', 200, leaked)).not.toEqual([]);
    await call(routes.getPolicy, '/v1/responders/policies/from-file', { key: KEYS.analyst });
    await call(routes.getPolicy, '/v1/responders/policies/no-such-policy', { key: KEYS.analyst });
    await call(routes.getPolicy, '/v1/responders/policies/%20bad%20id', { key: KEYS.analyst });

    // A policy read and sent back as it is keeps its (redacted) secret.
    expect((await call(routes.replacePolicy, '/v1/responders/policies/broker', admin(JSON.stringify(shown.body)))).status).toBe(200);
    const made = await call(
      routes.replacePolicy,
      '/v1/responders/policies/failing',
      admin(policy('failing', '/fail', { retry: { maxAttempts: 1 } })),
    );
    expect(made.status).toBe(201);
    await call(routes.replacePolicy, '/v1/responders/policies/other', admin(policy('broker')));
    expect((await call(routes.replacePolicy, '/v1/responders/policies/from-file', admin(policy('from-file')))).status).toBe(409);
    await call(routes.replacePolicy, '/v1/responders/policies/broker', admin(policy('broker', '/ok', { revoke: 'everything' })));

    const revoke = (alertId: string, body: object, key: string = KEYS.analyst) =>
      call(routes.revokeAlert, `/v1/alerts/${alertId}/revoke`, { key, body: JSON.stringify(body) });
    expect((await revoke(scope.id, { policyId: 'broker', mode: 'token' })).status).toBe(202);
    expect((await revoke(scope.id, { policyId: 'broker', mode: 'token' })).status).toBe(409);
    await revoke(scope.id, { policyId: 'no-such-policy' });
    await revoke('0123456789abcdef0123456789abcdef', { policyId: 'broker' });
    await revoke(scope.id, { policyId: 'broker', mode: 'everything' });
    await revoke(scope.id, { policyId: 'broker' }, KEYS.viewer);
    expect((await revoke(other.id, { policyId: 'failing', mode: 'token' })).status).toBe(202);

    for (const [a, final] of [
      [scope, 'delivered'],
      [other, 'dead'],
    ] as const) {
      const d = await eventually(
        () => call(routes.listAlertDeliveries, `/v1/alerts/${a.id}/deliveries`),
        (r) => r.body.deliveries.some((x: { status: string }) => x.status === final),
        { timeoutMs: 15_000 },
      );
      expect(d.body.deliveries.find((x: { status: string }) => x.status === final)?.attemptLog).toHaveLength(1);
    }
    await call(routes.listAlertDeliveries, '/v1/alerts/0123456789abcdef0123456789abcdef/deliveries');
    expect((await call(routes.listDeadLetters, '/v1/responders/dead-letters?limit=5', { key: KEYS.admin })).body.deadLetters).toHaveLength(
      1,
    );
    await call(routes.listDeadLetters, '/v1/responders/dead-letters?limit=0', { key: KEYS.admin });
    await call(routes.listDeadLetters, '/v1/responders/dead-letters', { key: KEYS.analyst });

    await h.responder?.policies.setState('broker', 'paused', 'paused for the test', 'key:test');
    await call(routes.resumePolicy, '/v1/responders/policies/broker/resume', { key: KEYS.admin });
    await call(routes.resumePolicy, '/v1/responders/policies/broker/resume', admin(JSON.stringify({ release: true })));
    await call(routes.resumePolicy, '/v1/responders/policies/broker/resume', admin(JSON.stringify({ release: 'yes' })));
    await call(routes.resumePolicy, '/v1/responders/policies/no-such-policy/resume', admin('{}'));

    for (const a of alerts) {
      const finding = await call(routes.getAlert, `/v1/alerts/${a.id}?format=ocsf`);
      expect(finding.body).toMatchObject({ class_uid: 2004, finding_info: { uid: a.id } });
    }
    expect((await call(routes.getAlert, `/v1/alerts/${scope.id}?format=json`)).body.id).toBe(scope.id);
    await call(routes.getAlert, `/v1/alerts/${scope.id}?format=xml`);
    await call(routes.getAlert, '/v1/alerts/0123456789abcdef0123456789abcdef?format=ocsf');
    const exported = await call(routes.exportOcsf, '/v1/export/ocsf?since=2020-01-01T00:00:00Z');
    const lines = (exported.body as string).trim().split('\n');
    expect(lines).toHaveLength(alerts.length);
    for (const line of lines) expect(validator.checkComponent('OcsfDetectionFinding', JSON.parse(line))).toEqual([]);
    await call(routes.exportOcsf, '/v1/export/ocsf');
    await call(routes.exportOcsf, '/v1/export/ocsf?since=yesterday');

    await call(routes.deletePolicy, '/v1/responders/policies/failing', { key: KEYS.analyst });
    expect((await call(routes.deletePolicy, '/v1/responders/policies/failing', { key: KEYS.admin })).status).toBe(204);
    await call(routes.deletePolicy, '/v1/responders/policies/failing', { key: KEYS.admin });
    expect((await call(routes.deletePolicy, '/v1/responders/policies/from-file', { key: KEYS.admin })).status).toBe(409);

    // The Shared Signals transmitter: discovery and JWKS without a key, streams for admins, poll for any key.
    await call(routes.ssfConfiguration, '/.well-known/ssf-configuration', { key: null });
    await call(routes.ssfJwks, '/ssf/jwks.json', { key: null });
    const ssfAdmin = (body?: object) => ({ key: KEYS.admin, ...(body ? { body: JSON.stringify(body) } : {}) });
    const pollStream = await call(
      routes.createStream,
      '/ssf/streams',
      ssfAdmin({ aud: 'https://receiver.example.test', delivery: { method: 'urn:ietf:rfc:8936' } }),
    );
    expect(pollStream.status).toBe(201);
    const sid = pollStream.body.stream_id as string;
    await call(routes.createStream, '/ssf/streams', { key: KEYS.analyst, body: JSON.stringify({}) });
    await call(routes.createStream, '/ssf/streams', ssfAdmin({ delivery: { method: 'urn:ietf:rfc:8935' } }));
    await call(
      routes.createStream,
      '/ssf/streams',
      ssfAdmin({ delivery: { method: 'urn:ietf:rfc:8935', endpoint_url: `${receiverUrl}/ok` } }),
    );
    await call(routes.readStreams, '/ssf/streams', ssfAdmin());
    await call(routes.readStreams, `/ssf/streams?stream_id=${sid}`, ssfAdmin());
    await call(routes.readStreams, `/ssf/streams?stream_id=${'0'.repeat(32)}`, ssfAdmin());
    await call(routes.readStreams, '/ssf/streams?stream_id=nope', ssfAdmin());
    await call(routes.updateStream, '/ssf/streams', ssfAdmin({ stream_id: sid, description: 'SOC' }));
    await call(
      routes.replaceStream,
      '/ssf/streams',
      ssfAdmin({ stream_id: sid, aud: 'https://receiver.example.test', delivery: { method: 'urn:ietf:rfc:8936' } }),
    );
    await call(routes.readStreamStatus, `/ssf/status?stream_id=${sid}`, ssfAdmin());
    await call(routes.updateStreamStatus, '/ssf/status', ssfAdmin({ stream_id: sid, status: 'enabled' }));
    await call(routes.addStreamSubject, '/ssf/subjects/add', ssfAdmin({ stream_id: sid, subject: { format: 'opaque', id: 'tok-9c21' } }));
    await call(
      routes.removeStreamSubject,
      '/ssf/subjects/remove',
      ssfAdmin({ stream_id: sid, subject: { format: 'opaque', id: 'tok-9c21' } }),
    );
    await call(routes.removeStreamSubject, '/ssf/subjects/remove', ssfAdmin({ stream_id: sid, subject: { id: 'no-format' } }));
    await call(routes.verifyStream, '/ssf/verify', ssfAdmin({ stream_id: sid, state: 'abc' }));
    const polled = await call(routes.pollStream, `/ssf/poll/${sid}`, {
      key: KEYS.viewer,
      body: JSON.stringify({ returnImmediately: true }),
    });
    expect(Object.keys(polled.body.sets)).toHaveLength(1);
    await call(routes.pollStream, `/ssf/poll/${sid}`, { key: KEYS.viewer, body: JSON.stringify({ maxEvents: -1 }) });
    await call(routes.rotateSsfKeys, '/v1/ssf/keys/rotate', ssfAdmin());
    await call(routes.deleteStream, `/ssf/streams?stream_id=${sid}`, ssfAdmin());

    // Every operation was seen answering with its success status.
    for (const spec of Object.values(routes as Record<string, RouteSpec>)) {
      const success = Object.keys(spec.responses)[0];
      expect(validator.covered, spec.id).toContain(`${spec.id} ${success}`);
    }
    expect([...validator.covered].filter((c) => / (400|401|403|404|409|413|415)$/.test(c)).length).toBeGreaterThan(12);
    // Every route of the API, Shared Signals included, in one walk: room for a loaded machine.
  }, 180_000);
});
