import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readTraceRequest } from '@intentwatch/collector';
import { DETECTOR_IDS, type Episode, makeEpisode } from './episodes.js';
import { hostileCases, runHostile } from './hostile.js';
import { Monitor, cpuSeconds, rssParts, threadCount, threadCpuSeconds } from './monitor.js';
import { Sender, runStoreTask } from './procs.js';
import { RawInserter } from './raw-insert.js';
import type { RunStats } from './sender.js';
import { type Detection, detectionQuality, leastSquaresSlope, percentile, summarizeLatencies } from './stats.js';
import type { CountResult, FleetSpec, GrowthResult } from './store-task.js';
import { WebhookReceiver } from './webhook-receiver.js';
import { lifecycleRequests, makeFleet } from './workload.js';

/**
 * `npm run bench [-- --quick] [-- --json FILE]`: the figures of BENCHMARKS.md, measured side by
 * side in one run. Phases:
 *  1. sustained load at a stated rate with injected violations of every detector: alert and
 *     revoke webhook latency, detection quality, monitor RSS;
 *  2. ingest — rounds that alternate the raw insert rate of the benchmark's rows (a process of
 *     its own, own data dir) with the rate through the collector of the monitor (`intentwatch
 *     all`, detectors running), so that both see the same machine load; each round then sends
 *     CloudTrail records through `/v1/logs` (audit-logs.ts): records/s beside spans/s;
 *  3. after the monitor stopped: every accepted span is in its store;
 *  4. cost growth: detector run time over a fixed batch with 10^5…10^7 spans of history;
 *  5. hostile load (before 3): the monitor's event-loop delay and /healthz latency while maximal
 *     legal requests and the kilobyte-sized hostile bodies of issue 12 arrive (hostile.ts).
 *
 * `--only hostile` (or any comma-separated list of latency, ingest, count, growth, hostile) runs
 * just those phases; `--skip …` leaves phases out.
 */

interface Options {
  quick: boolean;
  json: string | undefined;
  fromSource: boolean;
  build: boolean;
  profile: boolean;
  keep: boolean;
  senders: number;
  concurrency: number;
  spansPerRequest: number;
  logRecordsPerRequest: number;
  logsMs: number;
  rounds: number;
  roundMs: number;
  rawMs: number;
  warmupMs: number;
  sustainMs: number;
  rate: number;
  episodeEveryMs: number;
  growthHistories: number[];
  growthBatch: number;
  hostileRequests: number;
  /** Only the hostile cases whose name contains this text (investigation). */
  hostileCases: string | undefined;
  skip: Set<string>;
  monitorNodeFlags: string[];
  monitorEnv: Record<string, string>;
  /** Another checkout to run the monitor from (a before/after comparison); the harness stays this one. */
  monitorRoot: string;
}

function parseArgs(argv: string[]): Options {
  const quick = argv.includes('--quick');
  const value = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const num = (name: string, fallback: number) => {
    const v = value(name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`${name} needs a number (got ${v})`);
    return n;
  };
  return {
    quick,
    json: value('--json'),
    fromSource: argv.includes('--source'),
    build: !argv.includes('--no-build') && !argv.includes('--source'),
    profile: argv.includes('--profile'),
    keep: argv.includes('--keep'),
    senders: num('--senders', 2),
    concurrency: num('--concurrency', 4),
    spansPerRequest: num('--spans-per-request', 512),
    logRecordsPerRequest: num('--log-records-per-request', 512),
    logsMs: num('--logs-seconds', quick ? 3 : 6) * 1000,
    rounds: num('--rounds', quick ? 3 : 5),
    roundMs: num('--round-seconds', quick ? 5 : 12) * 1000,
    rawMs: num('--raw-seconds', quick ? 3 : 6) * 1000,
    warmupMs: num('--warmup-seconds', quick ? 2 : 5) * 1000,
    sustainMs: num('--sustain-seconds', quick ? 45 : 300) * 1000,
    rate: num('--rate', 5_000),
    episodeEveryMs: num('--episode-every-seconds', quick ? 2 : 2) * 1000,
    growthHistories: quick ? [1e4, 1e5, 1e6] : [1e5, 1e6, 1e7],
    growthBatch: num('--growth-batch', 10_000),
    hostileRequests: num('--hostile-requests', quick ? 2 : 4),
    hostileCases: value('--hostile-cases'),
    skip: skipped(value('--skip'), value('--only')),
    monitorNodeFlags: (value('--monitor-node-flags') ?? '').split(' ').filter(Boolean),
    monitorRoot: value('--monitor-root') ?? ROOT,
    monitorEnv: Object.fromEntries(
      argv.flatMap((a, i) =>
        argv[i - 1] === '--monitor-env' && a.includes('=') ? [[a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]] : [],
      ),
    ),
  };
}

const PHASES = ['latency', 'ingest', 'count', 'growth', 'hostile'];

/** The phases left out: those of --skip, or all but those of --only. */
function skipped(skip: string | undefined, only: string | undefined): Set<string> {
  const list = (v: string | undefined) => (v ?? '').split(',').filter(Boolean);
  for (const p of [...list(skip), ...list(only)]) {
    if (!PHASES.includes(p)) throw new Error(`unknown phase ${p}: expected one of ${PHASES.join(', ')}`);
  }
  if (only !== undefined) return new Set(PHASES.filter((p) => !list(only).includes(p)));
  return new Set(list(skip));
}

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const log = (line: string) => process.stderr.write(`bench: ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round1 = (n: number) => Math.round(n * 10) / 10;
const round3 = (n: number) => Math.round(n * 1000) / 1000;

function machine() {
  let nproc = cpus().length;
  try {
    nproc = Number(execFileSync('nproc').toString().trim());
  } catch {
    // nproc is missing on some systems; the CPU count of os.cpus() stands in.
  }
  return {
    nproc,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGb: round1(totalmem() / 1024 ** 3),
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
    if (s.rowsFromRecords !== undefined) out.rowsFromRecords = (out.rowsFromRecords ?? 0) + s.rowsFromRecords;
    out.elapsedMs = Math.max(out.elapsedMs, s.elapsedMs);
    for (const [k, v] of Object.entries(s.failures)) out.failures[k] = (out.failures[k] ?? 0) + v;
    for (const l of s.requestLatencyMs) out.requestLatencyMs.push(l);
  }
  return out;
}

/** Spans the harness itself sent and had acknowledged (lifecycle, episodes), for the stored-count check. */
let harnessSpans = 0;

async function postProtobuf(url: string, body: Uint8Array): Promise<void> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body });
  if (res.status !== 200) throw new Error(`POST ${url}: ${res.status} ${await res.text()}`);
  await res.arrayBuffer();
  for (const rs of readTraceRequest(body)) for (const scope of rs.scopes) harnessSpans += scope.spans.length;
}

/** Waits until the monitor is idle (detectors caught up with what was just sent), at most `maxMs`. */
async function quiesce(pid: number, maxMs: number): Promise<number> {
  const started = Date.now();
  let last = cpuSeconds(pid) ?? 0;
  while (Date.now() - started < maxMs) {
    await sleep(300);
    const now = cpuSeconds(pid) ?? 0;
    if ((now - last) / 0.3 < 0.15) break;
    last = now;
  }
  return Date.now() - started;
}

/** Waits until every detector's lag (now − watermark) is under 5 s and the monitor is idle; returns the wait. */
async function detectorsCaughtUp(monitor: Monitor, maxMs: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < maxMs) {
    const m = await monitor.metrics();
    // ungoverned_token trails by its grace window on purpose (30 s by default).
    const lags = [...m.entries()]
      .filter(([k]) => k.startsWith('intentwatch_detector_lag_seconds'))
      .map(([k, v]) => (k.includes('ungoverned_token') ? v - 30 : v));
    if (lags.length > 0 && Math.max(...lags) < 5) {
      await quiesce(monitor.pid, 5000);
      break;
    }
    await sleep(500);
  }
  return Date.now() - started;
}

interface AlertJson {
  id: string;
  detector: string;
  tokenId: string;
  rootTokenId: string;
  firstSeen: string;
}

async function allAlerts(monitor: Monitor): Promise<AlertJson[]> {
  const out: AlertJson[] = [];
  let cursor: string | null | undefined;
  do {
    const page = await monitor.api<{ alerts: AlertJson[]; nextCursor: string | null }>(
      `/v1/alerts?limit=500&suppressed=include${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    out.push(...page.alerts);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
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
  // If the harness dies, its monitor must not live on (it would load the machine for everyone)
  // and its temp dirs go too.
  let running: Monitor | undefined;
  const cleanUp = () => {
    running?.kill();
    try {
      if (!o.keep) rmSync(work, { recursive: true, force: true });
    } catch {
      // A file still being written by a process that is dying: left in the temp dir.
    }
  };
  process.on('exit', cleanUp);
  const runId = Date.now().toString(36);
  const results: Record<string, unknown> = {
    machine: machine(),
    mode: o.quick ? 'quick' : 'full',
    startedAt: new Date(started).toISOString(),
    loadAverageAtStart: loadavg().map(round1),
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
    monitor: {
      command: `node ${[...o.monitorNodeFlags, o.fromSource ? 'cli/src/main.ts (tsx)' : 'cli/dist/main.js'].join(' ')} all`,
      env: o.monitorEnv,
      root: o.monitorRoot,
    },
  };
  let acceptedSpans = 0;
  const phases: Record<string, number> = {};
  let phaseStart = Date.now();
  const phaseDone = (name: string) => {
    phases[name] = Math.round((Date.now() - phaseStart) / 100) / 10;
    phaseStart = Date.now();
  };

  const receiver = new WebhookReceiver();
  await receiver.listen();
  log(`monitor: starting (${o.fromSource ? 'sources via tsx' : 'cli/dist'}), data in ${work}/monitor`);
  const monitor = await Monitor.start({
    root: o.monitorRoot,
    dataDir: join(work, 'monitor'),
    fromSource: o.fromSource,
    env: {
      INTENTWATCH_WEBHOOK_ALLOW: '127.0.0.1',
      BENCH_WEBHOOK_SECRET: receiver.secret,
      // The harness polls the alert list ten times a second; the default 600 a minute per key would refuse it.
      INTENTWATCH_API_RATE_LIMIT: '6000',
      ...o.monitorEnv,
    },
    nodeFlags: [...(o.profile ? ['--cpu-prof', `--cpu-prof-dir=${join(work, 'profile')}`] : []), ...o.monitorNodeFlags],
  });
  running = monitor;
  const monitorStarted = Date.now();
  const rss: { t: number; mb: number; anon: number; file: number }[] = [];
  // The JavaScript heap beside the RSS (every 10 s, from the monitor's own metrics), to tell
  // JavaScript growth from the engine's.
  const heap: { t: number; mb: number; totalMb: number; threads: number }[] = [];
  // The embedded engine's memory by holder (tracked, each cache, merges), from the same scrapes:
  // whether its caches stop at their bounds while RSS moves.
  const engine: { t: number; mb: Record<string, number> }[] = [];
  let ticks = 0;
  // The hostile phase reads the monitor's event-loop delay between two scrapes of its own; a
  // scrape in between would reset the histogram.
  let scrapeHeap = true;
  const rssTimer = setInterval(() => {
    const parts = rssParts(monitor.pid);
    if (parts !== undefined) rss.push({ t: Date.now(), mb: parts.total, anon: parts.anon, file: parts.file });
    if (ticks++ % 10 === 0 && scrapeHeap) {
      monitor
        .metrics()
        .then((m) => {
          const used = m.get('intentwatch_nodejs_heap_size_used_bytes');
          const total = m.get('intentwatch_nodejs_heap_size_total_bytes');
          if (used !== undefined) {
            heap.push({ t: Date.now(), mb: used / 1024 ** 2, totalMb: (total ?? 0) / 1024 ** 2, threads: threadCount(monitor.pid) });
          }
          const held: Record<string, number> = {};
          for (const [key, bytes] of m) {
            const holder = /^intentwatch_store_memory_bytes\{holder="([a-z_]+)"\}$/.exec(key)?.[1];
            if (holder) held[holder] = Math.round(bytes / 1024 ** 2);
          }
          if (Object.keys(held).length > 0) engine.push({ t: Date.now(), mb: held });
        })
        .catch(() => undefined);
    }
  }, 1000);
  const senders = Array.from({ length: o.senders }, () => new Sender(ROOT));
  const raw = new RawInserter(ROOT);
  const url = `${monitor.otlpUrl}/v1/traces`;
  try {
    // A revoke policy for every detector's alerts, to the harness's receiver: the webhook latency.
    await monitor.post('/v1/responders/policies', {
      id: 'bench-revoke',
      description: 'benchmark: revoke on every alert',
      match: { detectors: [...DETECTOR_IDS] },
      // The secret by reference: it reaches the monitor in its environment, never through the API.
      endpoint: { url: receiver.url, secrets: ['env:BENCH_WEBHOOK_SECRET'] },
      revoke: 'token',
      maxPerMinute: 10_000,
    });
    phaseDone('start');
    // ---- 1. sustained load with injected violations
    if (!o.skip.has('latency')) {
      const steady: FleetSpec[] = senders.map((_, i) => ({
        prefix: `${runId}-steady-${i}`,
        seed: 5000 + i * 31,
        agents: 40,
        tokensPerAgent: 3,
        requests: o.quick ? 40 : 96,
        spansPerRequest: o.spansPerRequest,
      }));
      for (const f of steady) {
        for (const body of lifecycleRequests(makeFleet(f), Date.now(), f.seed + 7)) await postProtobuf(url, body);
      }
      await Promise.all(senders.map((s, i) => s.prepare({ url, ...steady[i]! })));
      // The detectors first work off whatever was sent before (the grants just sent).
      const caughtUp = await detectorsCaughtUp(monitor, 90_000);
      log(`sustained: detectors caught up after ${Math.round(caughtUp / 1000)} s`);
      const graceMs = 30_000;
      const metricsBefore = await monitor.metrics();
      const sustainStart = Date.now();
      log(`sustained: ${o.rate} spans/s for ${o.sustainMs / 1000} s, a violation every ${o.episodeEveryMs / 1000} s`);
      const load = Promise.all(
        senders.map((s) => s.run({ concurrency: o.concurrency, durationMs: o.sustainMs, spansPerSec: o.rate / o.senders })),
      );
      const injected: { episode: Episode; sentAt: number; committedAt: number; foundAt?: number; webhookAt?: number }[] = [];
      let pollErrors = 0;
      const injector = (async () => {
        const flows: Promise<void>[] = [];
        // One episode every episodeEveryMs, each on its own: setup, a pause in which a detector
        // run sees the setup, then the offence. Injection stops early enough for every episode to
        // alert before the load ends (the ungoverned one only after its grace window).
        for (let n = 0; o.sustainMs - (Date.now() - sustainStart) > 10_000; n++) {
          const detector = DETECTOR_IDS[n % DETECTOR_IDS.length]!;
          if (detector === 'ungoverned_token' && o.sustainMs - (Date.now() - sustainStart) < graceMs + 10_000) continue;
          flows.push(
            (async () => {
              const episode = makeEpisode(detector, runId, n, Date.now());
              for (const body of episode.setup) await postProtobuf(url, body);
              await sleep(2000);
              const body = episode.offending(Date.now());
              const sentAt = Date.now();
              await postProtobuf(url, body);
              injected.push({ episode, sentAt, committedAt: Date.now() });
            })(),
          );
          await sleep(o.episodeEveryMs);
        }
        await Promise.all(flows);
      })();
      const poller = (async () => {
        while (Date.now() - sustainStart < o.sustainMs + graceMs + 15_000) {
          for (const i of injected) {
            if (i.webhookAt === undefined) i.webhookAt = receiver.find(i.episode.detector, i.episode.tokenIds)?.receivedAt;
          }
          const open = injected.filter((i) => i.foundAt === undefined);
          const webhooksDue = injected.some((i) => i.webhookAt === undefined && i.foundAt !== undefined);
          if (open.length === 0 && !webhooksDue && Date.now() - sustainStart > o.sustainMs) break;
          // One page of the newest alerts, as an analyst's queue shows them. (Not filtered by
          // `since`: an anomaly alert is last seen at the start of its bucket of event time.) A
          // page of 100 holds the last few minutes of violations; the earlier 500 made each poll
          // hydrate up to 500 alerts and their evidence five times a second, a load on the monitor
          // that grew with the run (a third of the engine's query time over 15 minutes).
          if (open.length > 0) {
            try {
              const page = await monitor.api<{ alerts: AlertJson[] }>('/v1/alerts?limit=100&sort=firstSeen&suppressed=include');
              const seenAt = Date.now();
              for (const i of open) {
                const { detector, tokenIds } = i.episode;
                if (
                  page.alerts.some((a) => a.detector === detector && (tokenIds.includes(a.tokenId) || tokenIds.includes(a.rootTokenId)))
                ) {
                  i.foundAt = seenAt;
                }
              }
            } catch {
              // A slow or failed answer under load: counted, and asked again at the next poll.
              pollErrors++;
            }
          }
          await sleep(100);
        }
      })();
      const [stats] = await Promise.all([load, injector]);
      await poller;
      const sustained = merge(stats);
      acceptedSpans += sustained.spansAccepted;
      const alerts = await allAlerts(monitor);
      const sustainEnd = Date.now();
      const metricsAfter = await monitor.metrics();
      /** A counter's or histogram series' growth over the sustained phase. */
      const delta = (key: string) => (metricsAfter.get(key) ?? 0) - (metricsBefore.get(key) ?? 0);
      const detectorRuns: Record<string, { runs: number; meanMs: number }> = {};
      for (const d of DETECTOR_IDS) {
        const k = (m: string) => `intentwatch_detector_run_duration_seconds_${m}{detector="${d}"}`;
        const runs = delta(k('count'));
        detectorRuns[d] = { runs, meanMs: runs > 0 ? round1((delta(k('sum')) / runs) * 1000) : 0 };
      }
      // Live runs: the detectors run at once on what committed batches made suspect.
      const liveRuns: Record<string, { runs: number; meanMs: number; suspects: number }> = {};
      for (const d of DETECTOR_IDS) {
        const k = (m: string) => `intentwatch_detector_live_run_duration_seconds_${m}{detector="${d}"}`;
        const runs = delta(k('count'));
        const suspects = delta(`intentwatch_live_suspects_total{detector="${d}"}`);
        if (runs > 0 || suspects > 0) liveRuns[d] = { runs, meanMs: runs > 0 ? round1((delta(k('sum')) / runs) * 1000) : 0, suspects };
      }

      // The live screen: its cycles, and how long a committed batch waited to be screened.
      const screen = (name: string) => {
        const count = delta(`${name}_count`);
        const les = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
        const upTo = (q: number) => les.find((le) => delta(`${name}_bucket{le="${le}"}`) >= q * count);
        return {
          count,
          meanMs: count > 0 ? round1((delta(`${name}_sum`) / count) * 1000) : 0,
          p50UpToMs: (upTo(0.5) ?? Number.NaN) * 1000,
          p99UpToMs: (upTo(0.99) ?? Number.NaN) * 1000,
        };
      };
      const liveScreen = {
        cycles: screen('intentwatch_live_screen_cycle_seconds'),
        delay: screen('intentwatch_live_screen_delay_seconds'),
      };

      const latencies = (filter: (d: string) => boolean, minus = 0) =>
        injected.filter((i) => filter(i.episode.detector) && i.foundAt !== undefined).map((i) => (i.foundAt as number) - i.sentAt - minus);
      const webhookLatencies = (filter: (d: string) => boolean, minus = 0) =>
        injected
          .filter((i) => filter(i.episode.detector) && i.webhookAt !== undefined)
          .map((i) => (i.webhookAt as number) - i.sentAt - minus);
      const perDetector: Record<string, unknown> = {};
      for (const d of DETECTOR_IDS) {
        perDetector[d] = {
          injected: injected.filter((i) => i.episode.detector === d).length,
          found: latencies((x) => x === d).length,
          latency: summarizeLatencies(latencies((x) => x === d)),
          webhook: summarizeLatencies(webhookLatencies((x) => x === d)),
        };
      }
      results.latency = {
        alert: summarizeLatencies(latencies((d) => d !== 'ungoverned_token')),
        webhook: summarizeLatencies(webhookLatencies((d) => d !== 'ungoverned_token')),
        webhookUngovernedAfterGrace: summarizeLatencies(webhookLatencies((d) => d === 'ungoverned_token', graceMs)),
        webhooks: {
          verified: receiver.deliveries.filter((d) => d.verified).length,
          unverified: receiver.deliveries.filter((d) => !d.verified).length,
          episodesWithout: injected.filter((i) => i.webhookAt === undefined).length,
          method:
            'send of the offending span → arrival of a revoke request whose Standard Webhooks signature the standardwebhooks package verifies (policy matching every detector, revoke: token)',
        },
        ungovernedAfterGrace: summarizeLatencies(latencies((d) => d === 'ungoverned_token', graceMs)),
        method: `send of the offending span → first GET /v1/alerts (the 100 newest) that lists the alert (polled every 100 ms); under ${o.rate} spans/s of benign load; live detection on (the default) and the scheduled pass at DETECT_INTERVAL_MS default (1000). ungoverned_token alerts only after INTENTWATCH_GRACE_MS (30 s): reported apart, minus the grace window`,
        loadSpansPerSec: Math.round((sustained.spansAccepted / sustained.elapsedMs) * 1000),
        loadFailures: sustained.failures,
        pollErrors,
        notFoundWhilePolling: injected.filter((i) => i.foundAt === undefined).length,
        requestLatency: summarizeLatencies(sustained.requestLatencyMs),
        // The offending request itself, answered once committed: an alert's latency minus this is
        // what follows the commit (screen, live run, recording).
        offendingCommit: summarizeLatencies(
          injected.filter((i) => i.episode.detector !== 'ungoverned_token').map((i) => i.committedAt - i.sentAt),
        ),
        perDetector,
        detectorRuns,
        liveRuns,
        liveScreen,
      };

      // Quality: an alert is a hit when its detector and one of its tokens match an injected episode.
      const byToken = new Map<string, Episode>();
      for (const i of injected) for (const t of i.episode.tokenIds) byToken.set(t, i.episode);
      const found: Detection[] = alerts.map((a) => {
        const ep = byToken.get(a.tokenId) ?? byToken.get(a.rootTokenId);
        return { detector: a.detector, tokenId: ep && ep.detector === a.detector ? ep.tokenId : a.tokenId };
      });
      const q = detectionQuality(
        injected.map((i) => ({ detector: i.episode.detector, tokenId: i.episode.tokenId })),
        found,
      );
      results.quality = {
        recall: round3(q.recall),
        precision: round3(q.precision),
        falsePositives: q.falsePositives.length,
        injected: injected.length,
        alerts: alerts.length,
        missed: q.missed,
        falsePositiveAlerts: q.falsePositives.slice(0, 20),
      };

      // Memory over the sustained run, after its first fifth (caches and pools filling).
      const settled = rss.filter((s) => s.t >= sustainStart + (sustainEnd - sustainStart) / 5 && s.t <= sustainEnd);
      results.rss = {
        peakMb: Math.round(Math.max(...rss.map((s) => s.mb))),
        slopeMbPerMin:
          settled.length >= 2 ? round1(leastSquaresSlope(settled.map((s) => ({ x: (s.t - sustainStart) / 60_000, y: s.mb })))) : null,
        startMb: Math.round(rss[0]?.mb ?? 0),
        endMb: Math.round(rss[rss.length - 1]?.mb ?? 0),
        sustainedSeconds: Math.round((sustainEnd - sustainStart) / 1000),
        method: 'VmRSS of the monitor process every second; slope by least squares over the sustained phase after its first fifth',
        anonSlopeMbPerMin:
          settled.length >= 2 ? round1(leastSquaresSlope(settled.map((s) => ({ x: (s.t - sustainStart) / 60_000, y: s.anon })))) : null,
        fileSlopeMbPerMin:
          settled.length >= 2 ? round1(leastSquaresSlope(settled.map((s) => ({ x: (s.t - sustainStart) / 60_000, y: s.file })))) : null,
        heapSlopeMbPerMin: (() => {
          const h = heap.filter((s) => s.t >= sustainStart + (sustainEnd - sustainStart) / 5 && s.t <= sustainEnd);
          return h.length >= 2 ? round1(leastSquaresSlope(h.map((s) => ({ x: (s.t - sustainStart) / 60_000, y: s.mb })))) : null;
        })(),
        samples: rss.map((s) => [Math.round((s.t - monitorStarted) / 1000), Math.round(s.mb)]),
        /** [seconds, anonymous MB, file-backed MB] every 10 s. */
        partSamples: rss
          .filter((_, i) => i % 10 === 0)
          .map((s) => [Math.round((s.t - monitorStarted) / 1000), Math.round(s.anon), Math.round(s.file)]),
        heapSamples: heap.map((s) => [Math.round((s.t - monitorStarted) / 1000), Math.round(s.mb)]),
        /** [seconds, V8 heap committed MB, the process's threads] every 10 s. */
        heapTotalSamples: heap.map((s) => [Math.round((s.t - monitorStarted) / 1000), Math.round(s.totalMb), s.threads]),
        engineSlopeMbPerMin: (() => {
          const e = engine.filter((s) => s.t >= sustainStart + (sustainEnd - sustainStart) / 5 && s.t <= sustainEnd);
          return e.length >= 2
            ? round1(leastSquaresSlope(e.map((s) => ({ x: (s.t - sustainStart) / 60_000, y: s.mb.tracked ?? 0 }))))
            : null;
        })(),
        /** The engine's memory (MB) by holder at the end of the sustained phase, and its peak per holder. */
        engineEndMb: engine.filter((s) => s.t <= sustainEnd).at(-1)?.mb ?? null,
        enginePeakMb: engine.reduce<Record<string, number>>((peak, s) => {
          for (const [k, v] of Object.entries(s.mb)) peak[k] = Math.max(peak[k] ?? 0, v);
          return peak;
        }, {}),
        engineSamples: engine.map((s) => [Math.round((s.t - monitorStarted) / 1000), s.mb]),
      };
      phaseDone('sustained');
      log(
        `sustained: ${injected.length} violations, ${injected.filter((i) => i.foundAt).length} found; alert p50 ${(results.latency as { alert: { p50Ms: number } | null }).alert?.p50Ms} ms`,
      );
    }

    // ---- 2. ingest (after the sustained phase, so that the detectors meet no backlog there)
    if (!o.skip.has('ingest')) {
      const fleets: FleetSpec[] = senders.map((_, i) => ({
        prefix: `${runId}-ingest-${i}`,
        seed: 1000 + i * 17,
        agents: 24,
        tokensPerAgent: 4,
        requests: o.quick ? 40 : 96,
        spansPerRequest: o.spansPerRequest,
      }));
      for (const f of fleets) {
        for (const body of lifecycleRequests(makeFleet(f), Date.now(), f.seed + 7)) await postProtobuf(url, body);
      }
      // A sender answers one command at a time: its log records are prepared after its spans.
      const [ready, rawRows] = await Promise.all([
        Promise.all(
          senders.map(async (s, i) => ({
            spans: await s.prepare({ url, ...fleets[i]! }),
            logs: await s.prepareLogs({
              url: `${monitor.otlpUrl}/v1/logs`,
              prefix: `${runId}-logs-${i}`,
              requests: o.quick ? 20 : 40,
              recordsPerRequest: o.logRecordsPerRequest,
            }),
          })),
        ),
        raw.prepare(fleets[0]!),
      ]);
      const prepared = ready.map((r) => r.spans);
      const poolRecords = ready.reduce((n, p) => n + p.logs.spans, 0);
      const poolLogBytes = ready.reduce((n, p) => n + p.logs.bytes, 0);
      const poolSpans = prepared.reduce((n, p) => n + p.spans, 0);
      const poolBytes = prepared.reduce((n, p) => n + p.bytes, 0);
      log(
        `senders ready: ${o.senders} × ${o.concurrency} exporters, ${poolSpans} distinct spans (${Math.round(poolBytes / poolSpans)} B/span), ${poolRecords} distinct CloudTrail records (${Math.round(poolLogBytes / poolRecords)} B/record); raw insert ready: ${rawRows} rows`,
      );

      log(`ingest: warm-up ${o.warmupMs / 1000} s`);
      const warm = merge(
        await Promise.all(senders.map((s) => s.run({ concurrency: o.concurrency, durationMs: o.warmupMs, spansPerSec: 0 }))),
      );
      acceptedSpans += warm.spansAccepted;
      const logRun = (durationMs: number) =>
        Promise.all(senders.map((s) => s.run({ concurrency: o.concurrency, durationMs, spansPerSec: 0, pool: 'logs' }))).then(merge);
      const warmLogs = await logRun(o.warmupMs / 2);
      acceptedSpans += warmLogs.rowsFromRecords ?? 0;
      let batchRows = 2048;
      const threadCpu = new Map<string, number>();
      let roundSpans = 0;
      const rounds: Record<string, unknown>[] = [];
      for (let r = 0; r < o.rounds; r++) {
        const idleMs = await quiesce(monitor.pid, 5000);
        const rawRun = await raw.run(o.rawMs, batchRows);
        await quiesce(monitor.pid, 2000);
        const before = await monitor.metrics();
        const cpu0 = cpuSeconds(monitor.pid) ?? 0;
        const threads0 = threadCpuSeconds(monitor.pid);
        const run = merge(
          await Promise.all(senders.map((s) => s.run({ concurrency: o.concurrency, durationMs: o.roundMs, spansPerSec: 0 }))),
        );
        const cpu1 = cpuSeconds(monitor.pid) ?? 0;
        for (const [name, sec] of threadCpuSeconds(monitor.pid)) {
          threadCpu.set(name, (threadCpu.get(name) ?? 0) + sec - (threads0.get(name) ?? 0));
        }
        const after = await monitor.metrics();
        acceptedSpans += run.spansAccepted;
        roundSpans += run.spansAccepted;
        const delta = (k: string) => (after.get(k) ?? 0) - (before.get(k) ?? 0);
        const inserts = delta('intentwatch_insert_duration_seconds_count{table="spans"}');
        const insertedRows = delta('intentwatch_rows_inserted_total{table="spans"}');
        if (inserts > 0) batchRows = Math.round(insertedRows / inserts);
        const spansPerSec = (run.spansAccepted / run.elapsedMs) * 1000;
        // The same round, through /v1/logs: CloudTrail records right after the spans.
        await quiesce(monitor.pid, 2000);
        const logCpu0 = cpuSeconds(monitor.pid) ?? 0;
        const logs = await logRun(o.logsMs);
        const logCpu1 = cpuSeconds(monitor.pid) ?? 0;
        acceptedSpans += logs.rowsFromRecords ?? 0;
        const logRecordsPerSec = (logs.spansAccepted / logs.elapsedMs) * 1000;
        rounds.push({
          spansPerSec: Math.round(spansPerSec),
          rawInsertPerSec: Math.round(rawRun.rowsPerSec),
          ratio: round3(spansPerSec / rawRun.rowsPerSec),
          rawBatchRows: rawRun.rows / Math.max(1, rawRun.batches),
          collectorMeanBatchRows: batchRows,
          collectorInsertMsPerBatch:
            inserts > 0 ? round1((delta('intentwatch_insert_duration_seconds_sum{table="spans"}') / inserts) * 1000) : null,
          monitorCpuCores: round3((cpu1 - cpu0) / (run.elapsedMs / 1000)),
          monitorCpuMsPerKSpans: round3(((cpu1 - cpu0) * 1000) / (run.spansAccepted / 1000)),
          rawCpuMsPerKRows: round3(rawRun.cpuMsPerKRows),
          requestLatency: summarizeLatencies(run.requestLatencyMs),
          failures: run.failures,
          rejected: run.spansRejected,
          idleWaitMs: idleMs,
          logRecordsPerSec: Math.round(logRecordsPerSec),
          logRowsPerSec: Math.round(((logs.rowsFromRecords ?? 0) / logs.elapsedMs) * 1000),
          logMonitorCpuMsPerKRecords: round3(((logCpu1 - logCpu0) * 1000) / Math.max(1, logs.spansAccepted / 1000)),
          logRequestLatency: summarizeLatencies(logs.requestLatencyMs),
          logFailures: logs.failures,
          logRejected: logs.spansRejected,
        });
        log(
          `ingest round ${r + 1}/${o.rounds}: raw ${Math.round(rawRun.rowsPerSec)} rows/s, collector ${Math.round(spansPerSec)} spans/s (batch ${batchRows} rows), /v1/logs ${Math.round(logRecordsPerSec)} records/s`,
        );
      }
      const med = (k: string) =>
        percentile(
          rounds.map((x) => x[k] as number),
          50,
        );
      const spansPerSec = med('spansPerSec');
      const rawInsertPerSec = med('rawInsertPerSec');
      results.ingest = {
        spansPerSec,
        rawInsertPerSec,
        // Each round pairs a raw run with the collector run right after it, under much the same
        // machine load; the median of those ratios is steadier than a ratio of two medians.
        ratio: round3(med('ratio')),
        ratioOfMedians: round3(spansPerSec / rawInsertPerSec),
        method: `median of ${o.rounds} alternating rounds (raw ${o.rawMs / 1000} s, then collector ${o.roundMs / 1000} s); ratio = median of the rounds' ratios`,
        monitorCpuMsPerKSpans: med('monitorCpuMsPerKSpans'),
        rawCpuMsPerKRows: med('rawCpuMsPerKRows'),
        senders: o.senders,
        exportersPerSender: o.concurrency,
        spansPerRequest: o.spansPerRequest,
        bytesPerSpan: Math.round(poolBytes / poolSpans),
        logRecordsPerSec: med('logRecordsPerSec'),
        logRowsPerSec: med('logRowsPerSec'),
        logMonitorCpuMsPerKRecords: med('logMonitorCpuMsPerKRecords'),
        logRecordsPerRequest: o.logRecordsPerRequest,
        bytesPerLogRecord: Math.round(poolLogBytes / poolRecords),
        logsMethod: `each round, right after its collector run: ${o.logsMs / 1000} s of CloudTrail records (AssumeRole, 30 GetObject with its credentials, one skipped DescribeInstances per session; test/fixtures/audit-logs/cloudtrail.json) as OTLP/JSON to /v1/logs, ${o.logRecordsPerRequest} records a request, the same senders and exporters; median of the rounds; rows = the token events and spans the records became`,
        rounds,
        // Where the monitor's CPU went during the rounds, per thread name, in µs per span.
        monitorCpuUsPerSpanByThread: Object.fromEntries(
          [...threadCpu.entries()]
            .filter(([, sec]) => sec > 0)
            .sort((a, b) => b[1] - a[1])
            .map(([name, sec]) => [name, round1((sec * 1e6) / Math.max(1, roundSpans))]),
        ),
      };
    }
    raw.stop();
    phaseDone('ingest');

    // ---- 5. hostile load
    if (!o.skip.has('hostile')) {
      log('hostile: building the bodies');
      const cases = hostileCases(runId).filter((c) => o.hostileCases === undefined || c.name.includes(o.hostileCases));
      scrapeHeap = false;
      const hostile = await runHostile(monitor, cases, {
        requests: o.hostileRequests,
        concurrency: 2,
        quietMs: o.quick ? 5000 : 10_000,
        runId,
        log,
      });
      scrapeHeap = true;
      acceptedSpans += hostile.acknowledgedSpans;
      results.hostile = {
        ...hostile.cases,
        method: `per kind of request: ${o.hostileRequests} requests, 2 in flight, while /healthz is probed one request after the other (20 ms apart) on the collector's and the API's port and a bystander posts 10-span OTLP/JSON requests; event-loop delay = p99 and max of the monitor's perf_hooks.monitorEventLoopDelay (prom-client, 10 ms resolution) over exactly that interval (reset by a scrape of /metrics before, read by one after)`,
      };
      phaseDone('hostile');
    }
  } finally {
    clearInterval(rssTimer);
    raw.stop();
    for (const s of senders) s.stop();
    log('monitor: stopping');
    await monitor.stop();
    running = undefined;
    await receiver.close();
  }

  // ---- 3. every accepted span is in the store
  if (!o.skip.has('count')) {
    const counted = await runStoreTask<CountResult>({ kind: 'count', dataDir: join(work, 'monitor') }, ROOT);
    const stored = counted.spans + counted.tokenEvents + counted.taskEvents;
    const accepted = acceptedSpans + harnessSpans;
    results.stored = { accepted, stored, lost: accepted - stored, ...counted };
    phaseDone('stop and count');
    log(
      `stored: ${stored} rows for ${accepted} acknowledged spans (${counted.spans} spans, ${counted.tokenEvents} token events, ${counted.taskEvents} task events)`,
    );
  }

  // ---- 4. cost growth
  if (!o.skip.has('growth')) {
    log(`growth: history ${o.growthHistories.join(', ')} spans, batch ${o.growthBatch}`);
    const growth = await runStoreTask<GrowthResult>(
      { kind: 'growth', histories: o.growthHistories, batchSpans: o.growthBatch, repeats: o.quick ? 3 : 5 },
      ROOT,
    );
    phaseDone('growth');
    results.growth = {
      ...growth,
      method:
        'sum of one run of every detector over the batch (fastest of the repeats; medianRunMs beside it), history inserted by INSERT … SELECT FROM numbers() with ingested_at in the past',
    };
  }
  results.elapsedSeconds = Math.round((Date.now() - started) / 1000);
  results.loadAverageAtEnd = loadavg().map(round1);
  results.phaseSeconds = phases;

  printTable(results);
  if (o.json) writeFileSync(o.json, `${JSON.stringify(results, null, 2)}\n`);
  if (!o.keep) rmSync(work, { recursive: true, force: true });
  else log(`kept ${work}`);
}

function printTable(r: Record<string, unknown>): void {
  const rows: [string, string, string][] = [];
  const ingest = r.ingest as { spansPerSec: number; rawInsertPerSec: number; ratio: number; logRecordsPerSec?: number } | undefined;
  if (ingest) {
    rows.push(['ingest through the collector', `${ingest.spansPerSec} spans/s`, '≥ 40,000']);
    rows.push(['raw insert, same rows and batch', `${ingest.rawInsertPerSec} rows/s`, '']);
    rows.push(['ingest ratio', `${ingest.ratio}`, '≥ 0.7']);
    if (ingest.logRecordsPerSec !== undefined) {
      rows.push(['audit records through /v1/logs (CloudTrail)', `${ingest.logRecordsPerSec} records/s`, '']);
    }
  }
  const latency = r.latency as { alert: { p50Ms: number; p95Ms: number; p99Ms: number; maxMs: number } | null } | undefined;
  if (latency?.alert) {
    const a = latency.alert;
    rows.push(['alert latency p50 / p95 / p99 / max', `${a.p50Ms} / ${a.p95Ms} / ${a.p99Ms} / ${a.maxMs} ms`, 'p99 ≤ 1,000 ms']);
  }
  const webhook = (r.latency as { webhook?: { p50Ms: number; p95Ms: number; p99Ms: number; maxMs: number } | null } | undefined)?.webhook;
  if (webhook) {
    rows.push([
      'revoke webhook latency p50 / p95 / p99 / max',
      `${webhook.p50Ms} / ${webhook.p95Ms} / ${webhook.p99Ms} / ${webhook.maxMs} ms`,
      'p99 ≤ 1,500 ms',
    ]);
  }
  const offending = (r.latency as { offendingCommit?: { p50Ms: number; p99Ms: number; maxMs: number } | null } | undefined)
    ?.offendingCommit;
  if (offending) {
    rows.push([
      'the offending request, answered on commit, p50 / p99 / max',
      `${offending.p50Ms} / ${offending.p99Ms} / ${offending.maxMs} ms`,
      '',
    ]);
  }
  type Screen = { meanMs: number; p99UpToMs: number };
  const screen = (r.latency as { liveScreen?: { cycles: Screen; delay: Screen } } | undefined)?.liveScreen;
  if (screen) {
    rows.push([
      'live screen: cycle mean / commit → screened mean (p99 up to)',
      `${screen.cycles.meanMs} / ${screen.delay.meanMs} (${screen.delay.p99UpToMs}) ms`,
      '',
    ]);
  }
  const quality = r.quality as { recall: number; precision: number; falsePositives: number } | undefined;
  if (quality)
    rows.push([
      'recall / precision / false positives',
      `${quality.recall} / ${quality.precision} / ${quality.falsePositives}`,
      '1 / 1 / 0',
    ]);
  const rss = r.rss as
    | {
        peakMb: number;
        slopeMbPerMin: number | null;
        heapSlopeMbPerMin: number | null;
        anonSlopeMbPerMin: number | null;
        fileSlopeMbPerMin: number | null;
        engineSlopeMbPerMin: number | null;
        engineEndMb: Record<string, number> | null;
      }
    | undefined;
  if (rss) {
    rows.push(['monitor RSS peak / slope', `${rss.peakMb} MB / ${rss.slopeMbPerMin} MB/min`, 'slope ≤ 1 MB/min after warm-up']);
    rows.push(['RSS slope: anonymous / file-backed', `${rss.anonSlopeMbPerMin} / ${rss.fileSlopeMbPerMin} MB/min`, '']);
    rows.push([
      'slope of JS heap / engine-tracked memory',
      `${rss.heapSlopeMbPerMin} / ${rss.engineSlopeMbPerMin} MB/min`,
      rss.engineEndMb
        ? `engine at end (MB): ${Object.entries(rss.engineEndMb)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}`
        : '',
    ]);
  }
  const growth = r.growth as { ratio: number; points: { historySpans: number; runMs: number }[] } | undefined;
  if (growth) {
    rows.push([
      'detector run over the batch vs history',
      growth.points.map((p) => `${p.historySpans.toExponential(0)}: ${p.runMs} ms`).join(', '),
      '',
    ]);
    rows.push(['cost growth (largest / smallest)', `${growth.ratio}`, '≤ 1.5']);
  }
  const hostile = r.hostile as Record<string, unknown> | undefined;
  if (hostile) {
    for (const [name, v] of Object.entries(hostile)) {
      if (name === 'method') continue;
      const c = v as {
        statuses: Record<string, number>;
        eventLoopDelay: { p99Ms: number | null; maxMs: number | null };
        collectorHealthz: { latency: { p99Ms: number; maxMs: number } | null };
      };
      const statuses = Object.entries(c.statuses)
        .map(([k, n]) => `${n}×${k}`)
        .join(' ');
      rows.push([
        `hostile: ${name}`,
        `loop p99/max ${c.eventLoopDelay.p99Ms}/${c.eventLoopDelay.maxMs} ms, /healthz p99/max ${c.collectorHealthz.latency?.p99Ms}/${c.collectorHealthz.latency?.maxMs} ms${statuses ? `, ${statuses}` : ''}`,
        '',
      ]);
    }
  }
  const stored = r.stored as { stored: number; accepted: number } | undefined;
  if (stored) rows.push(['stored / acknowledged spans', `${stored.stored} / ${stored.accepted}`, 'equal']);
  const w = [Math.max(...rows.map((x) => x[0].length)), Math.max(...rows.map((x) => x[1].length))];
  process.stdout.write('\n');
  for (const [a, b, c] of rows) process.stdout.write(`${a.padEnd(w[0]!)}  ${b.padStart(w[1]!)}  ${c}\n`);
  process.stdout.write(`\n(${r.elapsedSeconds} s; load average ${(r.loadAverageAtStart as number[]).join(' ')} at start)\n`);
}

// Interrupted: exit through process.exit, so that the exit handlers stop the monitor.
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
