import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Collector } from '@intentwatch/collector';
import { Store, migrate } from '@intentwatch/core';
import { loadConfig } from '@intentwatch/cli';
import { AlertStore, type Finding } from '@intentwatch/alerts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allPanels, type Dashboard, loadDashboards, type Target } from './dashboards.js';
import { expandPanelSql, type TimeRange, type VariableValues } from './grafana-sql.js';
import { SCENARIO, sendScenario } from './scenario.js';

/**
 * Every panel query of every dashboard, expanded as the ClickHouse plugin expands it, runs on
 * the real schema over the scenario sent through a real collector, and returns the columns its
 * panel needs — rows too, where the scenario has something to show.
 */

interface Expectation {
  columns: string[];
  /** Whether the scenario must produce rows for this query. */
  rows: boolean;
}

const EXPECTED: Record<string, Expectation> = {
  'intentwatch-overview/Open alerts/A': { columns: ['open_alerts'], rows: true },
  'intentwatch-overview/Critical open alerts/A': { columns: ['critical_open'], rows: true },
  'intentwatch-overview/Token uses/A': { columns: ['token_uses', 'tokens', 'agents'], rows: true },
  'intentwatch-overview/Grants/A': { columns: ['issued', 'refreshed', 'exchanged', 'revoked'], rows: true },
  'intentwatch-overview/Alerts raised by detector/A': { columns: ['time', 'detector', 'alerts'], rows: true },
  'intentwatch-overview/Alerts raised by severity/A': { columns: ['time', 'severity', 'alerts'], rows: true },
  'intentwatch-overview/Alerts by status/A': { columns: ['status', 'alerts'], rows: true },
  'intentwatch-overview/Top agents by alerts/A': {
    columns: ['agent', 'alerts', 'open', 'critical', 'high', 'detectors', 'last_seen'],
    rows: true,
  },
  'intentwatch-overview/Top tokens by alerts/A': { columns: ['token', 'agent', 'alerts', 'open', 'detectors', 'last_seen'], rows: true },
  'intentwatch-overview/Spans ingested per second/A': { columns: ['time', 'token_uses', 'context_spans'], rows: true },
  'intentwatch-overview/Spans ingested per second/B': { columns: ['time', 'token_events'], rows: true },
  'intentwatch-overview/Spans ingested per second/C': { columns: ['time', 'task_events'], rows: true },
  'intentwatch-overview/Ingest delay (span start → stored)/A': { columns: ['time', 'p50', 'p99'], rows: true },
  'intentwatch-overview/Detector lag/A': { columns: ['detector', 'read_up_to', 'behind_newest_s', 'since_last_run_s'], rows: true },
  'intentwatch-token/Grants and session chain/A': {
    columns: [
      'time',
      'hop',
      'event',
      'token',
      'parent',
      'agent',
      'workload',
      'task',
      'audience',
      'scopes',
      'resources',
      'environment',
      'expires_at',
      'max_session_s',
      'revoked_reason',
      'source',
    ],
    rows: true,
  },
  'intentwatch-token/Services: used vs granted/A': { columns: ['service', 'uses', 'grant', 'first_use', 'last_use'], rows: true },
  'intentwatch-token/Scopes: used vs granted/A': { columns: ['scope', 'uses', 'grant'], rows: true },
  'intentwatch-token/Uses over time by service/A': { columns: ['time', 'target', 'uses'], rows: true },
  'intentwatch-token/Timeline of uses/A': {
    columns: ['time', 'agent', 'caller', 'target', 'action', 'scopes', 'resource', 'tool', 'environment', 'task', 'trace_id', 'span_id'],
    rows: true,
  },
  'intentwatch-token/Alerts on this token/A': {
    columns: ['last_seen', 'detector', 'severity', 'status', 'title', 'reason', 'count', 'first_seen', 'token', 'session_root', 'id'],
    rows: true,
  },
  'intentwatch-agent/Request rate vs baseline band/A': {
    columns: ['time', 'requests_per_s', 'baseline_low', 'baseline_high', 'baseline_median'],
    rows: true,
  },
  'intentwatch-agent/Fan-out (distinct targets) vs baseline band/A': {
    columns: ['time', 'targets_per_s', 'baseline_low', 'baseline_high', 'baseline_median'],
    rows: true,
  },
  'intentwatch-agent/Targets/A': { columns: ['target', 'uses', 'tokens', 'scopes', 'first_use', 'last_use'], rows: true },
  'intentwatch-agent/Tools/A': { columns: ['tool', 'uses', 'tasks', 'plan', 'last_use'], rows: true },
  'intentwatch-agent/Tokens used/A': { columns: ['token', 'uses', 'targets', 'first_use', 'last_use'], rows: true },
  'intentwatch-responders/Revocations requested/A': { columns: ['requested'], rows: true },
  'intentwatch-responders/Delivered/A': { columns: ['delivered'], rows: true },
  'intentwatch-responders/Dead/A': { columns: ['dead'], rows: true },
  'intentwatch-responders/Held or refused/A': { columns: ['held_or_refused'], rows: true },
  'intentwatch-responders/Webhook deliveries by outcome/A': { columns: ['time', 'outcome', 'attempts'], rows: true },
  'intentwatch-responders/Delivery latency/A': { columns: ['time', 'p50', 'p95', 'p99'], rows: true },
  'intentwatch-responders/Failures by reason/A': {
    columns: ['policy', 'http_status', 'status', 'error', 'attempts', 'requests', 'last_failure'],
    rows: true,
  },
  'intentwatch-responders/Revocations per policy/A': {
    columns: ['policy', 'policy_state', 'requested', 'delivered', 'dead', 'in_flight', 'held_or_refused', 'dry_runs', 'last_requested'],
    rows: true,
  },
  'intentwatch-responders/Revocations requested per policy/A': { columns: ['time', 'policy', 'revocations'], rows: true },
  'intentwatch-responders/Dead letters/A': {
    columns: ['time', 'policy', 'alert', 'webhook_id', 'attempts', 'last_http_status', 'last_error'],
    rows: true,
  },
  'intentwatch-agent/Alerts on this agent/A': {
    columns: ['last_seen', 'detector', 'severity', 'status', 'title', 'reason', 'count', 'token', 'id'],
    rows: true,
  },
};

const VARIABLES: VariableValues = {
  token: SCENARIO.refreshed,
  agent: SCENARIO.agent,
  baseline: '60',
  threshold: '3.5',
  policy: '$__all',
};

const dashboards = loadDashboards();
const targets = dashboards.flatMap(({ dashboard }) =>
  allPanels(dashboard).flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({ dashboard, panel, target, key: `${dashboard.uid}/${panel.title}/${target.refId}` })),
  ),
);

let store: Store;
let dataDir: string;
let range: TimeRange;

/** Column names and types of a query, without running it for rows. */
async function describeQuery(sql: string): Promise<{ name: string; type: string }[]> {
  return store.query<{ name: string; type: string }>(`DESCRIBE TABLE (${sql})`);
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Alerts as detectors record them, on the scenario's stray uses, and one acknowledged by an analyst. */
async function seedAlerts(): Promise<void> {
  const alerts = new AlertStore(store);
  type Use = { trace_id: string; span_id: string; time: string; token_id: string; target: string; caller: string };
  const stray = await store.query<Use>(
    `SELECT trace_id, span_id, time, token_id, target, caller FROM spans WHERE target = {target:String} ORDER BY time`,
    { target: SCENARIO.strayTarget },
  );
  const afterRevoke = await store.query<Use>(
    `SELECT trace_id, span_id, time, token_id, target, caller FROM spans WHERE token_id = {root:String} ORDER BY time DESC LIMIT 1`,
    { root: SCENARIO.root },
  );
  const finding = (u: Use, key: string, severity: Finding['severity'], reason: string): Finding => ({
    key,
    severity,
    reason,
    tokenId: u.token_id,
    rootTokenId: SCENARIO.root,
    agentId: SCENARIO.agent,
    taskId: SCENARIO.task,
    caller: u.caller,
    target: u.target,
    environment: SCENARIO.environment,
    evidence: { traceId: u.trace_id, spanId: u.span_id, time: u.time },
  });
  await alerts.record(
    { id: 'cross_service_reuse', title: 'Token used outside its audience', frameworks: ['OWASP-ASI03'] },
    stray.map((u) => finding(u, u.target, 'high', `token ${u.token_id} for github was presented to ${u.target}`)),
  );
  await alerts.record(
    { id: 'scope_creep', title: 'Scope outside the grant', frameworks: ['OWASP-ASI03', 'OWASP-ASI02'] },
    stray.map((u) => finding(u, SCENARIO.strayScope, 'high', `token ${u.token_id} exercised ${SCENARIO.strayScope}, not granted`)),
  );
  await alerts.record(
    { id: 'stale_token_use', title: 'Token used after revocation', frameworks: ['OWASP-ASI03'] },
    afterRevoke.map((u) => finding(u, 'revoked', 'critical', `token ${u.token_id} was used after its revocation`)),
  );
  const page = await alerts.list({ detector: 'scope_creep' });
  const first = page.alerts[0];
  if (!first) throw new Error('the scope_creep alert was not recorded');
  await alerts.updateTriage(first.id, { status: 'acknowledged' }, 'key:test');
  const now = new Date(range.toMs).toISOString();
  await store.insert('detector_state', [
    { detector: 'scope_creep', watermark: new Date(range.toMs - 90_000).toISOString(), updated_at: now, version: 1 },
    { detector: 'cross_service_reuse', watermark: now, updated_at: now, version: 1 },
  ]);
}

/**
 * Revoke requests and webhook attempts as the responder records them (the table layout of the
 * responders migration): one delivered after a retry, one dead after three failures, one dry
 * run, one held by a paused policy.
 */
async function seedResponders(): Promise<void> {
  const t = (msAgo: number) => new Date(range.toMs - 60_000 - msAgo).toISOString();
  const alertId = (await store.query<{ id: string }>('SELECT id FROM alerts LIMIT 1'))[0]?.id ?? '';
  const revocation = (webhook: string, policy: string, status: string, version: number, extra: object = {}) => ({
    webhook_id: webhook,
    policy_id: policy,
    dedup_key: `${policy}|${SCENARIO.root}`,
    alert_id: alertId,
    mode: 'session',
    token_id: SCENARIO.refreshed,
    session_root: SCENARIO.root,
    tokens: [SCENARIO.root, SCENARIO.refreshed],
    chain: [SCENARIO.root, SCENARIO.refreshed],
    dry_run: 0,
    requested_by: 'responder',
    payload: '{}',
    status,
    attempts: 0,
    last_error: '',
    created_at: t(240_000),
    updated_at: t(240_000 - version * 1000),
    version,
    ...extra,
  });
  await store.insertPartial('revocations', [
    revocation('wh-1', 'revoke-critical', 'queued', 1),
    revocation('wh-1', 'revoke-critical', 'delivered', 2, { attempts: 2 }),
    revocation('wh-2', 'revoke-critical', 'retrying', 1, { attempts: 1 }),
    revocation('wh-2', 'revoke-critical', 'dead', 2, { attempts: 3, last_error: 'HTTP 500' }),
    revocation('wh-3', 'revoke-high-dry', 'dry_run', 1, { dry_run: 1 }),
    revocation('wh-4', 'revoke-critical', 'held', 1),
  ]);
  const delivery = (webhook: string, policy: string, attempt: number, http: number, error: string, latency: number, msAgo: number) => ({
    alert_id: alertId,
    webhook_id: webhook,
    policy_id: policy,
    attempt,
    status: error ? 'failed' : 'delivered',
    http_status: http,
    latency_ms: latency,
    error,
    endpoint: 'https://broker.example/revoke',
    dry_run: 0,
    next_attempt_at: null,
    time: t(msAgo),
  });
  await store.insert('deliveries', [
    delivery('wh-1', 'revoke-critical', 1, 503, 'HTTP 503', 120, 230_000),
    delivery('wh-1', 'revoke-critical', 2, 200, '', 80, 220_000),
    delivery('wh-2', 'revoke-critical', 1, 500, 'HTTP 500', 95, 200_000),
    delivery('wh-2', 'revoke-critical', 2, 500, 'HTTP 500', 90, 190_000),
    delivery('wh-2', 'revoke-critical', 3, 500, 'HTTP 500', 101, 170_000),
    { ...delivery('wh-3', 'revoke-high-dry', 1, 0, '', 0, 160_000), status: 'dry_run', dry_run: 1 },
  ]);
  await store.insert('delivery_dead_letters', [
    {
      webhook_id: 'wh-2',
      policy_id: 'revoke-critical',
      alert_id: alertId,
      attempts: 3,
      last_http_status: 500,
      last_error: 'HTTP 500',
      payload: '{}',
      time: t(170_000),
    },
  ]);
  await store.insert('responder_policy_state', [
    {
      policy_id: 'revoke-critical',
      state: 'paused',
      reason: 'rate limit reached',
      updated_by: 'responder',
      updated_at: t(100_000),
      version: 1,
    },
  ]);
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'iw-dash-'));
  const config = loadConfig({ INTENTWATCH_DATA_DIR: dataDir, INTENTWATCH_BATCH_MS: '20' }, { dotenv: false });
  store = await Store.open(config);
  await migrate(store, { retentionDays: config.retentionDays });
  const collector = new Collector(store, config);
  const port = await collector.listen(0, '127.0.0.1');
  const now = Date.now();
  await sendScenario(`http://127.0.0.1:${port}`, now);
  await collector.close();
  range = { fromMs: now - 60 * 60_000, toMs: now + 60_000, intervalMs: 30_000 };
  await until('the scenario is stored', async () => {
    const [r] = await store.query<{ n: string }>("SELECT count() AS n FROM task_events WHERE event = 'completed'");
    return Number(r?.n) > 0 ? true : undefined;
  });
  await seedAlerts();
  await seedResponders();
});

afterAll(async () => {
  await store?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('dashboard panel queries', () => {
  it('have an expected shape declared for every target of every dashboard, and no stale ones', () => {
    expect(targets.map((t) => t.key).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it.each(targets.map((t) => [t.key, t] as const))('%s runs on the real schema and returns its columns', async (_key, t) => {
    const sql = expandPanelSql(t.target.rawSql, VARIABLES, range);
    const expected = EXPECTED[t.key] as Expectation;
    const columns = await describeQuery(sql);
    expect(columns.map((c) => c.name)).toEqual(expected.columns);
    const rows = await store.query<Record<string, unknown>>(sql);
    if (expected.rows) expect(rows.length, `rows of ${t.key}`).toBeGreaterThan(0);
    if (t.target.format === 0) expectTimeSeriesShape(columns, t.target);
  });
});

/**
 * What the plugin turns into a time series: a DateTime column first (named `time`), then either
 * numbers only, or one string column naming the series and numbers (its multi-line form).
 */
function expectTimeSeriesShape(columns: { name: string; type: string }[], target: Target): void {
  const [first, ...rest] = columns;
  expect(first?.name, target.refId).toBe('time');
  expect(first?.type).toMatch(/^DateTime/);
  const numeric = (type: string) => /^(Nullable\()?(U?Int|Float|Decimal)/.test(type);
  const stringy = (type: string) => /^(LowCardinality\()?String/.test(type);
  const [maybeGroup, ...values] = rest;
  if (maybeGroup && stringy(maybeGroup.type)) {
    expect(values.length).toBeGreaterThan(0);
    for (const v of values) expect(numeric(v.type), `${v.name}: ${v.type}`).toBe(true);
  } else {
    for (const v of rest) expect(numeric(v.type), `${v.name}: ${v.type}`).toBe(true);
  }
}

describe('dashboard variable queries', () => {
  const queryVariables = dashboards.flatMap(({ dashboard }: { dashboard: Dashboard }) =>
    dashboard.templating.list.filter((v) => v.type === 'query').map((v) => [`${dashboard.uid}/$${v.name}`, v.query] as const),
  );

  it.each(queryVariables)('%s lists the values the scenario has', async (_key, query) => {
    const rows = await store.query<Record<string, string>>(expandPanelSql(query, VARIABLES, range));
    expect(rows.length).toBeGreaterThan(0);
    expect(Object.keys(rows[0] as object)).toHaveLength(1);
  });
});

describe('dashboard panel results', () => {
  const run = async (uid: string, title: string) => {
    const t = targets.find((x) => x.dashboard.uid === uid && x.panel.title === title);
    if (!t) throw new Error(`no panel ${uid}/${title}`);
    return store.query<Record<string, string>>(expandPanelSql(t.target.rawSql, VARIABLES, range));
  };

  it('shows the stray service as NOT GRANTED next to the granted one', async () => {
    const rows = await run('intentwatch-token', 'Services: used vs granted');
    expect(rows.find((r) => r.service === SCENARIO.strayTarget)?.grant).toBe('NOT GRANTED');
    expect(rows.find((r) => r.service === 'github')?.grant).toBe('granted');
  });

  it('walks the session chain up to the root grant and down to the delegated token', async () => {
    const rows = await run('intentwatch-token', 'Grants and session chain');
    const hops = new Map(rows.map((r) => [`${r.event}:${r.token}`, Number(r.hop)]));
    expect(hops.get(`issued:${SCENARIO.root}`)).toBe(-1);
    expect(hops.get(`revoked:${SCENARIO.root}`)).toBe(-1);
    expect(hops.get(`refreshed:${SCENARIO.refreshed}`)).toBe(0);
    expect(hops.get(`exchanged:${SCENARIO.delegated}`)).toBe(1);
  });

  it('puts the burst above the agent’s baseline band and the steady uses inside it', async () => {
    const rows = await run('intentwatch-agent', 'Request rate vs baseline band');
    const at = (r: Record<string, string>) => Date.parse(`${r.time}`);
    const outside = (r: Record<string, string>) => Number(r.requests_per_s) > Number(r.baseline_high);
    const now = range.toMs - 60_000;
    const burst = rows.filter((r) => at(r) >= now - 150_000 && at(r) < now - 60_000);
    const steady = rows.filter((r) => at(r) >= now - 30 * 60_000 && at(r) < now - 10 * 60_000);
    expect(burst.length).toBeGreaterThan(0);
    expect(burst.every(outside)).toBe(true);
    expect(steady.length).toBeGreaterThan(0);
    expect(steady.some(outside)).toBe(false);
  });

  it('flags the tool that no plan of the agent allows', async () => {
    const rows = await run('intentwatch-agent', 'Tools');
    expect(rows.find((r) => r.tool === SCENARIO.strayTool)?.plan).toBe('NOT IN ANY PLAN');
    expect(rows.find((r) => r.tool === 'github.search')?.plan).toBe('in plan');
  });

  it('counts alerts by triage status, the acknowledged one apart', async () => {
    const rows = await run('intentwatch-overview', 'Alerts by status');
    const byStatus = Object.fromEntries(rows.map((r) => [r.status, Number(r.alerts)]));
    expect(byStatus).toEqual({ open: 2, acknowledged: 1 });
  });

  it('counts revocations per policy by their latest state, with the policy paused', async () => {
    const rows = await run('intentwatch-responders', 'Revocations per policy');
    const critical = rows.find((r) => r.policy === 'revoke-critical');
    expect(critical).toMatchObject({ policy_state: 'paused', requested: '3', delivered: '1', dead: '1', held_or_refused: '1' });
    expect(rows.find((r) => r.policy === 'revoke-high-dry')).toMatchObject({ policy_state: 'active', dry_runs: '1' });
  });

  it('narrows the responder panels to the chosen policies', async () => {
    const t = targets.find((x) => x.dashboard.uid === 'intentwatch-responders' && x.panel.title === 'Revocations per policy');
    const sql = expandPanelSql(t?.target.rawSql ?? '', { ...VARIABLES, policy: ['revoke-high-dry'] }, range);
    const rows = await store.query<Record<string, string>>(sql);
    expect(rows.map((r) => r.policy)).toEqual(['revoke-high-dry']);
  });

  it('tells failed webhook attempts from successful ones and dry runs', async () => {
    const rows = await run('intentwatch-responders', 'Webhook deliveries by outcome');
    const total = (o: string) => rows.filter((r) => r.outcome === o).reduce((n, r) => n + Number(r.attempts), 0);
    expect([total('succeeded'), total('failed'), total('dry run')]).toEqual([1, 4, 1]);
  });

  it('reports a detector behind the newest data and one caught up', async () => {
    const rows = await run('intentwatch-overview', 'Detector lag');
    const behind = Object.fromEntries(rows.map((r) => [r.detector, Number(r.behind_newest_s)]));
    expect(behind.cross_service_reuse).toBe(0);
    expect(behind.scope_creep).toBeGreaterThan(0);
  });
});
