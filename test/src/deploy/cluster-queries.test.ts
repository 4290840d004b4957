import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrationSql } from '@intentwatch/core';
import { Session } from 'chdb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allPanels, loadDashboards } from '../dashboards/dashboards.js';
import { expandPanelSql, type TimeRange, type VariableValues } from '../dashboards/grafana-sql.js';
import { clickhouseProfile, clusterLayout, compose, k8sObjects, read } from './deploy-files.js';

/**
 * The SQL of the migrations and of every dashboard as the pinned ClickHouse server meets it on
 * the deployed cluster, as far as the embedded engine can show it:
 *
 * - `compatibility` = the pinned server version (the 26.x engine takes that version's setting
 *   defaults) for every statement;
 * - every function the SQL calls existed in that version (`system.functions.introduced_in`);
 * - the clustered DDL runs (not only parses) against a cluster named as the deployment's, with as
 *   many shards, each a local replica (ClickHouse's own `test_cluster_two_shards_localhost`
 *   layout: a Distributed query then runs its shard parts in-process). Replicated engines need
 *   Keeper, so the `_local` tables are their non-replicated engines; the Distributed tables are
 *   the migration's own statements;
 * - every panel and variable query runs over those Distributed tables with the Grafana profile's
 *   settings, so that "Double-distributed IN/JOIN subqueries is denied" and friends show up here.
 *
 * Both shards read the same local tables, so plain counts come out doubled; assertions below are
 * on what must not depend on that (latest state per id, the session chain's hops).
 */

const DATABASE = 'intentwatch';
const CLUSTER = 'intentwatch';

/** The ClickHouse server version compose and Kubernetes run (the tag of clickhouse/clickhouse-server). */
function pinnedServerVersion(): string {
  const tag = Object.values(compose().services)
    .find((s) => s.image?.startsWith('clickhouse/clickhouse-server:'))
    ?.image?.split(':')[1];
  if (!tag) throw new Error('deploy/compose.yaml runs no clickhouse/clickhouse-server');
  return tag;
}

const PINNED = pinnedServerVersion();
const layout = clusterLayout('deploy/clickhouse/kubernetes/cluster.xml');
const profile = clickhouseProfile('grafana_readonly');

let dir: string;
let session: Session;
/** Statements of the clustered migrations that the engine refused, with its message. */
const refused: string[] = [];

function query<T = Record<string, unknown>>(sql: string): T[] {
  const out = session.query(sql, 'JSONEachRow');
  return out
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as T);
}

function run(sql: string): void {
  session.query(sql, 'CSV');
}

/** The clustered migration statement for a cluster without Keeper: no ON CLUSTER, Replicated* engines as their plain form. */
function withoutKeeper(sql: string): string {
  return sql.replace(` ON CLUSTER \`${CLUSTER}\``, '').replace(/Replicated(\w*MergeTree)\('[^']*', '\{replica\}'(?:, )?/, '$1(');
}

/** Major.minor of a version string, comparable as numbers. */
const versionKey = (v: string) => {
  const [major, minor] = v.split('.').map(Number);
  return (major ?? 0) * 1000 + (minor ?? 0);
};

const range: TimeRange = { fromMs: Date.now() - 6 * 3600_000, toMs: Date.now() + 60_000, intervalMs: 60_000 };
const VARIABLES: VariableValues = { token: 'tok-child', agent: 'agent-1', baseline: '60', threshold: '3.5', policy: '$__all' };
const targets = loadDashboards().flatMap(({ dashboard }) =>
  allPanels(dashboard).flatMap((panel) =>
    (panel.targets ?? []).map((t) => ({
      key: `${dashboard.uid}/${panel.title}/${t.refId}`,
      sql: expandPanelSql(t.rawSql, VARIABLES, range),
    })),
  ),
);
const variableQueries = loadDashboards().flatMap(({ dashboard }) =>
  dashboard.templating.list
    .filter((v) => v.type === 'query')
    .map((v) => ({ key: `${dashboard.uid}/$${v.name}`, sql: expandPanelSql(v.query, VARIABLES, range) })),
);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'iw-cluster-queries-'));
  mkdirSync(join(dir, 'data'));
  const shards = layout.shards.map(() => '<shard><replica><host>localhost</host><port>9000</port></replica></shard>').join('');
  writeFileSync(
    join(dir, 'config.xml'),
    `<clickhouse><tcp_port>9000</tcp_port><remote_servers><${CLUSTER}>${shards}</${CLUSTER}></remote_servers>` +
      '<macros><shard>01</shard><replica>r1</replica></macros></clickhouse>',
  );
  session = new Session(join(dir, 'data'), { connectionArgs: [`--config-file=${join(dir, 'config.xml')}`] });
  run(`SET compatibility = '${PINNED}'`);
  run('SET distributed_foreground_insert = 1');
  run(`CREATE DATABASE IF NOT EXISTS ${DATABASE}`);
  for (const sql of migrationSql({ database: DATABASE, cluster: CLUSTER, retentionDays: 30 })) {
    try {
      run(withoutKeeper(sql));
    } catch (e) {
      refused.push(`${sql.slice(0, 100)}: ${(e as Error).message}`);
    }
  }
});

afterAll(() => {
  session?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the ClickHouse version', () => {
  it('is one story: compose and Kubernetes run the same server and Keeper release, and the READMEs claim it as the oldest supported', () => {
    expect(PINNED).toMatch(/^\d+\.\d+$/);
    const images = [
      ...Object.values(compose().services).map((s) => s.image ?? ''),
      ...k8sObjects().flatMap((o) => (o.spec?.template?.spec?.containers ?? []).map((c: { image: string }) => c.image)),
    ].filter((i) => i.startsWith('clickhouse/'));
    expect(images.length).toBeGreaterThanOrEqual(4);
    for (const image of images) expect(image).toMatch(new RegExp(`^clickhouse/clickhouse-(server|keeper):${PINNED.replace('.', '\\.')}$`));
    expect(read('dashboards/README.md')).toContain(`ClickHouse ${PINNED} or later`);
    expect(read('deploy/README.md')).toContain(`ClickHouse ${PINNED} or later`);
  });

  it('is the compatibility level the embedded engine runs this file’s statements at', () => {
    const [row] = query<{ value: string }>("SELECT value FROM system.settings WHERE name = 'compatibility'");
    expect(row?.value).toBe(PINNED);
  });
});

describe(`the migrations on a ${layout.shards.length}-shard cluster at ClickHouse ${PINNED}`, () => {
  it('create the Distributed tables and their local tables, and add their columns, statement by statement', () => {
    expect(refused).toEqual([]);
    const engines = query<{ name: string; engine: string }>(`SELECT name, engine FROM system.tables WHERE database = '${DATABASE}'`);
    const distributed = engines.filter((t) => t.engine === 'Distributed').map((t) => t.name);
    expect(distributed.length).toBeGreaterThan(10);
    for (const name of distributed) expect(engines.map((t) => t.name)).toContain(`${name}_local`);
  });

  it('run in their single-node form too', () => {
    run('CREATE DATABASE IF NOT EXISTS intentwatch_single');
    for (const sql of migrationSql({ database: 'intentwatch_single', retentionDays: 30 })) {
      expect(() => run(sql), sql.slice(0, 100)).not.toThrow();
    }
  });
});

describe(`every dashboard query over the Distributed tables, with the Grafana profile, at ClickHouse ${PINNED}`, () => {
  beforeAll(() => {
    const t = (hoursAgo: number) => new Date(Date.now() - hoursAgo * 3600_000).toISOString().replace('T', ' ').replace('Z', '');
    const grant = (event: string, token: string, parent: string, hoursAgo: number) =>
      `('${t(hoursAgo)}', '${event}', '${token}', '${parent}', 'agent-1', 'task-1', ['github'], ['repo:read'])`;
    run(
      `INSERT INTO ${DATABASE}.token_events (time, event, token_id, parent_id, agent_id, task_id, audience, scopes) VALUES ${[
        grant('issued', 'tok-root', '', 5),
        grant('refreshed', 'tok-child', 'tok-root', 4),
        grant('exchanged', 'tok-delegated', 'tok-child', 3),
      ].join(', ')}`,
    );
    run(
      `INSERT INTO ${DATABASE}.spans (time, ingested_at, token_id, agent_id, target, scopes, tool, task_id) VALUES ` +
        `('${t(2)}', '${t(2)}', 'tok-child', 'agent-1', 'github', ['repo:read'], 'github.search', 'task-1')`,
    );
    // Three alerts, each with versions; the last version of alert-2 escalates it to critical.
    const alert = (id: string, severity: string, version: number) =>
      `('${id}', 'scope_creep', '${severity}', 'Scope outside the grant', 'r', 'tok-child', 'tok-root', 'agent-1', '${t(3)}', '${t(3 - version / 10)}', ${version})`;
    run(
      `INSERT INTO ${DATABASE}.alerts (id, detector, severity, title, reason, token_id, root_token_id, agent_id, first_seen, last_seen, version) VALUES ${[
        alert('alert-1', 'high', 1),
        alert('alert-1', 'high', 2),
        alert('alert-2', 'high', 1),
        alert('alert-2', 'critical', 2),
        alert('alert-3', 'high', 1),
      ].join(', ')}`,
    );
    run(`INSERT INTO ${DATABASE}.alert_triage (alert_id, status, version) VALUES ('alert-1', 'acknowledged', 1)`);
    run(
      `INSERT INTO ${DATABASE}.revocations (webhook_id, policy_id, status, created_at, version) VALUES ` +
        `('wh-1', 'revoke-critical', 'queued', '${t(2)}', 1), ('wh-1', 'revoke-critical', 'delivered', '${t(2)}', 2)`,
    );
    run(
      `INSERT INTO ${DATABASE}.detector_state (detector, watermark, updated_at, version) VALUES ('scope_creep', '${t(1)}', '${t(1)}', 1)`,
    );
    run(`USE ${DATABASE}`);
    // The profile Grafana's user gets (readonly is a permission, not a result shape: left out so this session can seed).
    const settings = Object.entries(profile).filter(([name]) => name !== 'readonly');
    run(`SET ${settings.map(([name, value]) => `${name} = ${/^\d+$/.test(value) ? value : `'${value}'`}`).join(', ')}`);
  });

  it.each([...targets, ...variableQueries].map((q) => [q.key, q.sql] as const))('%s runs', (_key, sql) => {
    expect(() => query(sql)).not.toThrow();
  });

  const panel = (key: string) => query<Record<string, string>>(targets.find((q) => q.key === key)?.sql ?? `SELECT 'no panel ${key}'`);

  it('walks the session chain across shards: root above, delegated token below', () => {
    const rows = panel('intentwatch-token/Grants and session chain/A');
    const hops = Object.fromEntries(rows.map((r) => [r.token, Number(r.hop)]));
    expect(hops).toEqual({ 'tok-root': -1, 'tok-child': 0, 'tok-delegated': 1 });
  });

  it('counts each alert once, at its latest version, however many shards return it', () => {
    const byStatus = Object.fromEntries(panel('intentwatch-overview/Alerts by status/A').map((r) => [r.status, Number(r.alerts)]));
    expect(byStatus).toEqual({ open: 2, acknowledged: 1 });
    expect(panel('intentwatch-overview/Critical open alerts/A').map((r) => Number(r.critical_open))).toEqual([1]);
    expect(panel('intentwatch-responders/Delivered/A').map((r) => Number(r.delivered))).toEqual([1]);
  });

  it('leaves JOINs local in the Grafana profile: no GLOBAL rewrite, under which recursive CTEs over Distributed tables never converge', () => {
    // ClickHouse issue #120059: with prefer_global_in_and_join = 1 a recursive CTE over a
    // Distributed table resends the first iteration's working table forever (TOO_DEEP_RECURSION).
    expect(Object.keys(profile)).not.toContain('prefer_global_in_and_join');
    expect(Object.keys(clickhouseProfile('default'))).not.toContain('prefer_global_in_and_join');
  });
});

describe(`functions the SQL calls, against ClickHouse ${PINNED}`, () => {
  /** Aggregate function combinators: `countIf` is `count` with `-If`. */
  const COMBINATORS = ['If', 'Array', 'Distinct', 'OrNull', 'OrDefault', 'State', 'Merge', 'ForEach'];
  /**
   * Parser constructs EXPLAIN AST shows as functions but system.functions does not list: lambdas,
   * the CODEC clause, and the skip index types the migrations use (both in ClickHouse since 2019).
   */
  const SYNTAX = new Set(['lambda', 'CODEC', 'minmax', 'bloom_filter']);

  function calledFunctions(sql: string): string[] {
    const ast = query<{ explain: string }>(`EXPLAIN AST ${sql}`).map((r) => r.explain);
    return [...new Set(ast.flatMap((line) => [...(/^\s*Function (\w+)/.exec(line)?.slice(1) ?? [])]))];
  }

  it('existed in that version, for the migrations and every dashboard query', () => {
    const known = new Map(
      query<{ name: string; introduced_in: string; alias_to: string }>('SELECT name, introduced_in, alias_to FROM system.functions').map(
        (f) => [f.name, f],
      ),
    );
    // Table functions, table engines and codecs are named like functions in the AST; they must exist too.
    const otherwise = new Set(
      ['table_functions', 'table_engines', 'codecs'].flatMap((t) =>
        query<{ name: string }>(`SELECT name FROM system.${t}`).map((f) => f.name),
      ),
    );
    const introducedIn = (name: string): string | undefined => {
      const f = known.get(name);
      if (f) return f.introduced_in || (f.alias_to ? introducedIn(f.alias_to) : '');
      const combinator = COMBINATORS.find((c) => name.endsWith(c) && name.length > c.length);
      return combinator ? introducedIn(name.slice(0, -combinator.length)) : undefined;
    };
    const statements = [
      ...migrationSql({ database: DATABASE, cluster: CLUSTER, retentionDays: 30 }),
      ...targets.map((t) => t.sql),
      ...variableQueries.map((q) => q.sql),
    ];
    const called = new Set(statements.flatMap(calledFunctions));
    expect(called.size).toBeGreaterThan(40);
    const tooNew: string[] = [];
    const unknown: string[] = [];
    for (const name of called) {
      if (SYNTAX.has(name) || otherwise.has(name)) continue;
      const since = introducedIn(name);
      if (since === undefined) unknown.push(name);
      else if (since !== '' && versionKey(since) > versionKey(PINNED)) tooNew.push(`${name} (${since})`);
    }
    // The engine knows functions newer than the pinned version, so the comparison can tell.
    expect([...known.keys()].some((name) => versionKey(introducedIn(name) || '0.0') > versionKey(PINNED))).toBe(true);
    expect(unknown, 'functions the engine does not know').toEqual([]);
    expect(tooNew, `functions newer than ClickHouse ${PINNED}`).toEqual([]);
  });
});
