import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Monitor, cpuSeconds, rssMb } from './monitor.js';
import { Sender, runStoreTask } from './procs.js';
import type { RunStats } from './sender.js';
import type { CountResult, RawInsertResult } from './store-task.js';
import { summarizeLatencies } from './stats.js';
import { lifecycleRequests, makeFleet } from './workload.js';

/**
 * `npm run bench [-- --quick] [-- --json FILE]`: the performance figures of BENCHMARKS.md,
 * measured side by side in one run. See BENCHMARKS.md for what each phase does.
 */

interface Options {
  quick: boolean;
  json: string | undefined;
  fromSource: boolean;
  build: boolean;
  profile: boolean;
  senders: number;
  concurrency: number;
  spansPerRequest: number;
  ingestMs: number;
  warmupMs: number;
  rawMs: number;
  keep: boolean;
}

function parseArgs(argv: string[]): Options {
  const quick = argv.includes('--quick');
  const value = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const num = (name: string, fallback: number) => {
    const v = value(name);
    return v === undefined ? fallback : Number(v);
  };
  return {
    quick,
    json: value('--json'),
    fromSource: argv.includes('--source'),
    build: !argv.includes('--no-build') && !argv.includes('--source'),
    profile: argv.includes('--profile'),
    senders: num('--senders', 2),
    concurrency: num('--concurrency', 4),
    spansPerRequest: num('--spans-per-request', 512),
    ingestMs: num('--ingest-seconds', quick ? 15 : 60) * 1000,
    warmupMs: num('--warmup-seconds', quick ? 3 : 5) * 1000,
    rawMs: num('--raw-seconds', quick ? 8 : 20) * 1000,
    keep: argv.includes('--keep'),
  };
}

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

function machine() {
  const cpu = cpus();
  return {
    nproc: Number(execFileSync('nproc').toString().trim()),
    cpuModel: cpu[0]?.model ?? 'unknown',
    memoryGb: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
}

function merge(stats: RunStats[]): RunStats {
  const out: RunStats = { requests: 0, spansSent: 0, spansAccepted: 0, spansRejected: 0, failures: {}, elapsedMs: 0, requestLatencyMs: [] };
  for (const s of stats) {
    out.requests += s.requests;
    out.spansSent += s.spansSent;
    out.spansAccepted += s.spansAccepted;
    out.spansRejected += s.spansRejected;
    out.elapsedMs = Math.max(out.elapsedMs, s.elapsedMs);
    for (const [k, v] of Object.entries(s.failures)) out.failures[k] = (out.failures[k] ?? 0) + v;
    for (const l of s.requestLatencyMs) out.requestLatencyMs.push(l);
  }
  return out;
}

async function postProtobuf(url: string, body: Uint8Array): Promise<void> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body });
  if (res.status !== 200) throw new Error(`POST ${url}: ${res.status} ${await res.text()}`);
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const started = Date.now();
  if (o.build) {
    log('building (npm run build)');
    execFileSync('npm', ['run', 'build', '--silent'], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' },
    });
  }
  const work = mkdtempSync(join(tmpdir(), 'iw-bench-'));
  const results: Record<string, unknown> = {
    machine: machine(),
    mode: o.quick ? 'quick' : 'full',
    startedAt: new Date(started).toISOString(),
  };
  let spansExpected = 0;
  const fleets = Array.from({ length: o.senders }, (_, i) => ({
    prefix: `ingest-${i}`,
    seed: 1000 + i * 17,
    agents: 24,
    tokensPerAgent: 4,
  }));
  const requestsPerSender = o.quick ? 48 : 96;

  log(`monitor: starting (${o.fromSource ? 'sources via tsx' : 'cli/dist'}), data in ${work}/monitor`);
  const monitor = await Monitor.start({
    root: ROOT,
    dataDir: join(work, 'monitor'),
    fromSource: o.fromSource,
    nodeFlags: o.profile ? ['--cpu-prof', `--cpu-prof-dir=${join(work, 'profile')}`] : [],
  });
  const senders = fleets.map(() => new Sender(ROOT));
  try {
    // Grants first, so that every use in the load is governed.
    for (const f of fleets) {
      const life = lifecycleRequests(makeFleet(f), Date.now(), f.seed + 7);
      for (const body of life) await postProtobuf(`${monitor.otlpUrl}/v1/traces`, body);
    }
    const prepared = await Promise.all(
      senders.map((s, i) =>
        s.prepare({ url: `${monitor.otlpUrl}/v1/traces`, ...fleets[i]!, requests: requestsPerSender, spansPerRequest: o.spansPerRequest }),
      ),
    );
    const poolBytes = prepared.reduce((n, p) => n + p.bytes, 0);
    const poolSpans = prepared.reduce((n, p) => n + p.spans, 0);
    log(
      `senders ready: ${o.senders} × ${o.concurrency} exporters, ${poolSpans} distinct spans, ${Math.round(poolBytes / poolSpans)} B/span`,
    );

    // ---- 1. ingest: as fast as the monitor answers
    log(`ingest: warm-up ${o.warmupMs / 1000} s`);
    const warm = merge(
      await Promise.all(senders.map((s) => s.run({ concurrency: o.concurrency, durationMs: o.warmupMs, spansPerSec: 0 }))),
    );
    spansExpected += warm.spansAccepted;
    const before = await monitor.metrics();
    const cpu0 = cpuSeconds(monitor.pid) ?? 0;
    const rssSamples: number[] = [];
    const sampler = setInterval(() => {
      const r = rssMb(monitor.pid);
      if (r !== undefined) rssSamples.push(r);
    }, 500);
    log(`ingest: measuring ${o.ingestMs / 1000} s`);
    const ingest = merge(
      await Promise.all(senders.map((s) => s.run({ concurrency: o.concurrency, durationMs: o.ingestMs, spansPerSec: 0 }))),
    );
    clearInterval(sampler);
    const cpu1 = cpuSeconds(monitor.pid) ?? 0;
    const after = await monitor.metrics();
    spansExpected += ingest.spansAccepted;
    const delta = (k: string) => (after.get(k) ?? 0) - (before.get(k) ?? 0);
    const insertedRows = delta('intentwatch_rows_inserted_total{table="spans"}');
    const inserts = delta('intentwatch_insert_duration_seconds_count{table="spans"}');
    const meanBatch = inserts > 0 ? insertedRows / inserts : o.spansPerRequest;
    const spansPerSec = (ingest.spansAccepted / ingest.elapsedMs) * 1000;
    const ingestDetails = {
      spansPerSec: Math.round(spansPerSec),
      accepted: ingest.spansAccepted,
      rejected: ingest.spansRejected,
      failures: ingest.failures,
      seconds: Math.round(ingest.elapsedMs) / 1000,
      requests: ingest.requests,
      requestLatency: summarizeLatencies(ingest.requestLatencyMs),
      meanInsertBatchRows: Math.round(meanBatch),
      insertSecondsPerBatch: inserts > 0 ? delta('intentwatch_insert_duration_seconds_sum{table="spans"}') / inserts : null,
      monitorCpuCores: Math.round(((cpu1 - cpu0) / (ingest.elapsedMs / 1000)) * 100) / 100,
      monitorRssPeakMb: Math.round(Math.max(0, ...rssSamples)),
      senders: o.senders,
      exportersPerSender: o.concurrency,
      spansPerRequest: o.spansPerRequest,
      bytesPerSpan: Math.round(poolBytes / poolSpans),
    };
    log(
      `ingest: ${ingestDetails.spansPerSec} spans/s, mean insert batch ${ingestDetails.meanInsertBatchRows} rows, monitor CPU ${ingestDetails.monitorCpuCores} cores`,
    );
    results.ingestRun = ingestDetails;
  } finally {
    for (const s of senders) s.stop();
    log('monitor: stopping');
    await monitor.stop();
  }

  // ---- stored count: every accepted span must be in the store
  const counted = await runStoreTask<CountResult>({ kind: 'count', dataDir: join(work, 'monitor') }, ROOT);
  results.stored = { expectedSpans: spansExpected, storedSpans: counted.spans, lost: spansExpected - counted.spans, ...counted };
  log(`stored: ${counted.spans} spans of ${spansExpected} accepted`);

  // ---- raw insert of the same rows, same batch size, in a process of its own
  const ingestRun = results.ingestRun as { meanInsertBatchRows: number; spansPerSec: number };
  const f0 = fleets[0]!;
  log(`raw insert: ${o.rawMs / 1000} s, batches of ${ingestRun.meanInsertBatchRows} rows`);
  const raw = await runStoreTask<RawInsertResult>(
    {
      kind: 'raw-insert',
      ...f0,
      requests: requestsPerSender,
      spansPerRequest: o.spansPerRequest,
      batchRows: ingestRun.meanInsertBatchRows,
      durationMs: o.rawMs,
    },
    ROOT,
  );
  results.ingest = {
    spansPerSec: ingestRun.spansPerSec,
    rawInsertPerSec: Math.round(raw.rowsPerSec),
    ratio: Math.round((ingestRun.spansPerSec / raw.rowsPerSec) * 1000) / 1000,
    raw,
    ...(results.ingestRun as object),
  };
  delete results.ingestRun;
  results.elapsedSeconds = Math.round((Date.now() - started) / 1000);

  printTable(results);
  if (o.json) writeFileSync(o.json, `${JSON.stringify(results, null, 2)}\n`);
  if (!o.keep) rmSync(work, { recursive: true, force: true });
  else log(`kept ${work}`);
}

function printTable(r: Record<string, unknown>): void {
  const ingest = r.ingest as { spansPerSec: number; rawInsertPerSec: number; ratio: number; meanInsertBatchRows: number };
  const stored = r.stored as { expectedSpans: number; storedSpans: number };
  const rows: [string, string, string][] = [
    ['ingest through the collector', `${ingest.spansPerSec} spans/s`, '≥ 20,000'],
    ['raw insert, same rows and batch', `${ingest.rawInsertPerSec} rows/s`, ''],
    ['ingest ratio', `${ingest.ratio}`, '≥ 0.6'],
    ['stored / accepted', `${stored.storedSpans} / ${stored.expectedSpans}`, 'equal'],
  ];
  const w = [Math.max(...rows.map((x) => x[0].length)), Math.max(...rows.map((x) => x[1].length))];
  process.stdout.write('\n');
  for (const [a, b, c] of rows) process.stdout.write(`${a.padEnd(w[0]!)}  ${b.padStart(w[1]!)}  ${c}\n`);
  process.stdout.write('\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
