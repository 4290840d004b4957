import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store, migrate, quoteIdentifier, composeSettings, coreSettings } from '@intentwatch/core';
import { collectorSettings } from '@intentwatch/collector';
import { detectorSettings } from '@intentwatch/detectors';
import { apiSettings } from '../settings.js';
import { responderSettings } from '@intentwatch/responders';
import { AlertStore, type Finding } from '@intentwatch/alerts';
import { ChatNotifier, MemoryRateLimiter, OcsfExporter, Responder } from '@intentwatch/responders';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeys } from '../api-keys.js';
import { Api } from '../server.js';
import { respondersRouter } from './responders.js';
import { eventually } from '@intentwatch/testkit';

/** The settings these tests read: the core settings and those of the workspaces they start. */
const configuration = composeSettings(coreSettings, collectorSettings, detectorSettings, apiSettings, responderSettings);
const loadConfig = configuration.load;
type Config = ReturnType<typeof configuration.load>;

const ANALYST = 'analyst-key-0123456789abcdef';
const ADMIN = 'admin-key-0123456789abcdef01';
// The paths of incoming webhooks are their secrets.
const ONCALL_PATH = '/services/T0001/B0001/OncallSecretPath0001';
const QUIET_PATH = '/services/T0002/B0002/QuietSecretPath0002';

interface Message {
  text: string;
  blocks: { type: string; text?: { text: string } }[];
}

let dataDir: string;
let store: Store;
let config: Readonly<Config>;
let alerts: AlertStore;
const responders: Responder[] = [];
let api: Api;
let base: string;
let receiver: Server;
let origin: string;
const received: { path: string; body: Message }[] = [];
const answers: string[] = [];

const call = async (method: string, path: string, key: string, body?: unknown) => {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  answers.push(text);
  return { status: res.status, json: (text ? JSON.parse(text) : undefined) as Record<string, unknown> };
};

let seq = 0;
/** Alerts as a detector records them: one per token, in `environment`. */
async function record(environment: string, n: number, severity: Finding['severity'] = 'high'): Promise<string[]> {
  const findings: Finding[] = Array.from({ length: n }, () => {
    seq++;
    return {
      key: `svc-${seq}`,
      severity,
      reason: `token tok-${environment}-${seq} was used against svc-${seq} outside its audience`,
      tokenId: `tok-${environment}-${seq}`,
      rootTokenId: `tok-${environment}-${seq}`,
      agentId: 'triage-bot',
      taskId: 'T-9',
      caller: 'triage-svc',
      target: `svc-${seq}`,
      environment,
      evidence: { traceId: 'c'.repeat(32), spanId: seq.toString(16).padStart(16, '0'), time: new Date().toISOString() },
    };
  });
  await alerts.record(SOURCE, findings);
  return findings.map((f) => f.tokenId);
}

const SOURCE = { id: 'cross_service_reuse', title: 'Token used outside its audience', frameworks: [] };
const messagesTo = (path: string) => received.filter((r) => r.path === path);

beforeAll(async () => {
  // A Slack-compatible incoming webhook on loopback: records what it is sent, answers 200 "ok".
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url ?? '', body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Message });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;
  dataDir = mkdtempSync(join(tmpdir(), 'iw-api-notify-'));
  config = loadConfig(
    {
      INTENTWATCH_DATA_DIR: dataDir,
      INTENTWATCH_API_KEYS: `analyst:${ANALYST},admin:${ADMIN}`,
      INTENTWATCH_WEBHOOK_ALLOW: '127.0.0.1/32',
      INTENTWATCH_RESPONDER_POLL_MS: '25',
      INTENTWATCH_SECRETS_KEY: randomBytes(32).toString('base64'),
    },
    { dotenv: false },
  );
  store = await Store.open(config);
  await migrate(store, { retentionDays: 30 });
  alerts = new AlertStore(store);
  // Two workers on one store, each with its own notifier and queue; the rate limit is shared
  // between them as Redis shares it between BullMQ workers.
  const limiter = new MemoryRateLimiter();
  for (let i = 0; i < 2; i++) {
    const r = await Responder.open({
      store,
      config,
      channels: [ChatNotifier.create({ store, config })],
      rateLimiter: limiter,
      lagMs: 1000,
    });
    await r.start();
    responders.push(r);
  }
  api = new Api({
    store,
    keys: ApiKeys.load(config.apiKeys, dataDir).keys,
    routers: [respondersRouter(responders[0] as Responder, new OcsfExporter(store))],
  });
  base = `http://127.0.0.1:${await api.listen(0, '127.0.0.1')}`;
}, 60_000);

afterAll(async () => {
  await api?.close();
  for (const r of responders) await r.close();
  await store?.close();
  receiver?.closeAllConnections();
  await new Promise<void>((r) => (receiver ? receiver.close(() => r()) : r()));
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('notify policies', () => {
  it('are created through the API by admins and shown with their URL redacted to origin and fingerprint', async () => {
    const oncall = {
      id: 'oncall',
      target: 'notify',
      match: { environments: ['prod'], minSeverity: 'high' },
      endpoint: { url: `${origin}${ONCALL_PATH}` },
      batchMs: 400,
      maxPerMinute: 30,
    };
    expect((await call('POST', '/v1/responders/policies', ANALYST, oncall)).status).toBe(403);
    const created = await call('POST', '/v1/responders/policies', ADMIN, oncall);
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ id: 'oncall', target: 'notify', batchMs: 400, maxPerMinute: 30, source: 'api' });
    expect((created.json.endpoint as { url: string }).url).toMatch(new RegExp(`^${origin.replaceAll('.', '\\.')}/…[0-9a-f]{12}$`));

    const quiet = {
      id: 'quiet',
      target: 'notify',
      match: { environments: ['rate'] },
      endpoint: { url: `${origin}${QUIET_PATH}` },
      batchMs: 100,
      maxPerMinute: 1,
    };
    expect((await call('PUT', '/v1/responders/policies/quiet', ADMIN, quiet)).status).toBe(201);
    // A policy read and sent back keeps its URL.
    const read = await call('GET', '/v1/responders/policies/quiet', ADMIN);
    const { state: _s, requests: _r, source: _src, ...back } = read.json;
    expect((await call('PUT', '/v1/responders/policies/quiet', ADMIN, back)).status).toBe(200);
    // Both workers see the API's policies.
    for (const r of responders) await r.policies.refresh();
  });

  it('refuses a notify URL the endpoint guard refuses, and a malformed one, without quoting it', async () => {
    const privateUrl = await call('PUT', '/v1/responders/policies/internal', ADMIN, {
      target: 'notify',
      endpoint: { url: 'https://192.168.10.5/services/T/B/PrivateSecretPath' },
    });
    expect(privateUrl.status).toBe(400);
    expect(JSON.stringify(privateUrl.json)).not.toContain('PrivateSecretPath');
    const malformed = await call('PUT', '/v1/responders/policies/internal', ADMIN, {
      target: 'notify',
      endpoint: { url: 'hooks.example.com/MalformedSecretPath' },
    });
    expect(malformed.status).toBe(400);
    expect(JSON.stringify(malformed.json)).not.toContain('MalformedSecretPath');
  });

  it('posts one message naming every alert of a burst, from two workers, and nothing about alerts it does not match', async () => {
    const burst = await record('prod', 5);
    const [staging] = await record('staging', 1);
    const [low] = await record('prod', 1, 'low');
    await eventually(
      () => messagesTo(ONCALL_PATH).length,
      (n) => n >= 1,
      { timeoutMs: 20_000 },
    );
    // A later alert is a later message: once it has arrived, any second message about the burst would have too.
    const [later] = await record('prod', 1);
    const got = await eventually(
      () => messagesTo(ONCALL_PATH),
      (m) => m.length >= 2,
      { timeoutMs: 20_000 },
    );
    expect(got).toHaveLength(2);
    const [first, second] = got.map((m) => JSON.stringify(m.body));
    expect(got[0]?.body.text).toContain('intentwatch: 5 alerts (5 high)');
    for (const t of burst) expect(first).toContain(t);
    expect(first).toContain('Open the alert');
    expect(second).toContain(later as string);
    for (const m of got.map((g) => JSON.stringify(g.body))) {
      expect(m).not.toContain(staging as string);
      expect(m).not.toContain(low as string);
    }
    // The message is in the audit trail of the first alert it names, and in its Response panel.
    const delivered = await eventually(
      () => (responders[0] as Responder).deliveryLog.withStatus('oncall', 'delivered'),
      (d) => d.length >= 2,
      { timeoutMs: 20_000 },
    );
    expect(delivered).toHaveLength(2);
    const panel = await call('GET', `/v1/alerts/${encodeURIComponent(delivered[0]?.alertId as string)}/deliveries`, ANALYST);
    expect(panel.status).toBe(200);
    const deliveries = panel.json.deliveries as { policyId: string; status: string; attemptLog: { endpoint: string }[] }[];
    expect(deliveries.find((d) => d.policyId === 'oncall')).toMatchObject({ status: 'delivered' });
    expect(deliveries[0]?.attemptLog[0]?.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/…[0-9a-f]{12}$/);
  });

  it('holds a message past the per-minute limit rather than sending or dropping it', async () => {
    await record('rate', 3);
    await eventually(
      () => messagesTo(QUIET_PATH).length,
      (n) => n >= 1,
      { timeoutMs: 20_000 },
    );
    await record('rate', 2);
    const waiting = await eventually(
      () => (responders[0] as Responder).deliveryLog.withStatus('quiet', 'queued'),
      (q) => q.some((r) => r.lastError.includes('rate limit')),
      { timeoutMs: 20_000 },
    );
    expect(waiting.filter((r) => r.lastError.includes('rate limit'))).toHaveLength(1);
    expect(JSON.parse(waiting[0]?.payload as string).text).toContain('2 alerts');
    expect(messagesTo(QUIET_PATH)).toHaveLength(1);
  });

  it('never stores or answers the incoming-webhook URL', async () => {
    await call('GET', '/v1/responders/policies', ADMIN);
    await call('GET', '/v1/responders/policies/oncall', ADMIN);
    const stored = await everythingStored();
    expect(stored).toContain('oncall');
    for (const secret of [ONCALL_PATH, QUIET_PATH, 'OncallSecretPath', 'QuietSecretPath']) {
      expect(stored).not.toContain(secret);
      for (const a of answers) expect(a).not.toContain(secret);
    }
  });
});

/** Every column of every table of the store, as text: where a stored URL would show. */
async function everythingStored(): Promise<string> {
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
