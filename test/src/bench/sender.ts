import { Agent, request } from 'node:http';
import { pathToFileURL } from 'node:url';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { type EncodedRequest, makeFleet, useRequests } from './workload.js';

/**
 * A load-generator process. It encodes its requests before it is told to go, so that the
 * measured rate is the monitor's and not the generator's, then posts them over keep-alive
 * connections the way several OTel SDKs with a BatchSpanProcessor each would: `concurrency`
 * exporters, each with one request in flight. Driven over IPC by the harness (see protocol below).
 */

export interface PrepareMessage {
  type: 'prepare';
  url: string;
  prefix: string;
  seed: number;
  agents: number;
  tokensPerAgent: number;
  requests: number;
  spansPerRequest: number;
}

export interface RunMessage {
  type: 'run';
  concurrency: number;
  durationMs: number;
  /** Spans per second across this process; 0 = as fast as the monitor answers. */
  spansPerSec: number;
}

export type SenderCommand = PrepareMessage | RunMessage | { type: 'exit' };

export interface RunStats {
  requests: number;
  spansSent: number;
  /** Spans in 200 answers, less any the collector reported as rejected. */
  spansAccepted: number;
  spansRejected: number;
  /** Non-200 answers by status ("ECONNRESET" etc. for transport errors). */
  failures: Record<string, number>;
  elapsedMs: number;
  requestLatencyMs: number[];
}

export type SenderReply = { type: 'ready'; requests: number; spans: number; bytes: number } | { type: 'done'; stats: RunStats };

function post(agent: Agent, url: URL, body: Uint8Array): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/x-protobuf', 'content-length': body.byteLength },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sends `pool` round-robin for `durationMs` with `concurrency` exporters, optionally paced. */
export async function run(url: URL, pool: EncodedRequest[], command: RunMessage): Promise<RunStats> {
  const agent = new Agent({ keepAlive: true, maxSockets: command.concurrency });
  const stats: RunStats = {
    requests: 0,
    spansSent: 0,
    spansAccepted: 0,
    spansRejected: 0,
    failures: {},
    elapsedMs: 0,
    requestLatencyMs: [],
  };
  const started = performance.now();
  const deadline = started + command.durationMs;
  let next = 0;
  // Pacing: request k is due at started + k * interval (shared by all exporters), so a slow
  // answer delays one exporter and the others catch up, like independent SDKs would.
  const spansPerRequest = pool[0]?.spans ?? 512;
  const intervalMs = command.spansPerSec > 0 ? (1000 * spansPerRequest) / command.spansPerSec : 0;
  let scheduled = 0;
  const exporter = async () => {
    while (performance.now() < deadline) {
      if (intervalMs > 0) {
        const due = started + scheduled++ * intervalMs;
        const wait = due - performance.now();
        if (due >= deadline) return;
        if (wait > 0) await sleep(wait);
      }
      const item = pool[next++ % pool.length]!;
      const t0 = performance.now();
      try {
        const res = await post(agent, url, item.body);
        stats.requestLatencyMs.push(performance.now() - t0);
        stats.requests++;
        stats.spansSent += item.spans;
        if (res.status === 200) {
          const answer = ProtobufTraceSerializer.deserializeResponse(res.body);
          const rejected = Number(answer.partialSuccess?.rejectedSpans ?? 0);
          stats.spansRejected += rejected;
          stats.spansAccepted += item.spans - rejected;
        } else {
          stats.failures[String(res.status)] = (stats.failures[String(res.status)] ?? 0) + 1;
          // An SDK backs off on 429/503; a short pause keeps a failing run from spinning.
          await sleep(100);
        }
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code ?? 'error';
        stats.failures[code] = (stats.failures[code] ?? 0) + 1;
        await sleep(100);
      }
    }
  };
  await Promise.all(Array.from({ length: command.concurrency }, exporter));
  stats.elapsedMs = performance.now() - started;
  agent.destroy();
  return stats;
}

/** The IPC loop when this file runs as a child process. */
function serve(): void {
  let pool: EncodedRequest[] = [];
  let url: URL | undefined;
  const reply = (m: SenderReply) => process.send?.(m);
  // The harness went away (it exited or crashed): nothing more to send.
  process.on('disconnect', () => process.exit(0));
  process.on('message', (m: SenderCommand) => {
    void (async () => {
      if (m.type === 'prepare') {
        url = new URL(m.url);
        const fleet = makeFleet({ prefix: m.prefix, agents: m.agents, tokensPerAgent: m.tokensPerAgent, seed: m.seed });
        pool = useRequests(fleet, { requests: m.requests, spansPerRequest: m.spansPerRequest, seed: m.seed + 1, startMs: Date.now() });
        reply({
          type: 'ready',
          requests: pool.length,
          spans: pool.reduce((n, r) => n + r.spans, 0),
          bytes: pool.reduce((n, r) => n + r.body.byteLength, 0),
        });
      } else if (m.type === 'run') {
        if (!url) throw new Error('run before prepare');
        reply({ type: 'done', stats: await run(url, pool, m) });
      } else {
        process.disconnect?.();
        process.exit(0);
      }
    })().catch((e: unknown) => {
      process.stderr.write(`sender: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    });
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) serve();
