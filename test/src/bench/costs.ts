import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ROW_FORMAT,
  TABLE_ENCODINGS,
  decodeProtobufRequest,
  encodeNative,
  encodeRows,
  joinLines,
  normalizeSpans,
  readTraceRequest,
} from '@intentwatch/collector';
import { Store, TABLES, createTableDdl, migrate } from '@intentwatch/core';
import { loadConfig } from '@intentwatch/cli';
import { rowsFor } from './store-task.js';
import { makeFleet, useRequests } from './workload.js';

/**
 * The cost of each step of ingest on its own, in CPU time (which other load on the machine
 * disturbs far less than throughput): the evidence behind "the limits" in BENCHMARKS.md.
 *
 *   node --conditions=source --import tsx test/src/bench/costs.ts [pipeline] [engine]
 *
 * `pipeline`: decode (protobufjs reference and the collector's reader), normalise, encode and
 * join, µs of CPU per span, in this process: JSONCompactEachRow (the server route) and Native
 * (the embedded route: one block per request, nothing to join) in alternate rounds. `engine`: µs of CPU per
 * row for inserting the benchmark's rows into a `Null` table (parsing only), a `MergeTree`
 * without skip indexes and the real `spans` table, by batch size, as JSONCompactEachRow
 * (insertFormatted) and as Native (insertNative, blocks of 512 rows as the collector's writer
 * sends the benchmark's requests; and one block per batch, for comparison).
 */

const NORMALIZE = { keepContextSpans: true, maxAttributes: 128, maxAttributeLength: 4096 };

function cpuUs(f: () => void): number {
  const c = process.cpuUsage();
  f();
  const d = process.cpuUsage(c);
  return d.user + d.system;
}

async function cpuUsAsync(f: () => Promise<void>): Promise<number> {
  const c = process.cpuUsage();
  await f();
  const d = process.cpuUsage(c);
  return d.user + d.system;
}

function pipeline(): void {
  const fleet = makeFleet({ prefix: 'costs', agents: 16, tokensPerAgent: 4, seed: 1 });
  const requests = useRequests(fleet, { requests: 64, spansPerRequest: 512, seed: 2, startMs: Date.now() }).map((r) => Buffer.from(r.body));
  const spans = requests.length * 512;
  const STEPS = ['decode (protobufjs)', 'decode (reader)', 'normalise', 'encode', 'join', 'reader to join'];
  type Route = 'JSON' | 'Native';
  const rounds: Record<Route, Record<string, number>[]> = { JSON: [], Native: [] };
  // The two routes in alternate rounds, each on its own: timed side by side on the same rows, the
  // second encoder would find strings the first one already flattened, and the garbage one leaves
  // is collected while the other runs.
  for (let round = 0; round < 8; round++) {
    for (const route of ['JSON', 'Native'] as const) {
      const t: Record<string, number> = Object.fromEntries(STEPS.map((k) => [k, 0]));
      let pending: string[][] = [];
      for (const body of requests) {
        t['decode (protobufjs)']! += cpuUs(() => decodeProtobufRequest(body));
        let decoded: ReturnType<typeof readTraceRequest> = [];
        t['decode (reader)']! += cpuUs(() => {
          decoded = readTraceRequest(body);
        });
        let rows: ReturnType<typeof normalizeSpans>['rows']['spans'] = [];
        t.normalise! += cpuUs(() => {
          rows = normalizeSpans(decoded, NORMALIZE).rows.spans;
        });
        if (route === 'Native') {
          // One block per request, as the collector's writer encodes a request of this size;
          // blocks need no join.
          t.encode! += cpuUs(() => {
            TABLE_ENCODINGS.spans.native.encode(rows);
          });
          continue;
        }
        t.encode! += cpuUs(() => {
          pending.push(encodeRows(TABLE_ENCODINGS.spans, rows));
        });
        // About four requests a batch, as the collector's writer sees them under load.
        if (pending.length === 4) {
          const lines = pending;
          t.join! += cpuUs(() => joinLines(lines));
          pending = [];
        }
      }
      t['reader to join'] = t['decode (reader)']! + t.normalise! + t.encode! + t.join!;
      rounds[route].push(t);
    }
  }
  // The first rounds warm the JIT up; the fastest of the rest is the cost.
  process.stdout.write(`pipeline, µs of CPU per span (fastest of rounds 3–8, ${spans} spans a round):\n`);
  process.stdout.write(`  ${'step'.padEnd(20)} ${'JSON'.padStart(7)} ${'Native'.padStart(7)}\n`);
  for (const k of STEPS) {
    const best = (route: Route) => (Math.min(...rounds[route].slice(2).map((r) => r[k]!)) / spans).toFixed(2).padStart(7);
    process.stdout.write(`  ${k.padEnd(20)} ${best('JSON')} ${best('Native')}\n`);
  }
}

/** `rows` in whole batches of `size`. */
function slices<T>(rows: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i + size <= rows.length; i += size) out.push(rows.slice(i, i + size));
  return out;
}

async function engine(): Promise<void> {
  const rows = rowsFor({ prefix: 'costs', seed: 1000, agents: 24, tokensPerAgent: 4, requests: 64, spansPerRequest: 512 });
  const dataDir = mkdtempSync(join(tmpdir(), 'iw-bench-costs-'));
  const config = loadConfig({ INTENTWATCH_DATA_DIR: dataDir }, { dotenv: false });
  const store = await Store.open(config);
  try {
    await migrate(store, { retentionDays: config.retentionDays });
    // The spans table as the migrations leave it (columns added by later migrations included), on
    // a Null engine and without its skip indexes.
    const spansDdl = createTableDdl(TABLES.spans.ddl({ retentionDays: 30 }), { database: store.database })[0];
    if (!spansDdl) throw new Error('no spans DDL');
    const withoutIndexes = spansDdl.replace(/,\n\s*INDEX[^,\n]*/g, '');
    await store.command(withoutIndexes.replace('`spans`', '`spans_null`').replace(/ENGINE = [\s\S]*$/, 'ENGINE = Null'));
    await store.command(withoutIndexes.replace('`spans`', '`spans_noidx`'));
    const e = TABLE_ENCODINGS.spans;
    const batches = [1000, 2000, 4000, 8000];
    type Route = { label: string; bodies: (batch: number) => Buffer[][]; insert: (table: string, body: Buffer[]) => Promise<void> };
    const routes: Route[] = [
      {
        label: 'JSONCompactEachRow',
        bodies: (batch) => slices(rows, batch).map((r) => [joinLines([encodeRows(e, r)])]),
        insert: (table, body) => store.insertFormatted(table, e.columns, ROW_FORMAT, body[0]!),
      },
      {
        label: 'Native, 512-row blocks',
        bodies: (batch) => slices(rows, batch).map((r) => encodeNative(e, r, 512)),
        insert: (table, body) => store.insertNative(table, e.columns, body),
      },
      {
        label: 'Native, one block',
        bodies: (batch) => slices(rows, batch).map((r) => encodeNative(e, r)),
        insert: (table, body) => store.insertNative(table, e.columns, body),
      },
    ];
    process.stdout.write('engine, µs of CPU per row (whole process: parse, sort, compress, write, merges), by batch size:\n');
    process.stdout.write(`  ${'table'.padEnd(28)}${'route'.padEnd(26)}${batches.map((b) => String(b).padStart(8)).join('')}\n`);
    for (const [table, label] of [
      ['spans_null', 'Null (parse only)'],
      ['spans_noidx', 'MergeTree, no skip indexes'],
      ['spans', 'spans (the real table)'],
    ] as const) {
      for (const route of routes) {
        const cells: string[] = [];
        for (const batch of batches) {
          const bodies = route.bodies(batch);
          await route.insert(table, bodies[0]!);
          let inserted = 0;
          const started = performance.now();
          const us = await cpuUsAsync(async () => {
            for (let i = 0; performance.now() - started < 4000; i++) {
              await route.insert(table, bodies[i % bodies.length]!);
              inserted += batch;
            }
          });
          cells.push((us / inserted).toFixed(1).padStart(8));
        }
        process.stdout.write(`  ${label.padEnd(28)}${route.label.padEnd(26)}${cells.join('')}\n`);
      }
    }
  } finally {
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const parts = process.argv.slice(2);
const all = parts.length === 0;
if (all || parts.includes('pipeline')) pipeline();
if (all || parts.includes('engine')) await engine();
