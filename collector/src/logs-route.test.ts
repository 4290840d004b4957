import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { type Store, quoteIdentifier, registry } from '@intentwatch/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOG_SUMMARY_HEADER } from './routes/logs.js';
import { OFF_THREAD_JSON_BYTES } from './otlp/json-off-thread.js';
import { ExportLogsServiceRequest, ExportLogsServiceResponse, MAX_LOG_RECORDS_PER_REQUEST, logsRequestJson } from './otlp/logs.js';
import { RpcStatus } from './otlp/proto.js';
import type { Collector } from './server.js';
import { collectorConfig, postJson, postProtobuf, startCollector } from '@intentwatch/testkit/collector';
import { openTestStore } from '@intentwatch/testkit';

const fixture = (name: string) => readFileSync(new URL(`../../test/fixtures/audit-logs/${name}`, import.meta.url), 'utf8');
const k8sRecords = () =>
  fixture('kubernetes-audit.ndjson')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
const cloudtrailRecords = () => (JSON.parse(fixture('cloudtrail.json')) as { Records: Record<string, unknown>[] }).Records;

const vaultRecords = () =>
  fixture('vault-audit.ndjson')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
const VAULT_RAW_BATCH_TOKEN = 'hvb.AAAAAQKq3Xb7YfGm9c2LwZs0TnE5uJ8pRkD4vH6aQeN1oB3tW7yC0iM2gF9sU5xZ8lKjP4dT6rV1nA3qE7wY2cX9bH5mG0fS8uL';
const VAULT_TOKEN = 'vault:hmac-sha256:894f9936b7d0e5a803bfe420a3d1f6f7c3f85208edcf222c2653406849e377e6';
const K8S_JTI = '7f3c2a9e-4b1d-4e5a-9c8f-2d6e1b0a5c47';
const SESSION_TOKEN_PREFIX = 'IQoJb3JpZ2luX2VjEB4aCXVzLWVhc3QtMSJHMEUCIQDYs3kQm9Jx2fWq7cLd0m8nVb1X4oR2tZpK6aH5uE3gA';
const INGEST_KEY = 'ingest-key-for-logs-test';

let store: Store;
let dispose: () => Promise<void>;
let collector: Collector;
let base: string;

beforeAll(async () => {
  ({ store, dispose } = await openTestStore({}, { serverFromEnv: true }));
  ({ collector, url: base } = await startCollector(store, collectorConfig({ INTENTWATCH_INGEST_KEYS: INGEST_KEY })));
});

afterAll(async () => {
  await collector?.close();
  await dispose?.();
});

const auth = { authorization: `Bearer ${INGEST_KEY}` };
const logs = () => `${base}/v1/logs`;
const summaryOf = (headers: Headers) => JSON.parse(headers.get(LOG_SUMMARY_HEADER) ?? 'null');

/** The same request as protobuf, the bodies as OTLP key-value lists (as a collector's JSON parser leaves them). */
function protobufWithMapBodies(records: unknown[], resource: Record<string, string>): Buffer {
  const toAny = (v: unknown): object => {
    if (typeof v === 'string') return { stringValue: v };
    if (typeof v === 'boolean') return { boolValue: v };
    if (typeof v === 'number') return Number.isInteger(v) ? { intValue: v } : { doubleValue: v };
    if (Array.isArray(v)) return { arrayValue: { values: v.map(toAny) } };
    if (v && typeof v === 'object') return { kvlistValue: { values: Object.entries(v).map(([key, x]) => ({ key, value: toAny(x) })) } };
    return {};
  };
  const request = {
    resourceLogs: [
      {
        resource: { attributes: Object.entries(resource).map(([key, value]) => ({ key, value: { stringValue: value } })) },
        scopeLogs: [{ logRecords: records.map((r) => ({ timeUnixNano: Date.now() * 1e6, body: toAny(r) })) }],
      },
    ],
  };
  return Buffer.from(ExportLogsServiceRequest.encode(ExportLogsServiceRequest.fromObject(request)).finish());
}

function at(v: unknown, ...path: string[]): unknown {
  return path.reduce<unknown>((cur, k) => (cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[k] : undefined), v);
}

async function storedText(): Promise<string> {
  const tables = await store.query<{ name: string }>('SHOW TABLES');
  const parts: string[] = [];
  for (const { name } of tables) parts.push(JSON.stringify(await store.query(`SELECT * FROM ${quoteIdentifier(name)}`)));
  return parts.join('\n');
}

describe('POST /v1/logs with Kubernetes audit events', () => {
  it('turns a TokenRequest into an issued token keyed by its JTI, with audiences, expiry and the bound pod as task', async () => {
    const res = await postJson(logs(), logsRequestJson(k8sRecords(), { 'intentwatch.source': 'kubernetes-audit' }), auth);
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({});
    expect(summaryOf(res.headers)).toEqual({
      records: 5,
      events: 3,
      rejected: 0,
      skipped: { 'not a final stage (ResponseComplete)': 1, 'no service-account token issued, used or ended': 1 },
    });
    const grants = await store.query<Record<string, unknown>>('SELECT * FROM token_events WHERE token_id = {t:String}', { t: K8S_JTI });
    expect(grants).toHaveLength(1);
    expect(grants[0]).toMatchObject({
      event: 'issued',
      audience: ['vault'],
      task_id: 'agents/triage-bot-7d9f8',
      workload_id: 'system:serviceaccount:agents:triage-bot',
      expires_at: '2026-12-02T11:55:07.000Z',
      time: '2026-12-02T10:55:00.004000000Z',
    });
  });

  it('records a request authenticated by the token as a use of its JTI, and the pod deletion as the end of the task', async () => {
    const uses = await store.query<Record<string, unknown>>('SELECT * FROM spans WHERE token_id = {t:String}', { t: K8S_JTI });
    expect(uses).toHaveLength(1);
    expect(uses[0]).toMatchObject({
      task_id: 'agents/triage-bot-7d9f8',
      workload_id: 'system:serviceaccount:agents:triage-bot',
      resource: '/api/v1/namespaces/agents/configmaps/triage-rules',
      scopes: ['get configmaps'],
      target: '',
    });
    const ended = await store.query<Record<string, unknown>>(
      "SELECT event, task_id FROM task_events WHERE task_id = 'agents/triage-bot-7d9f8'",
    );
    expect(ended).toEqual([{ event: 'completed', task_id: 'agents/triage-bot-7d9f8' }]);
  });

  it('stores the same rows once when a record is sent again (ids derive from the audit ID)', async () => {
    const [tokenRequest] = k8sRecords();
    await postJson(logs(), logsRequestJson([tokenRequest], {}), auth);
    const ids = await store.query<{ span_id: string }>('SELECT DISTINCT span_id FROM token_events WHERE token_id = {t:String}', {
      t: K8S_JTI,
    });
    expect(ids).toHaveLength(1);
  });
});

describe('POST /v1/logs with CloudTrail records', () => {
  it('reads AssumeRole from protobuf, gzip, map bodies and no named format: expiry, session policy as scopes, resources and audience', async () => {
    const body = gzipSync(protobufWithMapBodies(cloudtrailRecords(), {}));
    const res = await postProtobuf(logs(), body, { ...auth, 'content-encoding': 'gzip' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/x-protobuf/);
    expect(ExportLogsServiceResponse.toObject(ExportLogsServiceResponse.decode(res.bytes))).toEqual({});
    expect(summaryOf(res.headers)).toMatchObject({
      records: 4,
      events: 3,
      rejected: 0,
      skipped: { 'no temporary credential issued or used': 1 },
    });
    const [grant] = await store.query<Record<string, unknown>>("SELECT * FROM token_events WHERE caller = 'sts'");
    expect(grant).toMatchObject({
      event: 'issued',
      agent_id: 'report-agent-T-42',
      workload_id: 'arn:aws:iam::111122223333:role/report-agent',
      expires_at: '2026-12-02T10:15:00.000Z',
      scopes: ['s3:GetObject', 's3:ListBucket'],
      resources: ['arn:aws:s3:::quarterly-reports', 'arn:aws:s3:::quarterly-reports/2026/**'],
      audience: ['s3'],
    });
    const uses = await store.query<Record<string, unknown>>('SELECT * FROM spans WHERE token_id = {t:String} ORDER BY time', {
      t: grant?.token_id,
    });
    expect(uses.map((u) => [u.target, u.scopes, u.resource, u.agent_id])).toEqual([
      ['s3', ['s3:GetObject'], 'arn:aws:s3:::quarterly-reports/2026/q3/summary.csv', 'report-agent-T-42'],
      ['s3', ['s3:DeleteObject'], 'arn:aws:s3:::quarterly-reports/2026/q3/summary.csv', 'report-agent-T-42'],
    ]);
  });

  it('names the temporary key by the same fingerprint an agent SDK gives it (the raw key id is never stored)', async () => {
    const [grant] = await store.query<{ token_id: string }>("SELECT token_id FROM token_events WHERE caller = 'sts'");
    expect(grant?.token_id).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
});

describe('POST /v1/logs with records it cannot map', () => {
  it('reports unknown and malformed records in partialSuccess and stores the others', async () => {
    const [tokenRequest] = k8sRecords();
    const request = JSON.parse(logsRequestJson([{ hello: 'world' }, tokenRequest], {}));
    request.resourceLogs[0].scopeLogs[0].logRecords.push({ body: { stringValue: '{"kind": "Event", ' } }, { body: { intValue: '3' } });
    const res = await postJson(logs(), request, auth);
    expect(res.status).toBe(200);
    const partial = res.json().partialSuccess;
    expect(partial.rejectedLogRecords).toBe('3');
    expect(partial.errorMessage).toContain('record 0: the body is not a record of a known format');
    expect(partial.errorMessage).toContain('record 2: the body is not JSON');
    expect(partial.errorMessage).toContain('record 3: the body must be the source record');
    expect(summaryOf(res.headers)).toMatchObject({ records: 4, events: 1, rejected: 3 });
  });

  it('rejects records of a format it does not know, naming the ones it does', async () => {
    const res = await postJson(logs(), logsRequestJson([{ type: 'response' }], { 'intentwatch.source': 'splunk-hec' }), auth);
    expect(res.json().partialSuccess.errorMessage).toContain(
      'intentwatch.source "splunk-hec" is not a format this collector maps; known: kubernetes-audit, cloudtrail, vault-audit, keycloak-events, okta-system-log',
    );
  });

  it('rejects a TokenRequest that names no token, with the audit level it needs', async () => {
    const [tokenRequest] = k8sRecords() as [Record<string, Record<string, unknown>>];
    delete tokenRequest.annotations?.['authentication.kubernetes.io/issued-credential-id'];
    delete tokenRequest.responseObject;
    const res = await postJson(logs(), logsRequestJson([tokenRequest], {}), auth);
    expect(res.json().partialSuccess.errorMessage).toMatch(
      /kubernetes-audit: audit event .*: the TokenRequest has no .* \(audit level RequestResponse\)/,
    );
  });

  it('refuses a body that is not an ExportLogsServiceRequest with 400 and an OTLP status', async () => {
    const res = await postProtobuf(logs(), Buffer.from([0x0a, 0xff, 0xff]), auth);
    expect(res.status).toBe(400);
    expect(RpcStatus.toObject(RpcStatus.decode(res.bytes)).message).toMatch(/not an OTLP ExportLogsServiceRequest in protobuf/);
    const json = await postJson(logs(), '{"resourceLogs": 3}', auth);
    expect(json.status).toBe(400);
    expect(json.json().error.message).toContain('"resourceLogs" must be an array');
  });

  it('refuses more records than one request may hold with 413, storing none of them', async () => {
    const records = Array.from({ length: MAX_LOG_RECORDS_PER_REQUEST + 1 }, () => ({}));
    const res = await postJson(logs(), logsRequestJson(records, {}), auth);
    expect(res.status).toBe(413);
    expect(res.json().error.message).toContain(`more than ${MAX_LOG_RECORDS_PER_REQUEST} log records`);
  });

  it('requires the ingest key, as /v1/traces does', async () => {
    const res = await postJson(logs(), logsRequestJson(k8sRecords(), {}));
    expect(res.status).toBe(401);
  });
});

describe('POST /v1/logs with Vault, Keycloak and Okta records', () => {
  it('stores a Vault login as an issued token keyed by its accessor, its uses, renewal and revocation, recognised by shape', async () => {
    const res = await postJson(logs(), logsRequestJson(vaultRecords(), {}), auth);
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({});
    expect(summaryOf(res.headers)).toEqual({
      records: 7,
      events: 8,
      rejected: 0,
      skipped: { 'a request entry (its response entry is read)': 1 },
    });
    const events = await store.query<Record<string, unknown>>(
      'SELECT event, scopes, expires_at FROM token_events WHERE token_id = {t:String} ORDER BY time',
      {
        t: VAULT_TOKEN,
      },
    );
    expect(events).toEqual([
      expect.objectContaining({ event: 'issued', scopes: ['default', 'kv-triage-read'], expires_at: '2026-12-02T11:00:00.000Z' }),
      expect.objectContaining({ event: 'renewed', expires_at: '2026-12-02T11:30:00.007Z' }),
      expect.objectContaining({ event: 'revoked' }),
    ]);
    const uses = await store.query<{ resource: string }>('SELECT resource FROM spans WHERE token_id = {t:String} ORDER BY time', {
      t: VAULT_TOKEN,
    });
    expect(uses.map((u) => u.resource)).toEqual(['secret/data/triage/rules', 'auth/token/renew-self', 'secret/data/triage/rules']);
  });

  it('stores Keycloak’s exchanges under the subject client’s session grant, and Okta’s grant and revocation by jti', async () => {
    const keycloak = JSON.parse(fixture('keycloak-events.json'));
    const okta = JSON.parse(fixture('okta-system-log.json'));
    const k = await postJson(logs(), logsRequestJson(keycloak, { 'intentwatch.source': 'keycloak-events' }), auth);
    expect(summaryOf(k.headers)).toEqual({ records: 6, events: 9, rejected: 0, skipped: { 'a failed event (error)': 1 } });
    const o = await postJson(logs(), logsRequestJson(okta, { 'intentwatch.source': 'okta-system-log' }), auth);
    expect(summaryOf(o.headers)).toEqual({ records: 3, events: 2, rejected: 0, skipped: { 'not a token grant or revocation': 1 } });
    const exchanged = await store.query<Record<string, unknown>>(
      "SELECT token_id, parent_id, agent_id, scopes, audience FROM token_events WHERE event = 'exchanged' ORDER BY time",
    );
    expect(exchanged.map((e) => [e.agent_id, e.parent_id, e.audience])).toEqual([
      ['search-agent', 'keycloak:agents/f1b2c3d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d/triage-agent', ['ticket-search']],
      ['billing-agent', 'keycloak:agents/f1b2c3d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d/triage-agent', ['billing-api']],
    ]);
    const oktaEvents = await store.query<{ event: string }>('SELECT event FROM token_events WHERE token_id = {t:String} ORDER BY time', {
      t: 'AT.k3Xq9ZtB7uYw2Lr5NcVm8PfHd1SgJ4aE6oQiRbTnKlM',
    });
    expect(oktaEvents.map((e) => e.event)).toEqual(['issued', 'revoked']);
  });
});

describe('secrets in audit records', () => {
  it('stores no raw credential from any record: not the TokenRequest token, the session token or the temporary key id', async () => {
    const text = await storedText();
    const jwt = (k8sRecords()[0] as { responseObject: { status: { token: string } } }).responseObject.status.token;
    expect(text).toContain(K8S_JTI);
    expect(text.includes(jwt.slice(0, 60)), 'TokenRequest token stored').toBe(false);
    expect(text.includes(jwt.split('.')[1] as string), 'JWT payload stored').toBe(false);
    expect(text.includes(SESSION_TOKEN_PREFIX), 'sessionToken stored').toBe(false);
    expect(text.includes('ASIAIOSFODNN7EXAMPLE'), 'temporary access key id stored').toBe(false);
    expect(text.includes('AKIAI44QH8DHBEXAMPLE'), 'long-term access key id stored').toBe(false);
    expect(text).toContain(VAULT_TOKEN);
    expect(text.includes(VAULT_RAW_BATCH_TOKEN.slice(0, 24)), 'Vault client token logged in clear stored').toBe(false);
    expect(text.includes('hvb.'), 'a Vault batch token stored').toBe(false);
    const clientTokens = new Set(
      vaultRecords().flatMap((r) => [
        at(r, 'request', 'client_token'),
        at(r, 'auth', 'client_token'),
        at(r, 'response', 'auth', 'client_token'),
      ]),
    );
    clientTokens.delete(undefined);
    expect(clientTokens.size).toBeGreaterThan(3);
    for (const t of clientTokens) expect(text.includes(String(t)), `client token ${String(t).slice(0, 20)}… stored`).toBe(false);
  });
});

describe('/v1/logs in the collector metrics', () => {
  const value = async (name: string, labels: Record<string, string> = {}) => {
    const metric = await registry.getSingleMetric(name)?.get();
    const match = metric?.values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x));
    return match?.value ?? 0;
  };

  it('counts an accepted request by endpoint and status, as /v1/traces does', async () => {
    const requestsBefore = await value('intentwatch_ingest_requests_total', { endpoint: 'logs', status: '200' });
    const res = await postJson(logs(), logsRequestJson(vaultRecords(), { 'intentwatch.source': 'vault-audit' }), auth);
    expect(res.status).toBe(200);
    expect(await value('intentwatch_ingest_requests_total', { endpoint: 'logs', status: '200' })).toBe(requestsBefore + 1);
  });
});

describe('POST /v1/logs with a CloudTrail log file as one record', () => {
  it('maps each element of "Records" (what a file tailer sends for a one-line CloudTrail file)', async () => {
    const file = JSON.parse(fixture('cloudtrail.json'));
    const res = await postJson(logs(), logsRequestJson([file], { 'intentwatch.source': 'cloudtrail' }), auth);
    expect(res.status).toBe(200);
    expect(summaryOf(res.headers)).toMatchObject({ records: 4, events: 3, rejected: 0 });
  });
});

describe('POST /v1/logs with hostile bodies', () => {
  it('answers a record nested 50,000 deep with a rejection, not an error, and keeps the others', async () => {
    const deep = `${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`;
    const [tokenRequest] = k8sRecords();
    const request = JSON.parse(logsRequestJson([tokenRequest], {}));
    request.resourceLogs[0].scopeLogs[0].logRecords.push({ body: { stringValue: deep } }, { body: { stringValue: `[${deep}]` } });
    const res = await postJson(logs(), request, auth);
    expect(res.status).toBe(200);
    expect(summaryOf(res.headers)).toMatchObject({ records: 3, events: 1, rejected: 2 });
  });
});

describe('POST /v1/logs record bound', () => {
  it('counts the elements of a CloudTrail file against the records-per-request bound', async () => {
    const get = cloudtrailRecords()[1];
    const file = { Records: Array.from({ length: MAX_LOG_RECORDS_PER_REQUEST + 1 }, () => get) };
    const res = await postJson(logs(), logsRequestJson([file], { 'intentwatch.source': 'cloudtrail' }), auth);
    expect(res.status).toBe(413);
    expect(res.json().error.message).toContain(`more than ${MAX_LOG_RECORDS_PER_REQUEST} log records`);
  });
});

// Last: its 2,000 copies of the CloudTrail records add uses to the tokens the tests above count.
describe('POST /v1/logs with a large OTLP/JSON body', () => {
  it('maps every record of a body of 1 MiB or more (decoded on a worker thread) and stores their uses', async () => {
    // Copies of the fixture's records, each with an event ID of its own.
    const records = Array.from({ length: 2000 }, (_, i) => ({ ...cloudtrailRecords()[i % 4], eventID: `large-body-${i}` }));
    const body = logsRequestJson(records, { 'intentwatch.source': 'cloudtrail' });
    expect(Buffer.byteLength(body)).toBeGreaterThanOrEqual(OFF_THREAD_JSON_BYTES);
    const res = await postJson(logs(), body, auth);
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({});
    expect(summaryOf(res.headers)).toEqual({
      records: 2000,
      events: 1500,
      rejected: 0,
      skipped: { 'no temporary credential issued or used': 500 },
    });
    const [uses] = await store.query<{ n: number }>(
      "SELECT count() AS n FROM spans WHERE startsWith(attributes['aws.cloudtrail.event_id'], 'large-body-')",
    );
    expect(Number(uses?.n)).toBe(1000);
  });
});
