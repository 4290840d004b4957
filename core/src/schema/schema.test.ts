import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestStore, openTestStore } from '@intentwatch/testkit';
import { MIGRATIONS } from '../store/migrations.js';
import { quoteIdentifier } from '../store/store.js';
import { createTableDdl } from '../store/table-spec.js';
import { type DetectorStateRow, TABLES, type TableName } from './index.js';

// The schema files state each table's DDL and columns beside the migrations that build it; these
// tests hold the two together, against what the engine reports after every migration has run.
let t: TestStore;
const fresh = `iw_schema_${process.pid}_${Date.now()}`;

beforeAll(async () => {
  t = await openTestStore({}, { serverFromEnv: true });
  await t.store.command(`CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(fresh)}`);
  for (const schema of Object.values(TABLES)) {
    for (const sql of createTableDdl(schema.ddl({ retentionDays: 30 }), { database: fresh })) await t.store.command(sql);
  }
});

afterAll(async () => {
  await t?.store.command(`DROP DATABASE IF EXISTS ${quoteIdentifier(fresh)}`).catch(() => undefined);
  await t?.dispose();
});

interface EngineColumn {
  name: string;
  type: string;
  default_kind: string;
  default_expression: string;
  compression_codec: string;
}

async function engineColumns(database: string | undefined, table: string): Promise<EngineColumn[]> {
  return t.store.query<EngineColumn>(
    `SELECT name, type, default_kind, default_expression, compression_codec FROM system.columns
     WHERE database = ${database ? '{db:String}' : 'currentDatabase()'} AND table = {table:String} ORDER BY position`,
    { db: database ?? '', table },
  );
}

async function createQuery(database: string | undefined, table: string): Promise<string> {
  const [row] = await t.store.query<{ q: string; db: string }>(
    `SELECT create_table_query AS q, database AS db FROM system.tables
     WHERE database = ${database ? '{db:String}' : 'currentDatabase()'} AND name = {table:String}`,
    { db: database ?? '', table },
  );
  return row ? row.q.replace(`CREATE TABLE ${row.db}.`, 'CREATE TABLE ') : '';
}

describe('table schemas', () => {
  it('name every table the migrations create, and no other', async () => {
    const tables = await t.store.query<{ name: string }>('SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name');
    expect(tables.map((r) => r.name)).toEqual(Object.keys(TABLES).sort());
  });

  it('list the columns of each migrated table in its order, the computed ones apart', async () => {
    for (const [name, schema] of Object.entries(TABLES)) {
      const columns = await engineColumns(undefined, name);
      expect(columns.length, name).toBeGreaterThan(0);
      expect(
        columns.filter((c) => c.default_kind !== 'MATERIALIZED' && c.default_kind !== 'ALIAS').map((c) => c.name),
        name,
      ).toEqual([...schema.columns]);
      expect(
        columns.filter((c) => c.default_kind === 'MATERIALIZED' || c.default_kind === 'ALIAS').map((c) => c.name),
        name,
      ).toEqual([...(schema.computed ?? [])]);
    }
  });

  it('state in their DDL the table the migrations build: same columns, types, defaults, codecs, keys and indexes', async () => {
    for (const name of Object.keys(TABLES) as TableName[]) {
      expect(await engineColumns(fresh, name), name).toEqual(await engineColumns(undefined, name));
      const migrated = await createQuery(undefined, name);
      expect(migrated, name).toMatch(/^CREATE TABLE /);
      expect(await createQuery(fresh, name), name).toBe(migrated);
    }
  });
});

/**
 * The SQL of every shipped migration, fingerprinted (single node and cluster). A migration that
 * has run somewhere must never change meaning: the schema files share a table's form with the
 * migration that created it, so a change to a table is a new migration, never an edit of those.
 */
const SHIPPED: Record<number, string> = {
  1: '20bef4a539dae1af',
  2: '6ed62096d4d8a4b6',
  3: 'a06d5739f4402942',
  4: 'cb31a5f726ddd9e8',
  5: '1abcd7f740114d47',
  6: '8ce2265ebad34346',
  10: '70cfd0dcfd10d8c7',
  20: '7ebb9f5d600b4e90',
  21: '40a175e4c3f3e3e2',
  30: 'e26e7a4cd331aa2f',
};

describe('Store.insert', () => {
  it('writes whole rows of the table it names; a missing or unknown column, or another table’s row, does not compile', async () => {
    const row: DetectorStateRow = {
      detector: 'schema-test',
      watermark: '2026-11-25T10:00:00.000Z',
      updated_at: '2026-11-25T10:00:01.000Z',
      version: 7,
    };
    await t.store.insert('detector_state', [row]);
    const { version: _version, ...withoutVersion } = row;
    // Never called: these lines are checked by the compiler (npm run typecheck), each must be an error.
    const refused = () => [
      // @ts-expect-error a row without `version`
      t.store.insert('detector_state', [withoutVersion]),
      // @ts-expect-error a column the table lacks
      t.store.insert('detector_state', [{ ...row, watermark_ms: 1 }]),
      // @ts-expect-error a row of another table
      t.store.insert('responder_state', [row]),
      // @ts-expect-error a column the table lacks, also when the others are left to their defaults
      t.store.insertPartial('detector_state', [{ detector: 'x', watermark_ms: 1 }]),
    ];
    expect(refused).toBeTypeOf('function');
    const stored = await t.store.query<{ detector: string; watermark: string; version: string }>(
      "SELECT detector, watermark, version FROM detector_state WHERE detector = 'schema-test'",
    );
    expect(stored).toEqual([{ detector: 'schema-test', watermark: '2026-11-25T10:00:00.000Z', version: '7' }]);
  });
});

describe('shipped migrations', () => {
  it('keep their SQL byte for byte, whatever the schema files now say', () => {
    for (const m of MIGRATIONS.filter((x) => x.version in SHIPPED)) {
      const sql = [
        ...m.statements({ database: 'intentwatch', retentionDays: 30 }),
        ...m.statements({ database: 'intentwatch', cluster: 'c', retentionDays: 30 }),
      ];
      const fingerprint = createHash('sha256').update(sql.join('\n;\n')).digest('hex').slice(0, 16);
      expect(fingerprint, `migration ${m.version} (${m.name}) changed: add a migration instead`).toBe(SHIPPED[m.version]);
    }
    expect(MIGRATIONS.filter((x) => x.version in SHIPPED)).toHaveLength(Object.keys(SHIPPED).length);
  });
});
