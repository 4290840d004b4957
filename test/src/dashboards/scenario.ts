import { randomBytes } from 'node:crypto';

/**
 * A small, complete story for the dashboards to show, sent through a real collector as agents,
 * brokers and orchestrators send it: a task and its token session (issued, refreshed, exchanged
 * to a helper agent, revoked), steady in-scope uses spread over the last 40 minutes, then a
 * burst that strays outside the grant (another service, a scope and a tool not granted), a use
 * after revocation, and context spans without a token.
 */
export const SCENARIO = {
  agent: 'triage-bot',
  helper: 'helper-bot',
  task: 'T-dash-1',
  root: 'tok-dash-root',
  refreshed: 'tok-dash-r1',
  delegated: 'tok-dash-x1',
  environment: 'prod',
  granted: { audience: ['github'], scopes: ['repo:read'], tools: ['github.search', 'jira.create'] },
  strayTarget: 'slack',
  strayScope: 'repo:write',
  strayTool: 'shell.exec',
} as const;

export interface ScenarioTimes {
  /** Wall-clock anchor: every event is placed relative to it. */
  now: number;
  /** Earliest event time. */
  start: number;
}

interface OtlpSpan {
  name: string;
  startMs: number;
  attributes: Record<string, string | string[]>;
  kind?: number;
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

function otlpJson(service: string, environment: string, spans: OtlpSpan[]): string {
  const value = (v: string | string[]) =>
    Array.isArray(v) ? { arrayValue: { values: v.map((s) => ({ stringValue: s })) } } : { stringValue: v };
  const attrs = (o: Record<string, string | string[]>) => Object.entries(o).map(([key, v]) => ({ key, value: value(v) }));
  const traceId = hex(16);
  return JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: attrs({ 'service.name': service, 'deployment.environment.name': environment }) },
        scopeSpans: [
          {
            scope: { name: 'dashboards.scenario' },
            spans: spans.map((s) => ({
              traceId,
              spanId: hex(8),
              name: s.name,
              kind: s.kind ?? 3,
              startTimeUnixNano: `${BigInt(Math.round(s.startMs)) * 1_000_000n}`,
              endTimeUnixNano: `${BigInt(Math.round(s.startMs) + 25) * 1_000_000n}`,
              attributes: attrs(s.attributes),
            })),
          },
        ],
      },
    ],
  });
}

async function post(url: string, body: string): Promise<void> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  if (!res.ok) throw new Error(`POST ${url}: ${res.status} ${await res.text()}`);
  const text = await res.text();
  if (text.includes('rejected') && !text.includes('"rejected":[]')) throw new Error(`POST ${url} rejected some items: ${text}`);
}

/** Sends the scenario to the collector at `base` (e.g. http://127.0.0.1:4318). */
export async function sendScenario(base: string, now = Date.now()): Promise<ScenarioTimes> {
  const s = SCENARIO;
  const min = 60_000;
  const start = now - 45 * min;
  const iso = (ms: number) => new Date(ms).toISOString();

  await post(
    `${base}/v1/task-events`,
    JSON.stringify([
      {
        'task.event': 'started',
        'task.id': s.task,
        'gen_ai.agent.id': s.agent,
        'task.intent': 'triage new issues in acme/app',
        'task.tools': [...s.granted.tools],
        'task.deadline': iso(now + 60 * min),
        time: iso(start),
      },
    ]),
  );
  const grant = {
    'task.id': s.task,
    'gen_ai.agent.id': s.agent,
    'token.audience': [...s.granted.audience],
    'token.scopes': [...s.granted.scopes],
    'token.resources': ['acme/app/**'],
    'deployment.environment.name': s.environment,
  };
  await post(
    `${base}/v1/token-events`,
    JSON.stringify([
      { 'token.event': 'issued', 'token.id': s.root, ...grant, 'token.expires_at': iso(start + 30 * min), time: iso(start + 1000) },
      {
        'token.event': 'refreshed',
        'token.id': s.refreshed,
        'token.parent_id': s.root,
        ...grant,
        'token.expires_at': iso(now + 30 * min),
        time: iso(start + 29 * min),
      },
      {
        'token.event': 'exchanged',
        'token.id': s.delegated,
        'token.parent_id': s.refreshed,
        ...grant,
        'gen_ai.agent.id': s.helper,
        time: iso(start + 31 * min),
      },
      { 'token.event': 'revoked', 'token.id': s.root, 'token.revoked_reason': 'rotated', time: iso(now - 5 * min) },
    ]),
  );

  const use = (token: string, at: number, extra: Record<string, string | string[]> = {}): OtlpSpan => ({
    name: 'GET github',
    startMs: at,
    attributes: {
      'token.id': token,
      'task.id': s.task,
      'gen_ai.agent.id': s.agent,
      'service.peer.name': 'github',
      'http.request.method': 'GET',
      'http.route': '/repos/{owner}/{repo}/issues',
      'url.path': '/repos/acme/app/issues',
      'token.scope': 'repo:read',
      'gen_ai.tool.name': 'github.search',
      ...extra,
    },
  });
  // Steady, in-scope: one use every 30 s for 40 minutes (the root token, then its refresh).
  const steady: OtlpSpan[] = [];
  for (let at = start + 2 * min; at < now - 4 * min; at += 30_000) steady.push(use(at < start + 29 * min ? s.root : s.refreshed, at));
  // The burst: 60 uses in the last 3 minutes, some of them outside the grant.
  const burst: OtlpSpan[] = [];
  for (let i = 0; i < 60; i++) {
    const at = now - 3 * min + i * 2500;
    const stray = i % 3 === 0;
    burst.push(
      use(
        s.refreshed,
        at,
        stray ? { 'service.peer.name': s.strayTarget, 'token.scope': s.strayScope, 'gen_ai.tool.name': s.strayTool } : {},
      ),
    );
  }
  // The revoked root token, used again after its revocation.
  const afterRevoke = [use(s.root, now - 2 * min)];
  // The delegated token, used by the helper agent.
  const delegated = [0, 1, 2].map((i) => ({
    ...use(s.delegated, start + 32 * min + i * min),
    attributes: { ...use(s.delegated, 0).attributes, 'gen_ai.agent.id': s.helper },
  }));
  // Context: spans without a token.
  const context: OtlpSpan[] = [0, 1, 2].map((i) => ({ name: 'plan step', startMs: now - 10 * min + i * 1000, attributes: {}, kind: 1 }));

  await post(`${base}/v1/traces`, otlpJson('triage-bot-svc', s.environment, [...steady, ...burst, ...afterRevoke, ...context]));
  await post(`${base}/v1/traces`, otlpJson('helper-bot-svc', s.environment, delegated));
  await post(`${base}/v1/task-events`, JSON.stringify([{ 'task.event': 'completed', 'task.id': s.task, time: iso(now - 1 * min) }]));
  return { now, start };
}
