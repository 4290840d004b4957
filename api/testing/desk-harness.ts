/**
 * The whole analyst path for tests: a real collector and a real API in front of one embedded
 * store, and the real detectors. Misuse arrives as OTLP/JSON over HTTP, exactly as agents and
 * token brokers send it; the detectors raise alerts from the stored spans; the API serves them.
 */
import { randomBytes } from 'node:crypto';
import type { Collector } from '@intentwatch/collector';
import { collectorSettings } from '@intentwatch/collector/settings';
import { type Store, composeSettings, coreSettings } from '@intentwatch/core';
import { detectorSettings } from '@intentwatch/detectors/settings';
import { responderSettings } from '@intentwatch/responders/settings';
import { openTestStore } from '@intentwatch/testkit';
import { startCollector } from '@intentwatch/testkit/collector';
import { apiSettings } from '../src/settings.js';
import type { Alert, AlertStore } from '@intentwatch/alerts';
import { DETECTORS, DetectorRunner } from '@intentwatch/detectors';
import { OcsfExporter, Responder, SsfTransmitter } from '@intentwatch/responders';
import { ApiKeys } from '../src/api-keys.js';
import { Desk } from '../src/desk.js';
import { respondersRouter } from '../src/routes/responders.js';
import { ssfPublicRouter, ssfRouter } from '../src/routes/ssf.js';
import { Api } from '../src/server.js';

/** The settings these tests read: the core settings and those of the workspaces they start. */
const configuration = composeSettings(coreSettings, collectorSettings, detectorSettings, apiSettings, responderSettings);
type Config = ReturnType<typeof configuration.load>;
const openDeskStore = (env: NodeJS.ProcessEnv) => openTestStore(env, { settings: configuration });
type TestStore = Awaited<ReturnType<typeof openDeskStore>>;

export const KEYS = {
  viewer: 'viewer-key-7c1d2e3f4a5b6c7d',
  analyst: 'analyst-key-1a2b3c4d5e6f7a8b',
  analyst2: 'analyst-key-9f8e7d6c5b4a3f2e',
  admin: 'admin-key-0f1e2d3c4b5a6f7e8d',
} as const;

type Attr = string | number | string[];

/** One span: attributes per docs/conventions.md §1, `at` seconds after the scenario's start. */
export interface SpanSpec {
  at: number;
  name: string;
  attrs: Record<string, Attr>;
  resource: Record<string, string>;
}

const BROKER = { 'service.name': 'token-broker' };
const ORCHESTRATOR = { 'service.name': 'orchestrator' };

const iso = (baseMs: number, s: number) => new Date(baseMs + s * 1000).toISOString();

/** Builders for the spans of a scenario whose start is `baseMs`. */
export function spansAt(baseMs: number) {
  return {
    started: (task: string, at: number, o: { agent: string; intent: string; tools: string[]; deadlineIn: number }): SpanSpec => ({
      at,
      name: 'task started',
      resource: ORCHESTRATOR,
      attrs: {
        'task.event': 'started',
        'task.id': task,
        'gen_ai.agent.id': o.agent,
        'task.intent': o.intent,
        'task.tools': o.tools,
        'task.deadline': iso(baseMs, at + o.deadlineIn),
      },
    }),
    grant: (
      event: 'issued' | 'refreshed' | 'exchanged',
      token: string,
      at: number,
      o: {
        parent?: string;
        task: string;
        agent: string;
        audience: string[];
        scopes: string[];
        resources?: string[];
        expiresIn: number;
        maxSession?: number;
        env: string;
      },
    ): SpanSpec => {
      const attrs: Record<string, Attr> = {
        'token.event': event,
        'token.id': token,
        'task.id': o.task,
        'gen_ai.agent.id': o.agent,
        'token.audience': o.audience,
        'token.scopes': o.scopes,
        'token.expires_at': iso(baseMs, at + o.expiresIn),
        'deployment.environment.name': o.env,
      };
      if (o.parent) attrs['token.parent_id'] = o.parent;
      if (o.resources) attrs['token.resources'] = o.resources;
      if (o.maxSession) attrs['token.max_session_s'] = o.maxSession;
      return { at, name: `token ${event}`, resource: BROKER, attrs };
    },
    renewed: (token: string, at: number, expiresIn: number): SpanSpec => ({
      at,
      name: 'token renewed',
      resource: BROKER,
      attrs: { 'token.event': 'renewed', 'token.id': token, 'token.expires_at': iso(baseMs, at + expiresIn) },
    }),
    revoked: (token: string, at: number, reason: string): SpanSpec => ({
      at,
      name: 'token revoked',
      resource: BROKER,
      attrs: { 'token.event': 'revoked', 'token.id': token, 'token.revoked_reason': reason },
    }),
    use: (
      token: string,
      at: number,
      o: { agent: string; target: string; env: string; task?: string; scope?: string; resource?: string; tool?: string },
    ): SpanSpec => {
      const attrs: Record<string, Attr> = { 'token.id': token, 'gen_ai.agent.id': o.agent, 'service.peer.name': o.target };
      if (o.task) attrs['task.id'] = o.task;
      if (o.scope) attrs['token.scope'] = [o.scope];
      if (o.resource) attrs['token.resource'] = o.resource;
      if (o.tool) attrs['gen_ai.tool.name'] = o.tool;
      return {
        at,
        name: o.tool ? `execute_tool ${o.tool}` : `call ${o.target}`,
        resource: { 'service.name': `${o.agent}-svc`, 'deployment.environment.name': o.env },
        attrs,
      };
    },
  };
}

/**
 * A morning at a SOC: a triage agent whose token is used outside its task three ways (a scope,
 * resource and tool it was not granted; a service outside its audience; a delegated token
 * presented by another agent), a deploy token used after its revocation, and a token no broker
 * ever described. Normal work around it stays silent.
 */
export function misuseScenario(baseMs: number): SpanSpec[] {
  const s = spansAt(baseMs);
  const prod = 'prod';
  return [
    s.started('T-1042', 0, {
      agent: 'triage-bot',
      intent: 'Triage new issues in acme/api and post a summary to #triage',
      tools: ['list_issues', 'get_issue', 'post_message'],
      deadlineIn: 3 * 3600,
    }),
    s.grant('issued', 'tok-7f3a', 5, {
      task: 'T-1042',
      agent: 'triage-bot',
      audience: ['github', 'slack'],
      scopes: ['issues:read', 'chat:write'],
      resources: ['repos/acme/api/**', 'channels/triage'],
      expiresIn: 3 * 3600,
      maxSession: 4 * 3600,
      env: prod,
    }),
    s.use('tok-7f3a', 30, {
      agent: 'triage-bot',
      target: 'github',
      env: prod,
      task: 'T-1042',
      scope: 'issues:read',
      resource: 'repos/acme/api/issues',
      tool: 'list_issues',
    }),
    s.use('tok-7f3a', 60, {
      agent: 'triage-bot',
      target: 'github',
      env: prod,
      task: 'T-1042',
      scope: 'issues:read',
      resource: 'repos/acme/api/issues/412',
      tool: 'get_issue',
    }),
    s.use('tok-7f3a', 90, {
      agent: 'triage-bot',
      target: 'slack',
      env: prod,
      task: 'T-1042',
      scope: 'chat:write',
      resource: 'channels/triage',
      tool: 'post_message',
    }),
    // Out of the task: a write scope, another repository, a tool the plan does not have.
    s.use('tok-7f3a', 300, {
      agent: 'triage-bot',
      target: 'github',
      env: prod,
      task: 'T-1042',
      scope: 'contents:write',
      resource: 'repos/acme/billing/contents/config.yml',
      tool: 'push_commit',
    }),
    // Out of the audience: the finance bucket.
    s.use('tok-7f3a', 320, { agent: 'triage-bot', target: 'aws-s3', env: prod, task: 'T-1042', resource: 'repos/acme/api/export' }),
    s.grant('refreshed', 'tok-7f3b', 900, {
      parent: 'tok-7f3a',
      task: 'T-1042',
      agent: 'triage-bot',
      audience: ['github', 'slack'],
      scopes: ['issues:read', 'chat:write'],
      resources: ['repos/acme/api/**', 'channels/triage'],
      expiresIn: 3 * 3600,
      env: prod,
    }),
    s.use('tok-7f3b', 950, {
      agent: 'triage-bot',
      target: 'github',
      env: prod,
      task: 'T-1042',
      scope: 'issues:read',
      resource: 'repos/acme/api/issues',
      tool: 'list_issues',
    }),
    s.grant('exchanged', 'tok-9c21', 1000, {
      parent: 'tok-7f3b',
      task: 'T-1042',
      agent: 'summarizer-bot',
      audience: ['slack'],
      scopes: ['chat:write'],
      resources: ['channels/triage'],
      expiresIn: 3600,
      env: prod,
    }),
    s.use('tok-9c21', 1020, {
      agent: 'summarizer-bot',
      target: 'slack',
      env: prod,
      task: 'T-1042',
      scope: 'chat:write',
      resource: 'channels/triage',
      tool: 'post_message',
    }),
    // The delegated token presented by an agent it was never given to.
    s.use('tok-9c21', 1100, { agent: 'exfil-bot', target: 'slack', env: prod, scope: 'chat:write', resource: 'channels/triage' }),

    s.started('T-2077', 100, { agent: 'deploy-bot', intent: 'Roll out api v2.3 to staging', tools: ['kubectl_apply'], deadlineIn: 3600 }),
    s.grant('issued', 'tok-51de', 110, {
      task: 'T-2077',
      agent: 'deploy-bot',
      audience: ['k8s'],
      scopes: ['deploy'],
      expiresIn: 3600,
      env: 'staging',
    }),
    s.use('tok-51de', 200, { agent: 'deploy-bot', target: 'k8s', env: 'staging', task: 'T-2077', scope: 'deploy', tool: 'kubectl_apply' }),
    s.revoked('tok-51de', 700, 'rotated after a leak report'),
    s.use('tok-51de', 760, { agent: 'deploy-bot', target: 'k8s', env: 'staging', task: 'T-2077', scope: 'deploy', tool: 'kubectl_apply' }),

    s.use('tok-ghost', 400, { agent: 'report-bot', target: 'postgres', env: prod, resource: 'db/finance/ledger' }),
  ];
}

/**
 * A revocation that must propagate: a planner's session (issued, then refreshed) delegates by
 * exchange to a coder, whose token is refreshed too; the planner's root is revoked, and the
 * coder's refreshed token is used afterwards. Every token of the lineage is revoked through it.
 * Beside it, a token renewed before it expired and used within its renewal.
 */
export function propagationScenario(baseMs: number): SpanSpec[] {
  const s = spansAt(baseMs);
  const prod = 'prod';
  const grant = { task: 'T-3001', audience: ['github'], scopes: ['repo:read'], expiresIn: 3600, env: prod };
  return [
    s.grant('issued', 'tok-prop-0', 1200, { ...grant, agent: 'planner-bot' }),
    s.grant('refreshed', 'tok-prop-1', 1250, { ...grant, parent: 'tok-prop-0', agent: 'planner-bot' }),
    s.grant('exchanged', 'tok-prop-x', 1260, { ...grant, parent: 'tok-prop-1', agent: 'coder-bot' }),
    s.grant('refreshed', 'tok-prop-x1', 1270, { ...grant, parent: 'tok-prop-x', agent: 'coder-bot' }),
    s.revoked('tok-prop-0', 1300, 'task cancelled'),
    s.use('tok-prop-x1', 1320, { agent: 'coder-bot', target: 'github', env: prod, task: 'T-3001', scope: 'repo:read' }),
    // Renewed (Vault-style) before it expired, and used within the renewal.
    s.grant('issued', 'tok-renew', 1200, { ...grant, agent: 'planner-bot', expiresIn: 120 }),
    s.renewed('tok-renew', 1300, 3600),
    s.use('tok-renew', 1340, { agent: 'planner-bot', target: 'github', env: prod, task: 'T-3001', scope: 'repo:read' }),
  ];
}

/** The detectors the misuse scenario must set off. */
export const MISUSE_DETECTORS = ['scope_creep', 'cross_service_reuse', 'stale_token_use', 'ungoverned_token'] as const;

const anyValue = (v: Attr) =>
  Array.isArray(v)
    ? { arrayValue: { values: v.map((x) => ({ stringValue: x })) } }
    : typeof v === 'number'
      ? { intValue: String(v) }
      : { stringValue: v };

/** OTLP/JSON of `spans`, one resource per distinct resource, fresh trace and span ids. */
export function otlpJson(spans: readonly SpanSpec[], baseMs: number): string {
  const byResource = new Map<string, SpanSpec[]>();
  for (const s of spans) {
    const key = JSON.stringify(Object.entries(s.resource).sort());
    byResource.set(key, [...(byResource.get(key) ?? []), s]);
  }
  return JSON.stringify({
    resourceSpans: [...byResource.values()].map((group) => ({
      resource: { attributes: Object.entries(group[0]?.resource ?? {}).map(([key, value]) => ({ key, value: anyValue(value) })) },
      scopeSpans: [
        {
          scope: { name: 'desk-scenario' },
          spans: group.map((s) => {
            const start = BigInt(Math.round(baseMs + s.at * 1000)) * 1_000_000n;
            return {
              traceId: randomBytes(16).toString('hex'),
              spanId: randomBytes(8).toString('hex'),
              name: s.name,
              kind: 3,
              startTimeUnixNano: start.toString(),
              endTimeUnixNano: (start + 40_000_000n).toString(),
              attributes: Object.entries(s.attrs).map(([key, value]) => ({ key, value: anyValue(value) })),
            };
          }),
        },
      ],
    })),
  });
}

export class DeskHarness {
  readonly store: Store;
  readonly config: Readonly<Config>;
  readonly desk: Desk;
  readonly alerts: AlertStore;
  readonly collectorUrl: string;
  readonly apiUrl: string;
  readonly #collector: Collector;
  readonly #api: Api;
  readonly #runner: DetectorRunner;
  readonly #testStore: TestStore;
  /** The responders, when the harness was started with them (as `intentwatch api` runs them). */
  readonly responder: Responder | undefined;
  /** The Shared Signals transmitter, with the responders when a secrets key is configured. */
  readonly ssf: SsfTransmitter | undefined;

  private constructor(o: {
    store: Store;
    config: Readonly<Config>;
    desk: Desk;
    collector: Collector;
    api: Api;
    collectorUrl: string;
    apiUrl: string;
    testStore: TestStore;
    responder: Responder | undefined;
    ssf: SsfTransmitter | undefined;
  }) {
    this.store = o.store;
    this.config = o.config;
    this.desk = o.desk;
    this.alerts = o.desk.alerts;
    this.#collector = o.collector;
    this.#api = o.api;
    this.collectorUrl = o.collectorUrl;
    this.apiUrl = o.apiUrl;
    this.#testStore = o.testStore;
    this.responder = o.responder;
    this.ssf = o.ssf;
    this.#runner = new DetectorRunner(o.store, o.config, o.desk.alerts);
  }

  /**
   * A fresh data dir, store, collector and API (ports chosen by the system). `env` adds
   * configuration; `responders` mounts the responders' routes before the desk's, as
   * `intentwatch api` does, over a started Responder.
   */
  static async start(env: NodeJS.ProcessEnv = {}, options: { responders?: boolean; longPollMs?: number } = {}): Promise<DeskHarness> {
    const testStore = await openDeskStore({
      INTENTWATCH_API_KEYS: Object.entries(KEYS)
        .map(([role, key]) => `${role.replace(/\d$/, '')}:${key}`)
        .join(','),
      INTENTWATCH_GRACE_MS: '1000',
      INTENTWATCH_DETECT_LAG_MS: '500',
      INTENTWATCH_BATCH_MS: '10',
      ...env,
    });
    const { store, config, dataDir } = testStore;
    const { collector, url: collectorUrl } = await startCollector(store, config);
    const desk = new Desk(store, { defaultMaxSessionS: config.defaultMaxSessionS });
    const ssf = options.responders
      ? await SsfTransmitter.open({ store, config, ...(options.longPollMs ? { longPollMs: options.longPollMs } : {}) })
      : undefined;
    const responder = options.responders ? await Responder.open({ store, config, ...(ssf ? { channels: [ssf] } : {}) }) : undefined;
    await responder?.start();
    const api = new Api({
      store,
      keys: ApiKeys.load(config.apiKeys, dataDir).keys,
      routers: [...(responder ? [respondersRouter(responder, new OcsfExporter(store))] : []), ssfRouter(ssf), ...desk.routers()],
      publicRouters: [ssfPublicRouter(ssf)],
      onScrape: () => desk.refreshMetrics(),
      rateLimit: config.apiRateLimit,
      ...(responder ? { features: ['responders'] } : {}),
    });
    const apiUrl = `http://127.0.0.1:${await api.listen(0, '127.0.0.1')}`;
    return new DeskHarness({ store, config, desk, collector, api, collectorUrl, apiUrl, testStore, responder, ssf });
  }

  async close(): Promise<void> {
    await this.#api.close();
    await this.responder?.close();
    await this.#collector.close();
    await this.#testStore.dispose();
  }

  /** Sends spans to the collector as OTLP/JSON; resolves when they are stored. */
  async send(spans: readonly SpanSpec[], baseMs: number): Promise<void> {
    const res = await fetch(`${this.collectorUrl}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: otlpJson(spans, baseMs),
    });
    const text = await res.text();
    if (!res.ok || /"rejectedSpans":\s*"?[1-9]/.test(text)) throw new Error(`collector answered ${res.status}: ${text}`);
  }

  /** Runs every detector once. */
  async detect(): Promise<void> {
    for (const d of DETECTORS) await this.#runner.runOnce(d);
  }

  /**
   * Plays the misuse scenario (25 minutes ago) and runs the detectors until each of
   * MISUSE_DETECTORS has raised an alert (the ungoverned-token grace window must pass first).
   * Returns every alert.
   */
  async playMisuse(baseMs = Date.now() - 25 * 60_000): Promise<Alert[]> {
    await this.send(misuseScenario(baseMs), baseMs);
    const deadline = Date.now() + 30_000;
    for (;;) {
      await this.detect();
      const { alerts } = await this.alerts.list({ limit: 500, suppressed: 'include' });
      const seen = new Set(alerts.map((a) => a.detector));
      if (MISUSE_DETECTORS.every((d) => seen.has(d))) return alerts;
      if (Date.now() > deadline) {
        throw new Error(`detectors raised only ${[...seen].join(', ') || 'nothing'} from the misuse scenario`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** `fetch` against the API with a key (or none). */
  call(path: string, init: RequestInit & { key?: string | null } = {}): Promise<Response> {
    const { key, headers, ...rest } = init;
    const h = new Headers(headers);
    if (key !== null) h.set('authorization', `Bearer ${key ?? KEYS.viewer}`);
    if (rest.body && !h.has('content-type')) h.set('content-type', 'application/json');
    return fetch(`${this.apiUrl}${path}`, { ...rest, headers: h });
  }
}
