import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  ROW_FORMAT,
  TABLE_ENCODINGS,
  decodeProtobufRequest,
  encodeRows,
  joinLines,
  normalizeSpans,
  type SpanRow,
} from '@intentwatch/collector';
import { Store, loadConfig, migrate } from '@intentwatch/core';
import { makeFleet, useRequests } from './workload.js';

/**
 * Work the harness does directly on a store, each in a process of its own because an embedded
 * store belongs to one process: the raw insert rate (the store's own limit for our rows), and
 * counting what the monitor stored once it has stopped. Run as
 * `node … store-task.ts '<json task>'`; the last stdout line is the JSON result.
 */

export interface RawInsertTask {
  kind: 'raw-insert';
  dataDir?: string;
  prefix: string;
  seed: number;
  agents: number;
  tokensPerAgent: number;
  requests: number;
  spansPerRequest: number;
  batchRows: number;
  durationMs: number;
}

export interface CountTask {
  kind: 'count';
  dataDir: string;
}

export type StoreTask = RawInsertTask | CountTask;

export interface RawInsertResult {
  rows: number;
  batches: number;
  elapsedMs: number;
  rowsPerSec: number;
  batchMsP50: number;
}

export interface CountResult {
  spans: number;
  tokenEvents: number;
  taskEvents: number;
}

const NORMALIZE = { keepContextSpans: true, maxAttributes: 128, maxAttributeLength: 4096 };

/** The `spans` rows the collector would build from the same requests a sender sends. */
export function rowsFor(
  task: Pick<RawInsertTask, 'prefix' | 'seed' | 'agents' | 'tokensPerAgent' | 'requests' | 'spansPerRequest'>,
): SpanRow[] {
  const fleet = makeFleet({ prefix: task.prefix, agents: task.agents, tokensPerAgent: task.tokensPerAgent, seed: task.seed });
  const requests = useRequests(fleet, {
    requests: task.requests,
    spansPerRequest: task.spansPerRequest,
    seed: task.seed + 1,
    startMs: Date.now(),
  });
  const rows: SpanRow[] = [];
  for (const r of requests) for (const row of normalizeSpans(decodeProtobufRequest(r.body), NORMALIZE).rows.spans) rows.push(row);
  return rows;
}

async function openStore(dataDir: string): Promise<Store> {
  const config = loadConfig({ INTENTWATCH_DATA_DIR: dataDir }, { dotenv: false });
  const store = await Store.open(config);
  await migrate(store, { retentionDays: config.retentionDays });
  return store;
}

async function rawInsert(task: RawInsertTask): Promise<RawInsertResult> {
  const rows = rowsFor(task);
  const dataDir = task.dataDir ?? mkdtempSync(join(tmpdir(), 'iw-bench-raw-'));
  const store = await openStore(dataDir);
  try {
    const batches: SpanRow[][] = [];
    for (let i = 0; i + task.batchRows <= rows.length; i += task.batchRows) batches.push(rows.slice(i, i + task.batchRows));
    if (batches.length === 0) batches.push(rows);
    // The collector's own insert path, minus HTTP, decoding, normalising and batching: encode the
    // rows, hand the bytes to the store. One untimed batch first (code loading, first part).
    const e = TABLE_ENCODINGS.spans;
    const insert = (batch: SpanRow[]) => store.insertFormatted(e.table, e.columns, ROW_FORMAT, joinLines([encodeRows(e, batch)]));
    await insert(batches[0]!);
    const times: number[] = [];
    let inserted = 0;
    const started = performance.now();
    const deadline = started + task.durationMs;
    for (let i = 0; performance.now() < deadline; i++) {
      const batch = batches[i % batches.length]!;
      const t0 = performance.now();
      await insert(batch);
      times.push(performance.now() - t0);
      inserted += batch.length;
    }
    const elapsedMs = performance.now() - started;
    times.sort((a, b) => a - b);
    return {
      rows: inserted,
      batches: times.length,
      elapsedMs,
      rowsPerSec: (inserted / elapsedMs) * 1000,
      batchMsP50: times[Math.floor(times.length / 2)] ?? 0,
    };
  } finally {
    await store.close();
    if (!task.dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
}

async function count(task: CountTask): Promise<CountResult> {
  const store = await openStore(task.dataDir);
  try {
    const n = async (table: string) => Number((await store.query<{ n: string }>(`SELECT count() AS n FROM ${table}`))[0]?.n ?? 0);
    return { spans: await n('spans'), tokenEvents: await n('token_events'), taskEvents: await n('task_events') };
  } finally {
    await store.close();
  }
}

export async function runStoreTask(task: StoreTask): Promise<unknown> {
  switch (task.kind) {
    case 'raw-insert':
      return rawInsert(task);
    case 'count':
      return count(task);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runStoreTask(JSON.parse(process.argv[2] ?? '{}') as StoreTask)
    .then((result) => {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      process.exit(0);
    })
    .catch((e: unknown) => {
      process.stderr.write(`store-task: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    });
}
