import { type Server, createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AlertSource, AlertStore, type Finding } from '@intentwatch/alerts';
import { type StoreFor, eventually, openTestStore } from '@intentwatch/testkit';
import { ChatNotifier, NOTIFY_POLICY_ID } from './chat-notifier.js';
import { Responder } from './responder.js';
import { composeSettings, coreSettings } from '@intentwatch/core';
import { responderSettings } from './settings.js';

const SOURCE: AlertSource = { id: 'cross_service_reuse', title: 'Token reused outside its audience', frameworks: [] };
const PUBLIC_URL = 'https://intentwatch.example.test';

interface Message {
  text: string;
  blocks: { type: string; text?: { text: string }; elements?: { text: string }[] }[];
}

/** The settings the responders read, over the core ones. */
const SETTINGS = composeSettings(coreSettings, responderSettings);
let ts: StoreFor<typeof SETTINGS>;
let alerts: AlertStore;
let responder: Responder;
let chat: ChatNotifier;
let server: Server;
const received: { path: string; contentType: string; body: Message }[] = [];
let seq = 0;

/** A burst of `n` alerts of `severity` in environment `env`, as the detectors record them. */
async function burst(env: string, n: number, severity: Finding['severity'] = 'high'): Promise<void> {
  const findings: Finding[] = Array.from({ length: n }, (_, i) => {
    seq++;
    return {
      key: `svc-${seq}`,
      severity,
      reason: `token tok-${env}-${i} issued for [github] was used against svc-${seq} by agent <exfil-bot>`,
      tokenId: `tok-${env}-${i}`,
      rootTokenId: `tok-${env}-${i}`,
      agentId: 'exfil-bot',
      taskId: 'T-77',
      caller: 'exfil-svc',
      target: `svc-${seq}`,
      environment: env,
      evidence: { traceId: 'a'.repeat(32), spanId: seq.toString(16).padStart(16, '0'), time: new Date().toISOString() },
    };
  });
  await alerts.record(SOURCE, findings);
}

beforeAll(async () => {
  // A Slack-compatible incoming webhook on loopback: it records what it is sent and answers 200 "ok".
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({
        path: req.url ?? '',
        contentType: req.headers['content-type'] ?? '',
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Message,
      });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/services/T000/B000/XXXXSECRET`;
  ts = await openTestStore(
    {
      INTENTWATCH_WEBHOOK_ALLOW: '127.0.0.1/32',
      INTENTWATCH_RESPONDER_POLL_MS: '25',
      INTENTWATCH_NOTIFY_WEBHOOK: url,
      INTENTWATCH_NOTIFY_MIN_SEVERITY: 'high',
      INTENTWATCH_NOTIFY_MAX_PER_MINUTE: '2',
      INTENTWATCH_NOTIFY_BATCH_MS: '300',
      INTENTWATCH_PUBLIC_URL: PUBLIC_URL,
    },
    { settings: SETTINGS },
  );
  alerts = new AlertStore(ts.store);
  // The task and the grant the alerts' tokens belong to, for intent vs actual.
  const now = new Date().toISOString();
  await ts.store.insert('task_events', [
    {
      time: now,
      ingested_at: now,
      event: 'started',
      task_id: 'T-77',
      agent_id: 'triage-bot',
      intent: 'Triage new issues in acme/api',
      tools: [],
      deadline: null,
      caller: 'orchestrator',
      trace_id: '',
      span_id: '',
      source: 'test',
      attributes: {},
    },
  ]);
  await ts.store.insert('token_events', [
    {
      time: now,
      ingested_at: now,
      event: 'issued',
      token_id: 'tok-burst-0',
      parent_id: '',
      task_id: 'T-77',
      agent_id: 'triage-bot',
      workload_id: '',
      audience: ['github'],
      scopes: ['issues:read'],
      resources: [],
      expires_at: null,
      max_session_s: null,
      environment: 'burst',
      revoked_reason: '',
      caller: 'broker',
      trace_id: '',
      span_id: '',
      source: 'test',
      attributes: {},
    },
  ]);
  chat = ChatNotifier.create({ store: ts.store, config: ts.config }) as ChatNotifier;
  responder = await Responder.open({ store: ts.store, config: ts.config, channels: [chat], lagMs: 1000 });
  await responder.start();
}, 60_000);

afterAll(async () => {
  await responder?.close();
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  await ts?.dispose();
});

describe('ChatNotifier', () => {
  it('posts one human-readable message for a burst: titles, reasons, intent vs actual, links', async () => {
    await burst('burst', 25);
    await burst('burst-low', 5, 'medium');
    const got = await eventually(
      async () => received.length,
      (n) => n >= 1,
      { timeoutMs: 20_000 },
    );
    expect(got).toBe(1);
    const m = received[0] as (typeof received)[number];
    expect(m.contentType).toBe('application/json');
    expect(m.body.text).toContain('intentwatch: 25 alerts (25 high)');
    const sections = m.body.blocks.filter((b) => b.type === 'section').map((b) => b.text?.text ?? '');
    expect(sections).toHaveLength(10);
    const first = sections.find((s) => s.includes('tok-burst-0')) ?? sections[0] ?? '';
    expect(first).toContain('HIGH · Token reused outside its audience');
    // Slack mrkdwn: <, > and & escaped in text from the alert, so a reason cannot forge a link.
    expect(first).toContain('by agent &lt;exfil-bot&gt;');
    expect(first).toMatch(/\*Intent:\* Triage new issues in acme\/api/);
    expect(first).toMatch(/\*Actual:\* exfil-bot → svc-\d+ \(burst\)/);
    expect(first).toMatch(new RegExp(`<${PUBLIC_URL}/#/alerts/[^|]+\\|Open the alert>`));
    expect(sections.find((s) => s.includes('tok-burst-0'))).toContain('granted triage-bot → github (issues:read)');
    expect(m.body.blocks.at(-1)?.elements?.[0]?.text).toContain('and 15 more');
    // Alerts below the minimum severity are not told.
    expect(JSON.stringify(m.body)).not.toContain('burst-low');
  });

  it('holds messages past its rate limit instead of sending or dropping them, and records every message', async () => {
    await burst('second', 3);
    await eventually(
      async () => received.length,
      (n) => n >= 2,
      { timeoutMs: 20_000 },
    );
    await burst('third', 3);
    // The third message is queued and waits for the window: the limit is two a minute.
    const waiting = await eventually(
      () => responder.deliveryLog.withStatus(NOTIFY_POLICY_ID, 'queued'),
      (q) => q.some((r) => r.lastError.includes('rate limit')),
      { timeoutMs: 20_000 },
    );
    expect(waiting.filter((r) => r.lastError.includes('rate limit'))).toHaveLength(1);
    expect(received).toHaveLength(2);
    expect(received[1]?.body.text).toContain('3 alerts');
    const delivered = await responder.deliveryLog.withStatus(NOTIFY_POLICY_ID, 'delivered');
    expect(delivered).toHaveLength(2);
    // The webhook URL's path is its secret: the audit trail names the origin only.
    const views = await responder.policyService.deliveries(delivered[0]?.alertId as string);
    const attempts = views.flatMap((v) => v.attemptLog);
    expect(attempts.length).toBeGreaterThan(0);
    for (const a of attempts) expect(a.endpoint).not.toContain('XXXXSECRET');
  });
});
