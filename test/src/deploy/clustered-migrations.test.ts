import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store, migrationSql } from '@intentwatch/core';
import { loadConfig } from '@intentwatch/cli';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { clusterLayout, compose, read } from './deploy-files.js';

/**
 * The migrations in the form a cluster gets (CLICKHOUSE_CLUSTER): ClickHouse itself parses every
 * statement, each table is a Replicated* table on every node plus a Distributed table over it,
 * and the cluster, macros and Keeper paths they use are the ones the deployment configures.
 */

const CLUSTER = 'intentwatch';
const cluster = migrationSql({ database: 'intentwatch', cluster: CLUSTER, retentionDays: 30 });
const single = migrationSql({ database: 'intentwatch', retentionDays: 30 });
const tableOf = (sql: string) => /CREATE TABLE IF NOT EXISTS `intentwatch`\.`(\w+)`/.exec(sql)?.[1] as string;
const alteredOf = (sql: string) => /^ALTER TABLE `intentwatch`\.`(\w+)`/.exec(sql)?.[1];

let store: Store;
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'iw-cluster-ddl-'));
  store = await Store.open(loadConfig({ INTENTWATCH_DATA_DIR: dataDir }, { dotenv: false }));
});

afterAll(async () => {
  await store?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** ClickHouse's own parse tree of a statement, as lines of text. */
async function explain(kind: 'AST', sql: string): Promise<string> {
  const rows = await store.query<string | { explain: string }>(`EXPLAIN ${kind} ${sql}`);
  return rows.map((r) => (typeof r === 'string' ? r : r.explain)).join('\n');
}

/** The statement as ClickHouse formats it after parsing. */
async function formatted(sql: string): Promise<string> {
  const [row] = await store.query<{ q: string }>('SELECT formatQuery({sql:String}) AS q', { sql });
  return row?.q ?? '';
}

describe('clustered migrations', () => {
  it('parse with ClickHouse, statement by statement, each ON CLUSTER the deployment’s cluster', async () => {
    // Each CREATE and ALTER twice (local and Distributed table); a TRUNCATE once, of the local
    // tables ON CLUSTER; a count of stored rows (migration 7) once, through the Distributed tables.
    const kind = (sql: string) => (/^(INSERT|TRUNCATE)/.exec(sql)?.[1] ?? 'DDL') as 'INSERT' | 'TRUNCATE' | 'DDL';
    const of = (list: string[], k: string) => list.filter((s) => kind(s) === k).length;
    expect(of(cluster, 'DDL')).toBe(of(single, 'DDL') * 2);
    expect(of(cluster, 'TRUNCATE')).toBe(of(single, 'TRUNCATE'));
    expect(of(cluster, 'INSERT')).toBe(of(single, 'INSERT'));
    for (const sql of cluster) {
      const ast = await explain('AST', sql);
      if (kind(sql) === 'INSERT') {
        expect(ast, sql.slice(0, 80)).toMatch(/^InsertQuery\s+\(children \d+\)\n Identifier intentwatch\n Identifier \w+\n/);
        expect(ast, sql.slice(0, 80)).not.toMatch(/_local/);
        continue;
      }
      expect(ast, sql.slice(0, 80)).toMatch(/^(Create|Alter|Truncate)Query intentwatch \w+/);
      expect(await formatted(sql), sql.slice(0, 80)).toContain(`ON CLUSTER ${CLUSTER}`);
    }
  });

  it('create every table of the single-node schema as a Replicated table on each node and a Distributed table over it', async () => {
    for (const sql of single.filter((s) => tableOf(s))) {
      const name = tableOf(sql);
      const local = cluster.find((s) => tableOf(s) === `${name}_local`);
      const distributed = cluster.find((s) => tableOf(s) === name);
      expect(local, name).toBeDefined();
      expect(distributed, name).toBeDefined();
      const localAst = await explain('AST', local as string);
      const engine = /Function (\w+MergeTree)/.exec(localAst)?.[1] ?? '';
      const singleEngine = /Function (\w*MergeTree)/.exec(await explain('AST', sql))?.[1] ?? '';
      expect(engine, name).toBe(`Replicated${singleEngine}`);
      expect(local).toContain(`'/clickhouse/tables/{shard}/intentwatch/${name}_local', '{replica}'`);
      expect(await explain('AST', distributed as string)).toMatch(/Function Distributed/);
      expect(distributed).toContain(`ENGINE = Distributed(\`${CLUSTER}\`, \`intentwatch\`, \`${name}_local\``);
    }
  });

  it('alter both the Replicated table and the Distributed table over it when a migration adds a column', () => {
    const altered = single.map(alteredOf).filter((t): t is string => Boolean(t));
    for (const table of altered) {
      // Each single-node ALTER of a table becomes one of the table and one of its local table.
      const times = altered.filter((t) => t === table).length;
      const alters = cluster.map(alteredOf).filter((t) => t === table || t === `${table}_local`);
      expect(alters.sort(), table).toEqual(
        Array.from({ length: times }, () => [table, `${table}_local`])
          .flat()
          .sort(),
      );
    }
  });

  it('use only macros and a cluster name that the ClickHouse configuration of compose and of Kubernetes define', () => {
    const macros = new Set(cluster.flatMap((sql) => [...sql.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as string)));
    expect([...macros].sort()).toEqual(['replica', 'shard']);
    for (const file of ['deploy/clickhouse/compose/cluster.xml', 'deploy/clickhouse/kubernetes/cluster.xml']) {
      const layout = clusterLayout(file);
      expect(layout.name, file).toBe(CLUSTER);
      for (const m of macros) expect(layout.macros, `${file}: {${m}}`).toContain(m);
      expect(layout.zookeeper.length, file).toBeGreaterThan(0);
      expect(layout.shards.length, file).toBeGreaterThanOrEqual(2);
      for (const shard of layout.shards) expect(shard.replicas.length, file).toBeGreaterThanOrEqual(2);
    }
    for (const role of ['collector', 'detectors', 'api']) {
      expect(compose().services[role]?.environment?.CLICKHOUSE_CLUSTER, role).toBe(CLUSTER);
    }
    const configMap = parse(read('deploy/k8s/config.yaml')) as { data: Record<string, string> };
    expect(configMap.data.CLICKHOUSE_CLUSTER).toBe(CLUSTER);
  });
});
