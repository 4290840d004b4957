import { randomBytes } from 'node:crypto';
import {
  arrayItems,
  emptyDeflateBlocks,
  emptySpans,
  gzip,
  invalidEvents,
  manyAttributes,
  maximalJsonRequest,
  maximalRequest,
} from '../support/hostile-bodies.js';
import type { Monitor } from './monitor.js';
import { type LatencySummary, summarizeLatencies } from './stats.js';

/**
 * The hostile-load phase: requests of each kind below are sent to the running monitor, a few at a
 * time, while the harness probes `/healthz` on the collector's and the API's port one probe after
 * the other and a well-behaved sender keeps posting small valid requests. For each kind it
 * reports the monitor's own event-loop delay over exactly that interval (p99 and max of
 * `perf_hooks.monitorEventLoopDelay`, which prom-client samples for `/metrics` and resets at
 * every scrape: one scrape before, one after), the probes' latency and the statuses seen.
 *
 * Kinds: the largest legal requests the default limits allow (protobuf and OTLP/JSON), and the
 * kilobyte-sized hostile bodies of issue 12 (millions of empty spans, array items, attributes or
 * invalid events; megabytes of empty deflate blocks).
 */

export interface HostileCase {
  name: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer | string;
  /** Spans (or events) stored when the answer is 200. */
  spans: number;
}

export interface HostileCaseResult {
  requests: number;
  bodyBytes: number;
  statuses: Record<string, number>;
  requestLatency: LatencySummary | null;
  eventLoopDelay: { p99Ms: number | null; maxMs: number | null };
  collectorHealthz: { latency: LatencySummary | null; failures: number };
  apiHealthz: { latency: LatencySummary | null; failures: number };
  bystander: { statuses: Record<string, number>; latency: LatencySummary | null };
  elapsedMs: number;
}

const PROTOBUF = { 'content-type': 'application/x-protobuf' };
const PROTOBUF_GZIP = { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' };

export function hostileCases(runId: string): HostileCase[] {
  const maximal = maximalRequest({ service: `${runId}-maximal`, tokenId: `tok-${runId}-maximal` });
  const json = maximalJsonRequest({ service: `${runId}-maximal-json`, tokenId: `tok-${runId}-maximal-json` }).body;
  return [
    { name: 'maximal protobuf (65,536 spans, 12.5 MB)', path: '/v1/traces', headers: PROTOBUF, body: maximal.body, spans: maximal.spans },
    {
      name: `maximal OTLP/JSON (30,000 spans, ${Math.round(json.length / 1e5) / 10} MB)`,
      path: '/v1/traces',
      headers: { 'content-type': 'application/json' },
      body: json,
      spans: 30_000,
    },
    { name: '8 M empty spans (gzip)', path: '/v1/traces', headers: PROTOBUF_GZIP, body: gzip(emptySpans(8_000_000)), spans: 0 },
    {
      name: '8 M array items in one attribute (gzip)',
      path: '/v1/traces',
      headers: PROTOBUF_GZIP,
      body: gzip(arrayItems(8_000_000)),
      spans: 0,
    },
    {
      name: '1 M attributes on one span (gzip)',
      path: '/v1/traces',
      headers: PROTOBUF_GZIP,
      body: gzip(manyAttributes(1_000_000)),
      spans: 0,
    },
    {
      name: '1 valid + 4 M invalid JSON events (gzip)',
      path: '/v1/token-events',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzip(invalidEvents(4_000_000, `tok-${runId}-events`)),
      spans: 0,
    },
    {
      name: '48 MB of empty deflate blocks',
      path: '/v1/traces',
      headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'deflate' },
      body: emptyDeflateBlocks(48_000_000),
      spans: 0,
    },
  ];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Probes `url` one request after the other until `stop()`; latencies of the answered ones and the failures. */
function prober(url: string) {
  const latencies: number[] = [];
  let failures = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const t0 = performance.now();
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
        await res.arrayBuffer();
        if (res.ok) latencies.push(performance.now() - t0);
        else failures++;
      } catch {
        failures++;
      }
      await sleep(20);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { latency: summarizeLatencies(latencies), failures };
    },
  };
}

/** A sender of small valid OTLP/JSON requests (10 spans, one in flight) beside the hostile ones. */
function bystander(otlpUrl: string, service: string) {
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let accepted = 0;
  let running = true;
  const now = () => `${BigInt(Date.now()) * 1_000_000n}`;
  const loop = (async () => {
    while (running) {
      const t = now();
      const spans = Array.from({ length: 10 }, () => ({
        traceId: randomBytes(16).toString('hex'),
        spanId: randomBytes(8).toString('hex'),
        name: 'use',
        startTimeUnixNano: t,
        endTimeUnixNano: t,
        attributes: [{ key: 'token.id', value: { stringValue: `tok-${service}` } }],
      }));
      const body = JSON.stringify({
        resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] }, scopeSpans: [{ spans }] }],
      });
      const t0 = performance.now();
      let status = 'error';
      try {
        const res = await fetch(`${otlpUrl}/v1/traces`, {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/json' },
          signal: AbortSignal.timeout(60_000),
        });
        await res.arrayBuffer();
        status = String(res.status);
        if (res.status === 200) accepted += spans.length;
      } catch (e) {
        status = (e as Error).name;
      }
      latencies.push(performance.now() - t0);
      statuses[status] = (statuses[status] ?? 0) + 1;
      await sleep(50);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { statuses, latency: summarizeLatencies(latencies), accepted };
    },
  };
}

async function eventLoopDelay(monitor: Monitor, log: (line: string) => void): Promise<{ p99Ms: number | null; maxMs: number | null }> {
  let m: Map<string, number> | undefined;
  for (let attempt = 0; !m; attempt++) {
    try {
      m = await monitor.metrics();
    } catch (e) {
      if (attempt >= 5) {
        log(`hostile: /metrics does not answer (${(e as Error).message}); the monitor's last lines:\n${monitor.tail}`);
        return { p99Ms: null, maxMs: null };
      }
      await sleep(1000);
    }
  }
  const ms = (k: string) => {
    const v = m.get(k);
    return v === undefined ? null : Math.round(v * 10_000) / 10;
  };
  return { p99Ms: ms('intentwatch_nodejs_eventloop_lag_p99_seconds'), maxMs: ms('intentwatch_nodejs_eventloop_lag_max_seconds') };
}

/**
 * Runs every case in turn (`requests` of it, `concurrency` in flight) and a quiet interval first
 * as the reference. Resolves with the figures per case and the spans acknowledged (for the
 * stored-count check).
 */
export async function runHostile(
  monitor: Monitor,
  cases: HostileCase[],
  options: { requests: number; concurrency: number; quietMs: number; runId: string; log: (line: string) => void },
): Promise<{ cases: Record<string, HostileCaseResult>; acknowledgedSpans: number }> {
  const out: Record<string, HostileCaseResult> = {};
  let acknowledgedSpans = 0;
  const measure = async (name: string, work: () => Promise<{ statuses: Record<string, number>; latencies: number[]; bytes: number }>) => {
    await eventLoopDelay(monitor, options.log); // the scrape resets the monitor's histogram: what follows is this case's
    const started = Date.now();
    const probes = [prober(`${monitor.otlpUrl}/healthz`), prober(`${monitor.apiUrl}/healthz`)];
    const sender = bystander(monitor.otlpUrl, `${options.runId}-hostile-bystander`);
    const done = await work();
    const [collectorHealthz, apiHealthz] = await Promise.all(probes.map((p) => p.stop()));
    const b = await sender.stop();
    acknowledgedSpans += b.accepted;
    const delay = await eventLoopDelay(monitor, options.log);
    out[name] = {
      requests: done.latencies.length,
      bodyBytes: done.bytes,
      statuses: done.statuses,
      requestLatency: summarizeLatencies(done.latencies),
      eventLoopDelay: delay,
      collectorHealthz: collectorHealthz!,
      apiHealthz: apiHealthz!,
      bystander: { statuses: b.statuses, latency: b.latency },
      elapsedMs: Date.now() - started,
    };
    options.log(
      `hostile: ${name}: ${JSON.stringify(done.statuses)}, event-loop delay p99 ${delay.p99Ms} ms, max ${delay.maxMs} ms; /healthz p99 ${collectorHealthz?.latency?.p99Ms} ms, max ${collectorHealthz?.latency?.maxMs} ms`,
    );
  };

  await measure('quiet (reference: bystander and probes only)', async () => {
    await sleep(options.quietMs);
    return { statuses: {}, latencies: [], bytes: 0 };
  });
  for (const c of cases) {
    await measure(c.name, async () => {
      const statuses: Record<string, number> = {};
      const latencies: number[] = [];
      let next = 0;
      const worker = async () => {
        while (next < options.requests) {
          next++;
          const t0 = performance.now();
          let status = 'error';
          try {
            const res = await fetch(`${monitor.otlpUrl}${c.path}`, {
              method: 'POST',
              body: c.body,
              headers: c.headers,
              signal: AbortSignal.timeout(300_000),
            });
            await res.arrayBuffer();
            status = String(res.status);
            if (res.status === 200) acknowledgedSpans += c.spans;
          } catch (e) {
            status = (e as Error).name;
          }
          latencies.push(performance.now() - t0);
          statuses[status] = (statuses[status] ?? 0) + 1;
        }
      };
      await Promise.all(Array.from({ length: options.concurrency }, worker));
      return { statuses, latencies, bytes: Buffer.byteLength(c.body) };
    });
  }
  return { cases: out, acknowledgedSpans };
}
