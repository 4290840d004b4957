import { existsSync, mkdirSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { MAX_STORE_MS, MAX_STORE_NANOS, MIN_STORE_MS, MIN_STORE_NANOS, StoreError, msToRfc3339, nanosToRfc3339 } from '@intentwatch/core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NativeEncodeError, NativeEncoder, nativeColumns, parseColumnDefinition } from './native-encoder.js';
import {
  ROW_FORMAT,
  TABLE_ENCODINGS,
  type TableEncoding,
  USAGE_COUNT_ENCODING,
  encodeNative,
  encodeRows,
  joinLines,
} from './row-serializer.js';
import type { SpanRow } from './rows.js';
import { type TestStore, openTestStore } from '@intentwatch/testkit';

let t: TestStore;

beforeAll(async () => {
  t = await openTestStore();
  // Each table twice: one written by the JSON route, one by the Native route.
  for (const e of [...Object.values(TABLE_ENCODINGS), USAGE_COUNT_ENCODING]) {
    for (const route of ['json', 'native']) {
      await t.store.command(`CREATE TABLE ${e.table}_${route} AS ${e.table}`);
      // Without the retention TTL, which would remove rows ingested "in 1970" whenever a merge ran.
      if (e.table === 'spans' || e.table === 'usage_counts') await t.store.command(`ALTER TABLE ${e.table}_${route} REMOVE TTL`);
    }
  }
});

afterAll(async () => {
  await t?.dispose();
});

/** Where the store makes its insert directory (see Store.insertNative). */
const FILE_BASE = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();

/** The store's insert directories (this process's). */
const insertDirs = () => readdirSync(FILE_BASE).filter((d) => d.startsWith(`intentwatch-insert-${process.pid}-`));

/** The files in them. */
const insertFiles = () => insertDirs().flatMap((d) => readdirSync(`${FILE_BASE}/${d}`));

// Text a sender controls: quotes, backslashes, newlines and blank lines (which cut chDB's inline
// insert), NUL, non-BMP characters, the empty string, long text. Lone surrogates never reach the
// writer (the collector replaces them with U+FFFD, see well-formed.ts).
const hostile = fc.constantFrom(
  '',
  '"',
  "'",
  '\\',
  '\\"',
  '\n',
  '\n\n',
  'a\n\nb',
  '\r\n\r\n',
  '\0',
  'a\0b',
  '\t',
  '🚀',
  'ünïcode',
  '\u2028',
  '{}[]',
  'x'.repeat(200),
  'é'.repeat(50),
  'é'.repeat(100),
  `${'a'.repeat(126)}é`,
);
const text = fc.oneof(hostile, fc.string(), fc.string({ unit: 'binary', maxLength: 60 }), fc.string({ unit: 'grapheme', maxLength: 20 }));
const list = fc.oneof(fc.constant<string[]>([]), fc.array(text, { maxLength: 8 }), fc.array(text, { minLength: 300, maxLength: 400 }));
const map = fc.oneof(
  fc.constant<Record<string, string>>({}),
  fc.dictionary(text, text, { maxKeys: 8 }),
  // Values a writer might leave unset: JSON leaves out an undefined one and stores '' for null.
  fc.dictionary(text, fc.oneof(text, fc.constant(null), fc.constant(undefined)), { maxKeys: 5 }) as fc.Arbitrary<Record<string, string>>,
  fc.dictionary(fc.string({ minLength: 1 }), text, { minKeys: 200, maxKeys: 300 }),
);
const nanos = fc.bigInt({ min: MIN_STORE_NANOS, max: MAX_STORE_NANOS });
/** A time as the collector writes it, and the other RFC 3339 forms (fewer digits, no fraction, an offset). */
const time = fc.oneof(
  nanos.map(nanosToRfc3339),
  nanos.map((n) => nanosToRfc3339(n).replace(/\.(\d+)Z$/, (_, f: string) => `.${f.replace(/0+$/, '') || '0'}Z`)),
  fc
    .integer({ min: MIN_STORE_MS / 1000 + 86_400, max: Math.floor(MAX_STORE_MS / 1000) - 86_400 })
    .map((s) => msToRfc3339(s * 1000).replace('.000Z', 'Z')),
  fc.integer({ min: MIN_STORE_MS + 86_400_000, max: MAX_STORE_MS - 86_400_000 }).map((ms) => msToRfc3339(ms).replace('Z', '+00:00')),
);
const msTime = fc.oneof(fc.integer({ min: MIN_STORE_MS, max: MAX_STORE_MS }).map(msToRfc3339), time);
/** Undefined or null stand for "not given": the JSON route stores the column's default for both. */
const maybe = <T>(a: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 6, arbitrary: a }, { weight: 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constant(null) });

const spanRow = fc.record({
  time: maybe(time),
  end_time: maybe(time),
  ingested_at: maybe(msTime),
  trace_id: maybe(text),
  parent_span_id: maybe(text),
  name: maybe(text),
  kind: maybe(fc.integer({ min: 0, max: 255 })),
  status_code: maybe(fc.integer({ min: 0, max: 255 })),
  token_id: maybe(text),
  task_id: maybe(text),
  agent_id: maybe(text),
  workload_id: maybe(text),
  caller: maybe(text),
  target: maybe(text),
  action: maybe(fc.oneof(text, fc.constant('y'.repeat(100_000)))),
  environment: maybe(text),
  scopes: maybe(list),
  resource: maybe(text),
  tool: maybe(text),
  scope_name: maybe(text),
  attributes: maybe(map),
  resource_attributes: maybe(map),
  dropped_attributes: maybe(fc.integer({ min: 0, max: 4_294_967_295 })),
  resource_raw: maybe(text),
});

const tokenEventRow = fc.record({
  time: maybe(time),
  ingested_at: maybe(msTime),
  event: maybe(text),
  token_id: maybe(text),
  parent_id: maybe(text),
  task_id: maybe(text),
  agent_id: maybe(text),
  workload_id: maybe(text),
  audience: maybe(list),
  scopes: maybe(list),
  resources: maybe(list),
  expires_at: maybe(msTime),
  max_session_s: maybe(fc.integer({ min: 0, max: 4_294_967_295 })),
  environment: maybe(text),
  revoked_reason: maybe(text),
  caller: maybe(text),
  trace_id: maybe(text),
  source: maybe(text),
  attributes: maybe(map),
});

const taskEventRow = fc.record({
  time: maybe(time),
  ingested_at: maybe(msTime),
  event: maybe(text),
  task_id: maybe(text),
  agent_id: maybe(text),
  intent: maybe(text),
  tools: maybe(list),
  deadline: maybe(msTime),
  caller: maybe(text),
  trace_id: maybe(text),
  source: maybe(text),
  attributes: maybe(map),
});

/** The rows of one run, each with a unique span_id (the order of the comparison). */
function numbered<R>(rows: R[]): R[] {
  return rows.map((r, i) => ({ ...r, span_id: `row-${String(i).padStart(4, '0')}` }));
}

/** Inserts `rows` into `<table>_json` and `<table>_native` and returns both tables' rows. */
async function bothRoutes(e: TableEncoding, rows: object[], orderBy = 'span_id'): Promise<[unknown[], unknown[]]> {
  await t.store.command(`TRUNCATE TABLE ${e.table}_json`);
  await t.store.command(`TRUNCATE TABLE ${e.table}_native`);
  await t.store.insertFormatted(`${e.table}_json`, e.columns, ROW_FORMAT, joinLines([encodeRows(e, rows)]));
  // Several blocks of one stream, as a flush of many requests sends them.
  await t.store.insertNative(`${e.table}_native`, e.columns, encodeNative(e, rows, 7));
  const read = (table: string) => t.store.query(`SELECT * FROM ${table} ORDER BY ${orderBy}`);
  return [await read(`${e.table}_json`), await read(`${e.table}_native`)];
}

describe('Native encoder', () => {
  it('stores usage counts exactly as the JSON route does: hostile names, counts up to the largest safe integer, target lists', async () => {
    // Each row a key of its own (the token): the table merges the rows of one agent, token and second.
    const count = fc.record({
      agent_id: text,
      second: fc.integer({ min: 0, max: 4_294_967_295 }).map((s) => `${msToRfc3339(s * 1000).slice(0, 19)}Z`),
      requests: fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.constant(Number.MAX_SAFE_INTEGER)),
      targets: list,
      ingested_from: fc.integer({ min: MIN_STORE_MS, max: MAX_STORE_MS }).map(msToRfc3339),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(count, { minLength: 1, maxLength: 30 }), async (rows) => {
        const keyed = rows.map((r, i) => ({ ...r, token_id: `tok-${String(i).padStart(3, '0')}` }));
        const [json, native] = await bothRoutes(USAGE_COUNT_ENCODING, keyed, 'token_id');
        expect(native).toEqual(json);
        expect(native).toHaveLength(rows.length);
      }),
      { numRuns: 15 },
    );
  });

  it('stores exactly what the JSON route stores, for hostile span rows', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(spanRow, { minLength: 1, maxLength: 40 }), async (rows) => {
        const [json, native] = await bothRoutes(TABLE_ENCODINGS.spans, numbered(rows));
        expect(native).toEqual(json);
        expect(native).toHaveLength(rows.length);
      }),
      { numRuns: 25 },
    );
  });

  it('stores exactly what the JSON route stores, for token and task events (Nullable columns included)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(tokenEventRow, { minLength: 1, maxLength: 30 }),
        fc.array(taskEventRow, { minLength: 1, maxLength: 30 }),
        async (tokens, tasks) => {
          const [jsonTokens, nativeTokens] = await bothRoutes(TABLE_ENCODINGS.tokenEvents, numbered(tokens));
          expect(nativeTokens).toEqual(jsonTokens);
          const [jsonTasks, nativeTasks] = await bothRoutes(TABLE_ENCODINGS.taskEvents, numbered(tasks));
          expect(nativeTasks).toEqual(jsonTasks);
        },
      ),
      { numRuns: 15 },
    );
  });

  it('stores the first and last nanosecond the store holds, and times before 1970 with fractions', async () => {
    const times = [
      '1900-01-01T00:00:00.000000000Z',
      '2262-04-11T23:47:16.854775807Z',
      '1969-12-31T23:59:59.999999999Z',
      '1899-12-31T23:59:59Z',
    ];
    const rows = numbered(times.slice(0, 3).map((time) => ({ time, end_time: time, ingested_at: time }) as Partial<SpanRow>));
    const [json, native] = await bothRoutes(TABLE_ENCODINGS.spans, rows);
    expect(native).toEqual(json);
    expect(native.map((r) => (r as SpanRow).time)).toEqual([
      '1900-01-01T00:00:00.000000000Z',
      '2262-04-11T23:47:16.854775807Z',
      '1969-12-31T23:59:59.999999999Z',
    ]);
    expect(() => TABLE_ENCODINGS.spans.native.encode([{ time: times[3] }])).toThrow(NativeEncodeError);
  });

  it('stores a lone surrogate as U+FFFD, as the collector does before any insert', async () => {
    const [row] = numbered([{ name: 'cut \ud83d' } as Partial<SpanRow>]);
    await t.store.command('TRUNCATE TABLE spans_native');
    await t.store.insertNative('spans_native', TABLE_ENCODINGS.spans.columns, encodeNative(TABLE_ENCODINGS.spans, [row as object]));
    expect(await t.store.query('SELECT name FROM spans_native')).toEqual([{ name: 'cut \ufffd' }]);
  });

  it('refuses a value it cannot store faithfully, naming the column and row', () => {
    const encoder = TABLE_ENCODINGS.spans.native;
    expect(() => encoder.encode([{}, { time: 'yesterday' }])).toThrow(/time of row 1: "yesterday" is not an RFC 3339 time/);
    expect(() => encoder.encode([{ kind: 256 }])).toThrow(/kind of row 0: 256 is not a whole number from 0 to 255/);
    expect(() => encoder.encode([{ scopes: 'a,b' }])).toThrow(/scopes of row 0: "a,b" is not an array/);
    expect(() => encoder.encode([{ attributes: { a: {} } }])).toThrow(NativeEncodeError);
  });

  it('takes column types from DDL definitions and refuses a type it does not write', () => {
    expect(parseColumnDefinition("time DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1))")).toEqual({
      name: 'time',
      type: "DateTime64(9, 'UTC')",
    });
    expect(parseColumnDefinition('attributes Map(LowCardinality(String), String) CODEC(ZSTD(1))')).toEqual({
      name: 'attributes',
      type: 'Map(LowCardinality(String), String)',
    });
    expect(parseColumnDefinition("resource_raw String DEFAULT ''")).toEqual({ name: 'resource_raw', type: 'String' });
    expect(() => new NativeEncoder(nativeColumns(['x Float64'], ['x']))).toThrow(/does not write column x of type Float64/);
  });
});

describe('Store.insertNative', () => {
  it('leaves no file behind after an insert, stored or refused', async () => {
    const e = TABLE_ENCODINGS.spans;
    await t.store.insertNative('spans_native', e.columns, encodeNative(e, numbered([{ name: 'kept' } as Partial<SpanRow>]) as object[]));
    expect(insertFiles()).toEqual([]);
    const block = e.native.encode([{ name: 'cut short' }]);
    const refused = await t.store
      .insertNative('spans_native', e.columns, [block.subarray(0, block.length - 3)])
      .catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(StoreError);
    expect(refused).toMatchObject({ code: 'store_failed' });
    const missing = await t.store.insertNative('no_such_table', e.columns, [block]).catch((err: unknown) => err);
    expect(missing).toMatchObject({ code: 'store_failed' });
    expect(insertFiles()).toEqual([]);
  });

  it('removes the insert directory a crashed process left, once untouched for a while, and no other', async () => {
    // A pid no process has (the highest the kernel allows is below 2^22).
    const dead = 4_194_303;
    expect(() => process.kill(dead, 0)).toThrow();
    const stale = `${FILE_BASE}/intentwatch-insert-${dead}-stale`;
    const recent = `${FILE_BASE}/intentwatch-insert-${dead}-recent`;
    for (const dir of [stale, recent]) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(`${dir}/1.native`, 'left by a crash');
    }
    const anHourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(stale, anHourAgo, anHourAgo);
    try {
      // The store looks when it (re)makes its own directory.
      for (const d of insertDirs()) rmSync(`${FILE_BASE}/${d}`, { recursive: true });
      const e = TABLE_ENCODINGS.spans;
      await t.store.insertNative('spans_native', e.columns, encodeNative(e, numbered([{ name: 'after' } as Partial<SpanRow>]) as object[]));
      expect(existsSync(stale)).toBe(false);
      expect(existsSync(recent)).toBe(true);
      expect(insertDirs()).toHaveLength(1);
    } finally {
      rmSync(stale, { recursive: true, force: true });
      rmSync(recent, { recursive: true, force: true });
    }
  });

  it('writes its files in a directory of its own that only this user can enter', () => {
    const dirs = insertDirs();
    expect(dirs).toHaveLength(1);
    expect(statSync(`${FILE_BASE}/${dirs[0]}`).mode & 0o777).toBe(0o700);
  });
});
