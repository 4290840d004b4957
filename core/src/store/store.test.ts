import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { globToClickHouseRegex, matchesGlob } from '../conventions/glob.js';
import { StoreError } from '../errors.js';
import { type TestStore, openTestStore } from '@intentwatch/testkit';
import { msToDateTime64, msToRfc3339, nanosToDateTime64, nanosToRfc3339 } from '../time.js';
import { MIGRATIONS, migrate, migrationSql } from './migrations.js';
import { Store } from './store.js';

// Runs against the ClickHouse server named by CLICKHOUSE_URL when it is set (a database of its
// own), else against the embedded engine: the same assertions hold for both connections.
let t: TestStore;
let store: Store;

beforeAll(async () => {
  t = await openTestStore({}, { serverFromEnv: true });
  store = t.store;
});

afterAll(async () => {
  await t?.dispose();
});

/** A TCP port on loopback that nothing listens on. */
async function refusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === 'object' && address ? address.port : 0;
}

describe('Store', () => {
  it('answers ping and says which connection it uses', async () => {
    expect(await store.ping()).toBe(true);
    expect(store.kind).toBe(process.env.CLICKHOUSE_URL ? 'server' : 'embedded');
  });

  it('passes values as query parameters, never as SQL text', async () => {
    const hostile = "x'); DROP TABLE spans; --";
    const rows = await store.query<{ v: string; n: string }>('SELECT {v:String} AS v, {n:UInt64} AS n', {
      v: hostile,
      n: '18446744073709551615',
    });
    expect(rows).toEqual([{ v: hostile, n: '18446744073709551615' }]);
    const tables = await store.query<{ name: string }>(
      'SELECT name FROM system.tables WHERE database = currentDatabase() AND name = {t:String}',
      {
        t: 'spans',
      },
    );
    expect(tables).toHaveLength(1);
  });

  it('returns 64-bit integers as strings so that no digit is lost', async () => {
    const [row] = await store.query<{ big: string; neg: string }>(
      'SELECT toUInt64(9007199254740993) AS big, toInt64(-9007199254740993) AS neg',
    );
    expect(row).toEqual({ big: '9007199254740993', neg: '-9007199254740993' });
  });

  it('inserts rows and reads them back, nanosecond times as RFC 3339', async () => {
    await store.insertPartial('spans', [
      {
        time: nanosToRfc3339(1_544_712_660_123_456_789n),
        end_time: nanosToRfc3339(1_544_712_661_000_000_001n),
        ingested_at: msToRfc3339(1_795_600_800_123),
        trace_id: 'store-roundtrip',
        span_id: '1',
        scopes: ['repo:read', 'issues:write'],
        attributes: { 'token.id': 'tok-1', 'a.b': 'c' },
      },
    ]);
    const rows = await store.query('SELECT time, end_time, ingested_at, scopes, attributes FROM spans WHERE trace_id = {t:String}', {
      t: 'store-roundtrip',
    });
    expect(rows).toEqual([
      {
        time: '2018-12-13T14:51:00.123456789Z',
        end_time: '2018-12-13T14:51:01.000000001Z',
        ingested_at: '2026-11-25T10:00:00.123Z',
        scopes: ['repo:read', 'issues:write'],
        attributes: { 'token.id': 'tok-1', 'a.b': 'c' },
      },
    ]);
  });

  it('stores times across the whole DateTime64 range exactly, in rows and in parameters', async () => {
    const cases: [bigint, string][] = [
      [1n, '1970-01-01T00:00:00.000000001Z'],
      [86_400_500_000_000n, '1970-01-02T00:00:00.500000000Z'],
      [99_999_999_000_000_000n, '1973-03-03T09:46:39.000000000Z'],
      [1_000_000_000_000_000_000n, '2001-09-09T01:46:40.000000000Z'],
      [9_223_372_036_854_775_807n, '2262-04-11T23:47:16.854775807Z'],
    ];
    await store.insertPartial(
      'spans',
      cases.map(([nanos], i) => ({
        time: nanosToRfc3339(nanos),
        ingested_at: msToRfc3339(Date.now()),
        trace_id: 'store-range',
        span_id: String(i),
      })),
    );
    const rows = await store.query<{ span_id: string; time: string }>(
      'SELECT span_id, time FROM spans WHERE trace_id = {t:String} ORDER BY toUInt32(span_id)',
      { t: 'store-range' },
    );
    expect(rows.map((r) => r.time)).toEqual(cases.map(([, text]) => text));
    for (const [nanos, text] of cases) {
      const [p] = await store.query<{ v: string }>("SELECT {t:DateTime64(9, 'UTC')} AS v", { t: nanosToDateTime64(nanos) });
      expect(p?.v).toBe(text);
    }
    const [ms] = await store.query<{ v: string }>("SELECT {t:DateTime64(3, 'UTC')} AS v", { t: msToDateTime64(-2_208_988_800_000) });
    expect(ms?.v).toBe('1900-01-01T00:00:00.000Z');
  });

  it('reports a bad statement as a StoreError store_failed naming the operation', async () => {
    const error = await store.query('SELECT * FROM no_such_table').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect(error).toMatchObject({ code: 'store_failed', message: expect.stringMatching(/^query failed: .*no_such_table/s) });
    // @ts-expect-error a column the table lacks does not compile, and the engine refuses it too
    const insert = await store.insertPartial('spans', [{ no_such_column: 1 }]).catch((e: unknown) => e);
    expect(insert).toMatchObject({ code: 'store_failed', message: expect.stringMatching(/^insert into spans failed/) });
  });

  it('fails with store_unavailable and a clear message when CLICKHOUSE_URL refuses connections', async () => {
    const port = await refusedPort();
    const error = await Store.open({
      dataDir: t.where,
      database: 'intentwatch',
      clickhouse: { url: `http://iw:secret-pw@127.0.0.1:${port}`, database: 'intentwatch' },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect(error).toMatchObject({ code: 'store_unavailable' });
    const message = (error as Error).message;
    expect(message).toContain(`cannot reach ClickHouse at http://127.0.0.1:${port}/`);
    expect(message).toMatch(/ECONNREFUSED/);
    expect(message).not.toContain('secret-pw');
  });
});

/** One Native block of String columns (what `INSERT … FORMAT Native` reads): counts, then each column's name, type and values. */
function nativeStrings(columns: Record<string, string[]>): Buffer {
  const varint = (n: number) => {
    const out: number[] = [];
    let v = n;
    while (v >= 0x80) {
      out.push((v & 0x7f) | 0x80);
      v >>>= 7;
    }
    out.push(v);
    return Buffer.from(out);
  };
  const text = (v: string) => Buffer.concat([varint(Buffer.byteLength(v)), Buffer.from(v)]);
  const names = Object.keys(columns);
  const rows = columns[names[0] as string]?.length ?? 0;
  return Buffer.concat([
    varint(names.length),
    varint(rows),
    ...names.flatMap((name) => [text(name), text('String'), ...(columns[name] ?? []).map(text)]),
  ]);
}

describe('Store.onWrite', () => {
  it('says whether this process makes every write: the embedded engine yes, a server no', () => {
    expect(store.seesAllWrites).toBe(store.kind === 'embedded');
  });

  it('tells each listener the table of every committed insert, whichever insert path wrote it', async () => {
    const told: string[] = [];
    const off = store.onWrite((table) => told.push(table));
    try {
      await store.insertPartial('alert_triage', [{ alert_id: 'on-write-rows', status: 'open' }]);
      const now = msToRfc3339(Date.now());
      const line = JSON.stringify({ time: now, ingested_at: now, trace_id: 'on-write-formatted', span_id: '1' });
      await store.insertFormatted('spans', ['time', 'ingested_at', 'trace_id', 'span_id'], 'JSONEachRow', Buffer.from(`${line}\n`));
      const expected = ['alert_triage', 'spans'];
      if (store.nativeInsert) {
        await store.insertNative('spans', ['trace_id', 'span_id'], [nativeStrings({ trace_id: ['on-write-native'], span_id: ['1'] })]);
        expected.push('spans');
      }
      expect(told).toEqual(expected);
      const [stored] = await store.query<{ n: string }>(
        "SELECT count() AS n FROM spans WHERE trace_id IN ('on-write-formatted', 'on-write-native')",
      );
      expect(Number(stored?.n), 'each insert told of was committed').toBe(expected.length - 1);
    } finally {
      off();
    }
  });

  it('tells nothing of an empty or failed insert, nor anything once unsubscribed', async () => {
    const told: string[] = [];
    const off = store.onWrite((table) => told.push(table));
    await store.insertPartial('alert_triage', []);
    await store.insertFormatted('spans', ['trace_id'], 'JSONEachRow', Buffer.alloc(0));
    // @ts-expect-error a column the table lacks: the engine refuses the insert
    await expect(store.insertPartial('alert_triage', [{ no_such_column: 1 }])).rejects.toBeInstanceOf(StoreError);
    expect(told, 'no insert committed').toEqual([]);
    off();
    await store.insertPartial('alert_triage', [{ alert_id: 'on-write-after-off', status: 'open' }]);
    expect(told, 'unsubscribed').toEqual([]);
  });

  it('keeps an insert that committed when a listener throws, and still tells the other listeners', async () => {
    const told: string[] = [];
    const offThrowing = store.onWrite(() => {
      throw new Error('a listener that fails');
    });
    const offOther = store.onWrite((table) => told.push(table));
    try {
      await store.insertPartial('alert_triage', [{ alert_id: 'on-write-throwing', status: 'open' }]);
      await store.insertPartial('alert_triage', [{ alert_id: 'on-write-throwing', status: 'resolved' }]);
    } finally {
      offThrowing();
      offOther();
    }
    expect(told).toEqual(['alert_triage', 'alert_triage']);
    const [row] = await store.query<{ n: string }>("SELECT count() AS n FROM alert_triage WHERE alert_id = 'on-write-throwing'");
    expect(Number(row?.n)).toBe(2);
  });
});

describe('globToClickHouseRegex', () => {
  it('matches in ClickHouse exactly as the JavaScript glob does', async () => {
    const patterns = ['repos/acme/*', 'buckets/logs/**', 'repos/**/issues', 'reports/*.csv', 'a+b/(c)|[d]', '**'];
    const resources = [
      'repos/acme/api',
      'repos/acme/api/issues',
      'buckets/logs',
      'buckets/logs/2026/a.gz',
      'buckets/logsX',
      'repos/issues',
    ];
    const more = ['reports/q3.csv', 'reports/q3xcsv', 'a+b/(c)|[d]', 'ab/c', ''];
    for (const pattern of patterns) {
      for (const resource of [...resources, ...more]) {
        const [row] = await store.query<{ m: number }>('SELECT match({r:String}, {re:String}) AS m', {
          r: resource,
          re: globToClickHouseRegex(pattern),
        });
        expect(Boolean(row?.m), `${pattern} ~ ${resource}`).toBe(matchesGlob(pattern, resource));
      }
    }
  });
});

describe('migrate', () => {
  it('has created every table and records each migration once', async () => {
    const tables = await store.query<{ name: string }>('SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name');
    expect(tables.map((r) => r.name)).toEqual(expect.arrayContaining(['schema_migrations', 'spans', 'task_events', 'token_events']));
    const versions = await store.query<{ version: number }>('SELECT version FROM schema_migrations FINAL ORDER BY version');
    expect(versions.map((r) => Number(r.version))).toEqual(MIGRATIONS.map((m) => m.version));
  });

  it('runs again cleanly, applying nothing and keeping the data', async () => {
    const before = await store.query<{ c: string }>('SELECT count() AS c FROM spans');
    expect(await migrate(store, { retentionDays: 30 })).toEqual([]);
    expect(await migrate(store, { retentionDays: 30 })).toEqual([]);
    expect(await store.query('SELECT count() AS c FROM spans')).toEqual(before);
    const recorded = await store.query<{ c: string }>('SELECT count() AS c FROM schema_migrations');
    expect(Number(recorded[0]?.c)).toBe(MIGRATIONS.length);
  });

  it('gives spans stored before spans.mcp_method existed their MCP method once upgraded', async () => {
    // The store as it was before version 4, holding an MCP span.
    const now = new Date().toISOString().replace('T', ' ').replace('Z', '');
    await store.command('ALTER TABLE spans DROP COLUMN mcp_method');
    await store.command('DELETE FROM schema_migrations WHERE version = 4');
    await store.insertPartial('spans', [
      {
        time: now,
        end_time: now,
        ingested_at: now,
        trace_id: 'a'.repeat(32),
        span_id: 'b'.repeat(16),
        token_id: 'tok-mcp-old',
        attributes: { 'mcp.method.name': 'tools/call' },
      },
    ]);
    expect(await migrate(store, { retentionDays: 30 })).toEqual([4]);
    const rows = await store.query<{ mcp_method: string }>("SELECT mcp_method FROM spans WHERE token_id = 'tok-mcp-old'");
    expect(rows).toEqual([{ mcp_method: 'tools/call' }]);
  });

  it('counts the token uses stored before usage_counts existed into it, once, also when the migration runs again', async () => {
    // The store as it was before version 7, holding two uses of one token by one agent and a
    // span that uses no token, in one second of event time.
    await store.command('DROP TABLE IF EXISTS usage_counts');
    await store.command('DELETE FROM schema_migrations WHERE version = 7');
    const at = '2026-11-20 10:00:00.250';
    const use = (spanId: string, tokenId: string, target: string) => ({
      time: at,
      end_time: at,
      ingested_at: at,
      trace_id: 'c'.repeat(32),
      span_id: spanId,
      token_id: tokenId,
      agent_id: tokenId ? 'agent-before-7' : '',
      target,
    });
    await store.insertPartial('spans', [
      use('1'.repeat(16), 'tok-before-7', 'gcs'),
      use('2'.repeat(16), 'tok-before-7', 'bigquery'),
      use('3'.repeat(16), '', 'gcs'),
      // A sender's clock past 2106: stored in spans, not counted.
      { ...use('4'.repeat(16), 'tok-before-7', 'iam'), time: '2200-01-01 00:00:00' },
    ]);
    const counts = () =>
      store.query(
        `SELECT agent_id, token_id, second, sum(requests) AS requests, arraySort(groupUniqArrayArray(targets)) AS targets
         FROM usage_counts WHERE token_id = 'tok-before-7' GROUP BY agent_id, token_id, second`,
      );
    const expected = [
      { agent_id: 'agent-before-7', token_id: 'tok-before-7', second: '2026-11-20T10:00:00Z', requests: '2', targets: ['bigquery', 'gcs'] },
    ];
    expect(await migrate(store, { retentionDays: 30 })).toEqual([7]);
    expect(await counts()).toEqual(expected);
    // Interrupted before it was recorded: it runs again, and counts each use once.
    await store.command('DELETE FROM schema_migrations WHERE version = 7');
    expect(await migrate(store, { retentionDays: 30 })).toEqual([7]);
    expect(await counts()).toEqual(expected);
  });
});

describe('migrationSql on a cluster', () => {
  const statements = migrationSql({ database: 'intentwatch', cluster: 'c', retentionDays: 30 });

  it('renders every statement ON CLUSTER, local tables replicated and a Distributed table over each', () => {
    // The one statement that is not DDL: migration 7 counts the stored spans through the Distributed tables.
    for (const sql of statements.filter((s) => !s.startsWith('INSERT INTO'))) expect(sql).toContain('ON CLUSTER `c`');
    expect(statements.filter((s) => s.startsWith('INSERT INTO'))).toHaveLength(1);
    const local = statements.filter((s) => /CREATE TABLE IF NOT EXISTS `intentwatch`\.`\w+_local`/.test(s));
    const distributed = statements.filter((s) => /ENGINE = Distributed\(/.test(s));
    expect(local.length).toBeGreaterThanOrEqual(4);
    expect(distributed).toHaveLength(local.length);
    for (const sql of local) {
      const name = /`(\w+)_local`/.exec(sql)?.[1];
      expect(sql).toMatch(/ENGINE = Replicated\w*MergeTree\('\/clickhouse\/tables\/\{shard\}\/intentwatch\/\w+_local', '\{replica\}'/);
      expect(distributed.some((d) => d.includes(`\`intentwatch\`.\`${name}\` ON CLUSTER`) && d.includes(`\`${name}_local\``))).toBe(true);
    }
    expect(statements.join('\n')).toContain(
      "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/intentwatch/schema_migrations_local', '{replica}', applied_at)",
    );
  });

  it('consists of statements ClickHouse parses', async () => {
    for (const sql of statements) {
      const [row] = await store.query<{ f: string }>('SELECT formatQuery({q:String}) AS f', { q: sql });
      expect(row?.f, sql).toMatch(
        /^((CREATE TABLE IF NOT EXISTS|TRUNCATE TABLE IF EXISTS|ALTER TABLE) intentwatch\.\w+ ON CLUSTER c|INSERT INTO intentwatch\.usage_counts\s)/,
      );
    }
  });
});
