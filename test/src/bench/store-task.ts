import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  ROW_FORMAT,
  type SpanRow,
  TABLE_ENCODINGS,
  type TaskEventRow,
  type TokenEventRow,
  encodeNative,
  encodeRows,
  joinLines,
  normalizeSpans,
  readTraceRequest,
  usageCountsOf,
} from '@intentwatch/collector';
import { Store, migrate, msToRfc3339 } from '@intentwatch/core';
import { type Config, loadConfig } from '@intentwatch/cli';
import { DETECTORS, DetectorRunner } from '@intentwatch/detectors';
import { lifecycleRequests, makeFleet, useRequests } from './workload.js';

/**
 * Work the harness does directly on a store, each in a process of its own because an embedded
 * store belongs to one process:
 * - `raw-insert` (driven over IPC, `--serve`): the raw insert rate of the benchmark's rows —
 *   the store's own limit, through the collector's own encoder and insert call (Native blocks
 *   through a file on the embedded store, JSONCompactEachRow on a server, as the collector's
 *   writer does), minus HTTP, decoding, normalising and batching;
 * - `count`: what the monitor stored, once it has stopped;
 * - `growth`: detector run time over a fixed batch of new spans with growing history.
 * One-shot tasks run as `node … store-task.ts '<json task>'`; the last stdout line is the result.
 */

export interface FleetSpec {
  prefix: string;
  seed: number;
  agents: number;
  tokensPerAgent: number;
  requests: number;
  spansPerRequest: number;
}

export interface CountTask {
  kind: 'count';
  dataDir: string;
}

export interface GrowthTask {
  kind: 'growth';
  /** History sizes, ascending (spans already stored before the batch). */
  histories: number[];
  /** Spans in the batch of new data each run examines. */
  batchSpans: number;
  /** Runs per history size; the median is reported. */
  repeats: number;
}

export type StoreTask = CountTask | GrowthTask;

export interface RawInsertRun {
  rows: number;
  batches: number;
  elapsedMs: number;
  rowsPerSec: number;
  batchMsP50: number;
  /** CPU time of the whole process (JS and engine threads) per 1,000 rows. */
  cpuMsPerKRows: number;
}

export interface CountResult {
  spans: number;
  tokenEvents: number;
  taskEvents: number;
}

export interface GrowthPoint {
  historySpans: number;
  /**
   * The sum of every detector's run over the batch, fastest of the repeats: other load on the
   * machine only ever adds to a run, so the fastest is the closest to its own cost.
   */
  runMs: number;
  medianRunMs: number;
  /** CPU time of the process (JavaScript and engine threads) over the run, fastest of the repeats. */
  cpuMs: number;
  perDetectorMs: Record<string, number>;
  findings: number;
  findingsBy: Record<string, number>;
  insertHistorySeconds: number;
}

export interface GrowthResult {
  batchSpans: number;
  points: GrowthPoint[];
  /** Largest median run time over the smallest. */
  ratio: number;
  /** The same for CPU time, which a busy machine disturbs less. */
  cpuRatio: number;
}

const NORMALIZE = { keepContextSpans: true, maxAttributes: 128, maxAttributeLength: 4096 };

/** The `spans` rows the collector would build from the requests a sender with this spec sends. */
export function rowsFor(spec: FleetSpec, startMs = Date.now()): SpanRow[] {
  const fleet = makeFleet(spec);
  const requests = useRequests(fleet, { requests: spec.requests, spansPerRequest: spec.spansPerRequest, seed: spec.seed + 1, startMs });
  const rows: SpanRow[] = [];
  for (const r of requests) for (const row of normalizeSpans(readTraceRequest(r.body), NORMALIZE).rows.spans) rows.push(row);
  return rows;
}

async function openStore(dataDir: string): Promise<{ store: Store; config: Readonly<Config> }> {
  const config = loadConfig({ INTENTWATCH_DATA_DIR: dataDir, LOG_LEVEL: 'warn' }, { dotenv: false });
  const store = await Store.open(config);
  await migrate(store, { retentionDays: config.retentionDays });
  return { store, config };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

/**
 * Inserts rows through the collector's path: on the embedded store, Native blocks of 512 rows
 * (the collector's writer encodes each request into a block, and the benchmark's requests are
 * 512 spans) and insertNative; on a server, encode, join, insertFormatted.
 */
function inserter(store: Store, key: 'spans' | 'tokenEvents' | 'taskEvents') {
  const e = TABLE_ENCODINGS[key];
  if (store.nativeInsert) return (rows: readonly object[]) => store.insertNative(e.table, e.columns, encodeNative(e, rows, 512));
  return (rows: readonly object[]) => store.insertFormatted(e.table, e.columns, ROW_FORMAT, joinLines([encodeRows(e, rows)]));
}

/** The raw-insert process: prepares the rows and a store, then inserts for as long as it is told. */
function serveRawInsert(): void {
  let store: Store | undefined;
  let rows: SpanRow[] = [];
  let dataDir = '';
  let next = 0;
  const reply = (m: object) => process.send?.(m);
  // The harness went away: close the store (an insert may still be running), remove its dir, exit.
  process.on('disconnect', () => {
    setTimeout(() => process.exit(0), 5000).unref();
    void (async () => {
      await store?.close().catch(() => undefined);
      try {
        if (dataDir) rmSync(dataDir, { recursive: true, force: true });
      } catch {
        // Left behind in the temp dir; nothing depends on it.
      }
      process.exit(0);
    })();
  });
  process.on('message', (m: { type: string; spec?: FleetSpec; durationMs?: number; batchRows?: number }) => {
    void (async () => {
      if (m.type === 'prepare' && m.spec) {
        rows = rowsFor(m.spec);
        dataDir = mkdtempSync(join(tmpdir(), 'iw-bench-raw-'));
        store = (await openStore(dataDir)).store;
        // An untimed insert first: code loading and the first part are not the steady rate.
        await inserter(store, 'spans')(rows.slice(0, 1000));
        reply({ type: 'ready', rows: rows.length });
      } else if (m.type === 'run' && store) {
        const insert = inserter(store, 'spans');
        const batchRows = Math.max(1, Math.min(m.batchRows ?? 2000, rows.length));
        const times: number[] = [];
        let inserted = 0;
        const cpu0 = process.cpuUsage();
        const started = performance.now();
        const deadline = started + (m.durationMs ?? 5000);
        while (performance.now() < deadline) {
          if (next + batchRows > rows.length) next = 0;
          const batch = rows.slice(next, next + batchRows);
          next += batchRows;
          const t0 = performance.now();
          await insert(batch);
          times.push(performance.now() - t0);
          inserted += batch.length;
        }
        const elapsedMs = performance.now() - started;
        const cpu = process.cpuUsage(cpu0);
        const run: RawInsertRun = {
          rows: inserted,
          batches: times.length,
          elapsedMs,
          rowsPerSec: (inserted / elapsedMs) * 1000,
          batchMsP50: median(times),
          cpuMsPerKRows: (cpu.user + cpu.system) / inserted,
        };
        reply({ type: 'done', run });
      } else if (m.type === 'exit') {
        await store?.close();
        if (dataDir) rmSync(dataDir, { recursive: true, force: true });
        process.exit(0);
      }
    })().catch((e: unknown) => {
      process.stderr.write(`raw insert: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    });
  });
}

async function count(task: CountTask): Promise<CountResult> {
  const { store } = await openStore(task.dataDir);
  try {
    const n = async (table: string) => Number((await store.query<{ n: string }>(`SELECT count() AS n FROM ${table}`))[0]?.n ?? 0);
    return { spans: await n('spans'), tokenEvents: await n('token_events'), taskEvents: await n('task_events') };
  } finally {
    await store.close();
  }
}

const HISTORY_TOKENS = 10_000;
const HISTORY_AGENTS = 1_000;

/**
 * History written by the engine itself (INSERT … SELECT FROM numbers()), ingested between
 * `fromMs` and `toMs` — long before any watermark — by agents and tokens of its own that were
 * granted, so that it is ordinary past traffic. Spans number `first` to `first + n - 1`.
 */
async function insertHistory(store: Store, first: number, n: number, fromMs: number, toMs: number): Promise<void> {
  const chunk = 1_000_000;
  const numbered = `(SELECT number, toDateTime64(({fromMs:Int64} + intDiv((number - {first:UInt64}) * ({toMs:Int64} - {fromMs:Int64}), {n:UInt64})) / 1000, 3, 'UTC') AS t
             FROM numbers({at:UInt64}, {size:UInt64}))`;
  for (let at = first; at < first + n; at += chunk) {
    const size = Math.min(chunk, first + n - at);
    await store.command(
      `INSERT INTO spans (time, end_time, ingested_at, trace_id, span_id, parent_span_id, name, kind, token_id, task_id, agent_id,
         workload_id, caller, target, action, environment, scopes, resource, tool, scope_name, attributes, resource_attributes)
       SELECT
         t - toIntervalMillisecond(120) AS time, t AS end_time, t AS ingested_at,
         lower(concat(hex(cityHash64(number, 1)), hex(cityHash64(number, 2)))) AS trace_id,
         lower(hex(cityHash64(number, 3))) AS span_id, '' AS parent_span_id,
         'GET /repos/{owner}/{repo}/contents/{path}' AS name, 3 AS kind,
         concat('hist-tok-', toString(number % ${HISTORY_TOKENS})) AS token_id,
         concat('hist-task-', toString(number % ${HISTORY_TOKENS})) AS task_id,
         concat('hist-agent-', toString(number % ${HISTORY_AGENTS})) AS agent_id,
         concat('spiffe://bench.example/agent/hist-agent-', toString(number % ${HISTORY_AGENTS})) AS workload_id,
         concat('hist-agent-', toString(number % ${HISTORY_AGENTS})) AS caller,
         'api.github.com' AS target, 'github.get_file' AS action, 'production' AS environment,
         ['repo:read'] AS scopes, concat('org/hist-', toString(number % ${HISTORY_TOKENS}), '/src/f.ts') AS resource,
         'github.get_file' AS tool, '@intentwatch/bench' AS scope_name,
         map('token.id', token_id, 'gen_ai.agent.id', agent_id, 'token.scope', 'repo:read', 'server.address', 'api.github.com',
             'gen_ai.tool.call.id', concat('call_', toString(number))) AS attributes,
         map('service.name', agent_id, 'deployment.environment.name', 'production', 'host.name', 'worker-1') AS resource_attributes
       FROM ${numbered}`,
      { fromMs, toMs, first, n, at, size },
    );
    // Their usage counts, as the collector writes them with the spans it stores.
    await store.command(
      `INSERT INTO usage_counts (agent_id, token_id, second, requests, targets, ingested_from)
       SELECT concat('hist-agent-', toString(number % ${HISTORY_AGENTS})) AS agent_id, concat('hist-tok-', toString(number % ${HISTORY_TOKENS})) AS token_id,
         toStartOfSecond(t - toIntervalMillisecond(120)) AS second, count(), ['api.github.com'], min(t)
       FROM ${numbered}
       GROUP BY agent_id, token_id, second`,
      { fromMs, toMs, first, n, at, size },
    );
  }
}

async function growth(task: GrowthTask): Promise<GrowthResult> {
  const dataDir = mkdtempSync(join(tmpdir(), 'iw-bench-growth-'));
  const { store, config } = await openStore(dataDir);
  try {
    const base = Date.now();
    // Timeline: grants 4 days ago, history from 3.5 days to 1 day ago, then one batch every
    // 61 minutes from `base - 23 h` (each run's clock is set after its batch). Batches an hour
    // apart never share usage_anomaly's one-hour baseline, so a repeat is not scored against
    // the previous ones and every run does the same work.
    await store.command(
      `INSERT INTO token_events (time, ingested_at, event, token_id, task_id, agent_id, workload_id, audience, scopes, resources,
         expires_at, max_session_s, environment, caller, source)
       SELECT t, t, 'issued', concat('hist-tok-', toString(number)), concat('hist-task-', toString(number)),
         concat('hist-agent-', toString(number % ${HISTORY_AGENTS})),
         concat('spiffe://bench.example/agent/hist-agent-', toString(number % ${HISTORY_AGENTS})),
         ['api.github.com'], ['repo:read'], [concat('org/hist-', toString(number), '/**')],
         t + toIntervalDay(10), 864000, 'production', 'token-broker', 'otlp'
       FROM (SELECT number, toDateTime64({at:Int64} / 1000, 3, 'UTC') AS t FROM numbers(${HISTORY_TOKENS}))`,
      { at: base - 4 * 86_400_000 },
    );
    // The batch: the benchmark's own rows, with their grants (also long ago).
    const spec: FleetSpec = {
      prefix: 'growth',
      seed: 4242,
      agents: 24,
      tokensPerAgent: 4,
      requests: Math.ceil(task.batchSpans / 512),
      spansPerRequest: 512,
    };
    const fleet = makeFleet(spec);
    // Granted long ago for long enough (expiry, session limit, task deadline) that the batch is benign.
    const grants: TokenEventRow[] = [];
    const tasks: TaskEventRow[] = [];
    const longAgo = base - 4 * 86_400_000;
    const later = msToRfc3339(base + 86_400_000);
    for (const body of lifecycleRequests(fleet, longAgo, 1)) {
      const rows = normalizeSpans(readTraceRequest(body), NORMALIZE, longAgo).rows;
      for (const g of rows.tokenEvents) grants.push({ ...g, expires_at: later, max_session_s: 10 * 86_400 });
      for (const t of rows.taskEvents) tasks.push({ ...t, deadline: later });
    }
    await inserter(store, 'tokenEvents')(grants);
    await inserter(store, 'taskEvents')(tasks);
    const batch = rowsFor(spec).slice(0, task.batchSpans);
    const batchStart = Math.min(...batch.map((r) => Date.parse(r.time)));

    const runner = new DetectorRunner(store, config);
    const points: GrowthPoint[] = [];
    let stored = 0;
    let slot = 0;
    for (const history of task.histories) {
      const t0 = performance.now();
      await insertHistory(store, stored, history - stored, base - 84 * 3_600_000, base - 24 * 3_600_000);
      const insertHistorySeconds = (performance.now() - t0) / 1000;
      stored = history;
      const totals: number[] = [];
      const cpuTotals: number[] = [];
      const per: Record<string, number[]> = {};
      let findings = 0;
      const findingsBy: Record<string, number> = {};
      // Unrecorded runs before the first point: the first runs of a fresh engine are slower
      // (query compilation, caches), which would read as a history effect.
      const warmup = points.length === 0 ? 4 : 0;
      for (let r = -warmup; r < task.repeats; r++) {
        const at = base - 23 * 3_600_000 + slot++ * 61 * 60_000;
        // The same rows each time, moved to this slot: a new batch in a window of its own.
        const shifted = batch.map((row) => ({
          ...row,
          time: msToRfc3339(at - 1000 + (Date.parse(row.time) - batchStart)),
          end_time: msToRfc3339(at - 900 + (Date.parse(row.time) - batchStart)),
          ingested_at: msToRfc3339(at),
        }));
        await inserter(store, 'spans')(shifted);
        await store.insert('usage_counts', usageCountsOf(shifted));
        runner.forgetWatermarks();
        for (const d of DETECTORS) await runner.watermarks.set(d.id, at - 1);
        // The run's clock: late enough that every detector's window (after its settle time) holds the batch.
        const now = at + config.graceMs + 1000;
        let total = 0;
        const cpu0 = process.cpuUsage();
        for (const d of DETECTORS) {
          const started = performance.now();
          const report = await runner.runOnce(d, now);
          const ms = performance.now() - started;
          if (r < 0) continue;
          total += ms;
          per[d.id] = [...(per[d.id] ?? []), ms];
          findings += report.findings;
          if (report.findings > 0) findingsBy[d.id] = (findingsBy[d.id] ?? 0) + report.findings;
        }
        const cpu = process.cpuUsage(cpu0);
        if (r >= 0) {
          totals.push(total);
          cpuTotals.push((cpu.user + cpu.system) / 1000);
        }
      }
      points.push({
        historySpans: history,
        runMs: Math.round(Math.min(...totals) * 10) / 10,
        medianRunMs: Math.round(median(totals) * 10) / 10,
        cpuMs: Math.round(Math.min(...cpuTotals) * 10) / 10,
        perDetectorMs: Object.fromEntries(Object.entries(per).map(([k, v]) => [k, Math.round(Math.min(...v) * 10) / 10])),
        findings,
        findingsBy,
        insertHistorySeconds: Math.round(insertHistorySeconds * 10) / 10,
      });
    }
    const ratio = (xs: number[]) => Math.round((Math.max(...xs) / Math.min(...xs)) * 100) / 100;
    return { batchSpans: batch.length, points, ratio: ratio(points.map((p) => p.runMs)), cpuRatio: ratio(points.map((p) => p.cpuMs)) };
  } finally {
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function runStoreTask(task: StoreTask): Promise<unknown> {
  switch (task.kind) {
    case 'count':
      return count(task);
    case 'growth':
      return growth(task);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv[2] === '--serve') serveRawInsert();
  else {
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
}
