import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate, Store } from '@intentwatch/core';
import { loadConfig } from '@intentwatch/cli';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clickhouseProfile } from '../deploy/deploy-files.js';
import { allPanels, loadDashboards } from './dashboards.js';
import { expandPanelSql, type TimeRange, type VariableValues } from './grafana-sql.js';

/**
 * The dashboards at a size where the Grafana user's row limit matters: more alert versions and
 * more revocation versions than the profile's `max_result_rows`, spread over three weeks. Every
 * panel runs with that profile's settings (as ClickHouse applies them to Grafana's queries) and
 * must answer in full — the profile throws rather than truncates — and the alert and revocation
 * panels must count what the tables hold at their latest version, in the dashboard's range.
 * The expected numbers come from ReplacingMergeTree's own deduplication (`FINAL`), not from the
 * panels' SQL.
 */

const profile = clickhouseProfile('grafana_readonly');
const LIMIT = Number(profile.max_result_rows);
/** Each alert and each revoke request has this many versions; together more rows than LIMIT. */
const VERSIONS = 3;
const ENTITIES = Math.ceil((LIMIT * 1.2) / VERSIONS);
const DAY = 86_400_000;

/** The profile as query settings (readonly is a permission, not a result shape: this connection also seeds). */
const PROFILE_SETTINGS = Object.fromEntries(Object.entries(profile).filter(([name]) => name !== 'readonly'));
/** Reference queries: no row limit (settings persist on the embedded connection, so always set them). */
const UNLIMITED = { max_result_rows: '0', result_overflow_mode: 'throw' } as const;
/**
 * Versions are written one insert each, as detectors and responders write them, and stay
 * unmerged: merges would fold them away in the background, in production only eventually.
 */
const AS_WRITTEN = { ...UNLIMITED, optimize_on_insert: 0 } as const;

let store: Store;
let dataDir: string;
const now = Date.now();
const week: TimeRange = { fromMs: now - 7 * DAY, toMs: now + 60_000, intervalMs: 3_600_000 };
const month: TimeRange = { fromMs: now - 30 * DAY, toMs: now + 60_000, intervalMs: 6 * 3_600_000 };
const VARIABLES: VariableValues = { token: 'tok-1', agent: 'agent-1', baseline: '60', threshold: '3.5', policy: '$__all' };

const targets = loadDashboards().flatMap(({ dashboard }) =>
  allPanels(dashboard).flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({ key: `${dashboard.uid}/${panel.title}/${target.refId}`, rawSql: target.rawSql })),
  ),
);

async function panel(key: string, range: TimeRange, variables = VARIABLES): Promise<Record<string, string>[]> {
  const t = targets.find((x) => x.key === key);
  if (!t) throw new Error(`no panel ${key}`);
  return store.query<Record<string, string>>(expandPanelSql(t.rawSql, variables, range), undefined, PROFILE_SETTINGS);
}

async function count(sql: string, range: TimeRange): Promise<number> {
  const [row] = await store.query<{ n: string }>(
    sql,
    { from: Math.floor(range.fromMs / 1000), to: Math.floor(range.toMs / 1000) },
    UNLIMITED,
  );
  return Number(row?.n);
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'iw-dash-scale-'));
  const config = loadConfig({ INTENTWATCH_DATA_DIR: dataDir }, { dotenv: false });
  store = await Store.open(config);
  await migrate(store, { retentionDays: config.retentionDays });
  for (const table of ['alerts', 'alert_triage', 'revocations']) await store.command(`SYSTEM STOP MERGES ${table}`);
  // Alert n is first seen n × 45 s ago (three weeks for 40 000 alerts) and re-detected an hour
  // later at each version; its last version escalates every fifth alert to critical.
  const base = `toDateTime64(${now / 1000}, 3, 'UTC')`;
  for (let version = 1; version <= VERSIONS; version++) {
    await store.command(
      `INSERT INTO alerts (id, detector, severity, title, reason, dedup_key, token_id, root_token_id, agent_id, first_seen, last_seen, hit_count, created_at, updated_at, version)
     SELECT concat('alert-', toString(n)), ['scope_creep', 'cross_service_reuse', 'stale_token_use'][n % 3 + 1],
            if(v = ${VERSIONS} AND n % 5 = 0, 'critical', 'high'), 'title', 'reason', concat('key-', toString(n)),
            concat('tok-', toString(n % 1000)), concat('tok-', toString(n % 1000)), concat('agent-', toString(n % 50)),
            ${base} - toIntervalSecond(n * 45), ${base} - toIntervalSecond(n * 45) + toIntervalHour(v - 1), v,
            ${base}, ${base}, v
     FROM (SELECT number AS n, ${version} AS v FROM numbers(${ENTITIES}))`,
      undefined,
      AS_WRITTEN,
    );
  }
  // Analysts acknowledged every seventh alert, then resolved every fourteenth.
  await store.command(
    `INSERT INTO alert_triage (alert_id, status, updated_by, updated_at, version)
     SELECT concat('alert-', toString(number)), 'acknowledged', 'key:analyst', ${base}, 1 FROM numbers(${ENTITIES}) WHERE number % 7 = 0
     UNION ALL
     SELECT concat('alert-', toString(number)), 'resolved', 'key:analyst', ${base}, 2 FROM numbers(${ENTITIES}) WHERE number % 14 = 0`,
    undefined,
    AS_WRITTEN,
  );
  // Revoke request n: queued, retrying, then delivered / dead / held / dry run.
  for (let version = 1; version <= VERSIONS; version++) {
    await store.command(
      `INSERT INTO revocations (webhook_id, policy_id, dedup_key, alert_id, mode, token_id, session_root, dry_run, requested_by, payload, status, attempts, created_at, updated_at, version)
     SELECT concat('wh-', toString(n)), ['revoke-critical', 'revoke-high'][n % 2 + 1], concat('d-', toString(n)), concat('alert-', toString(n)),
            'session', 'tok', 'tok', toUInt8(n % 4 = 3), 'responder', '{}',
            if(v < ${VERSIONS}, ['queued', 'retrying'][v], ['delivered', 'dead', 'held', 'dry_run'][n % 4 + 1]), v,
            ${base} - toIntervalSecond(n * 45), ${base} - toIntervalSecond(n * 45) + toIntervalSecond(v), v
     FROM (SELECT number AS n, ${version} AS v FROM numbers(${ENTITIES}))`,
      undefined,
      AS_WRITTEN,
    );
  }
}, 120_000);

afterAll(async () => {
  await store?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('dashboards over more alert and revocation versions than Grafana’s row limit', () => {
  it('hold more versions than the Grafana profile’s max_result_rows, which throws instead of truncating', async () => {
    expect(profile.result_overflow_mode).toBe('throw');
    expect(LIMIT).toBeGreaterThan(0);
    expect(await count('SELECT count() AS n FROM alerts', month)).toBeGreaterThan(LIMIT);
    expect(await count('SELECT count() AS n FROM revocations', month)).toBeGreaterThan(LIMIT);
  });

  it.each(targets.map((t) => [t.key] as const))('%s answers in full under the Grafana profile, over a month', async (key) => {
    await expect(panel(key, month)).resolves.toBeInstanceOf(Array);
  });

  it.each([
    ['a week', week],
    ['a month', month],
  ] as const)('counts open, critical and triaged alerts at their latest version, in %s', async (_name, range) => {
    const latest = `FROM alerts AS a FINAL
      LEFT JOIN (SELECT alert_id, argMax(status, version) AS s FROM alert_triage GROUP BY alert_id) AS t ON t.alert_id = a.id
      WHERE a.last_seen >= toDateTime({from:UInt32}) AND a.last_seen <= toDateTime({to:UInt32})`;
    const open = await count(`SELECT countIf(coalesce(nullIf(t.s, ''), 'open') = 'open') AS n ${latest}`, range);
    const critical = await count(
      `SELECT countIf(coalesce(nullIf(t.s, ''), 'open') = 'open' AND a.severity = 'critical') AS n ${latest}`,
      range,
    );
    const all = await count(`SELECT count() AS n ${latest}`, range);
    expect(open).toBeGreaterThan(0);
    expect(critical).toBeGreaterThan(0);

    expect((await panel('intentwatch-overview/Open alerts/A', range)).map((r) => Number(r.open_alerts))).toEqual([open]);
    expect((await panel('intentwatch-overview/Critical open alerts/A', range)).map((r) => Number(r.critical_open))).toEqual([critical]);
    const byStatus = await panel('intentwatch-overview/Alerts by status/A', range);
    expect(byStatus.reduce((n, r) => n + Number(r.alerts), 0)).toBe(all);
    expect(byStatus.find((r) => r.status === 'open')?.alerts).toBe(String(open));
    const bySeverity = await panel('intentwatch-overview/Alerts raised by severity/A', range);
    const firstSeenInRange = await count(
      'SELECT count() AS n FROM alerts FINAL WHERE first_seen >= toDateTime({from:UInt32}) AND first_seen <= toDateTime({to:UInt32})',
      range,
    );
    expect(bySeverity.reduce((n, r) => n + Number(r.alerts), 0)).toBe(firstSeenInRange);
  });

  it('narrows the alert panels to the dashboard’s range', async () => {
    const [inWeek] = await panel('intentwatch-overview/Open alerts/A', week);
    const [inMonth] = await panel('intentwatch-overview/Open alerts/A', month);
    expect(Number(inWeek?.open_alerts)).toBeLessThan(Number(inMonth?.open_alerts));
  });

  it('counts revocations by their latest state, in the range', async () => {
    const latest = `FROM revocations FINAL WHERE created_at >= toDateTime({from:UInt32}) AND created_at <= toDateTime({to:UInt32})`;
    for (const range of [week, month]) {
      const requested = await count(`SELECT count() AS n ${latest}`, range);
      const delivered = await count(`SELECT countIf(status = 'delivered') AS n ${latest}`, range);
      expect(delivered).toBeGreaterThan(0);
      expect((await panel('intentwatch-responders/Revocations requested/A', range)).map((r) => Number(r.requested))).toEqual([requested]);
      expect((await panel('intentwatch-responders/Delivered/A', range)).map((r) => Number(r.delivered))).toEqual([delivered]);
      const perPolicy = await panel('intentwatch-responders/Revocations per policy/A', range);
      expect(perPolicy.reduce((n, r) => n + Number(r.requested), 0)).toBe(requested);
      expect(perPolicy.reduce((n, r) => n + Number(r.in_flight), 0)).toBe(0);
    }
  });
});
