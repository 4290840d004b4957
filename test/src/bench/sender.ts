import { Agent, request } from 'node:http';
import { pathToFileURL } from 'node:url';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { LOG_SUMMARY_HEADER } from '@intentwatch/collector';
import { auditLogRequests } from './audit-logs.js';
import { makeFleet, useRequests } from './workload.js';

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

/** Also prepares requests of CloudTrail records for `POST /v1/logs` (audit-logs.ts). */
export interface PrepareLogsMessage {
  type: 'prepare-logs';
  url: string;
  prefix: string;
  requests: number;
  recordsPerRequest: number;
}

export interface RunMessage {
  type: 'run';
  concurrency: number;
  durationMs: number;
  /** Spans (or log records) per second across this process; 0 = as fast as the monitor answers. */
  spansPerSec: number;
  /** Which prepared requests to send: the spans (the default) or the log records. */
  pool?: 'spans' | 'logs';
}

export type SenderCommand = PrepareMessage | PrepareLogsMessage | RunMessage | { type: 'exit' };

/** What a run sent: "spans" are log records in a run of the log records. */
export interface RunStats {
  requests: number;
  spansSent: number;
  /** Spans in 200 answers, less any the collector reported as rejected. */
  spansAccepted: number;
  spansRejected: number;
  /** Rows the accepted log records became (the collector's summary header); 0 for spans. */
  rowsFromRecords?: number;
  /** Non-200 answers by status ("ECONNRESET" etc. for transport errors). */
  failures: Record<string, number>;
  elapsedMs: number;
  requestLatencyMs: number[];
}

export type SenderReply = { type: 'ready'; requests: number; spans: number; bytes: number } | { type: 'done'; stats: RunStats };

/** A prepared request: its body, what it holds, and how to read the answer to it. */
interface PooledRequest {
  body: Uint8Array;
  spans: number;
}

interface Pool {
  url: URL;
  contentType: string;
  requests: PooledRequest[];
  /** Items the collector rejected, and rows it made of the rest, from a 200 answer. */
  answer: (res: { body: Buffer; summary: string | undefined }) => { rejected: number; rows: number };
}

function post(
  agent: Agent,
  url: URL,
  body: Uint8Array,
  contentType: string,
): Promise<{ status: number; body: Buffer; summary: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': contentType, 'content-length': body.byteLength },
      },
      (res) => {
        const chunks: Buffer[] = [];
        const summary = res.headers[LOG_SUMMARY_HEADER];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), summary: typeof summary === 'string' ? summary : undefined }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const spansAnswer: Pool['answer'] = (res) => {
  const answer = ProtobufTraceSerializer.deserializeResponse(res.body);
  return { rejected: Number(answer.partialSuccess?.rejectedSpans ?? 0), rows: 0 };
};

const logsAnswer: Pool['answer'] = (res) => {
  const answer = JSON.parse(res.body.toString('utf8')) as { partialSuccess?: { rejectedLogRecords?: string } };
  const summary = JSON.parse(res.summary ?? '{}') as { events?: number };
  return { rejected: Number(answer.partialSuccess?.rejectedLogRecords ?? 0), rows: summary.events ?? 0 };
};

/** Sends `pool` round-robin for `durationMs` with `concurrency` exporters, optionally paced. */
export async function run({ url, contentType, requests: pool, answer }: Pool, command: RunMessage): Promise<RunStats> {
  const agent = new Agent({ keepAlive: true, maxSockets: command.concurrency });
  const stats: RunStats = {
    requests: 0,
    spansSent: 0,
    spansAccepted: 0,
    spansRejected: 0,
    rowsFromRecords: 0,
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
        const res = await post(agent, url, item.body, contentType);
        stats.requestLatencyMs.push(performance.now() - t0);
        stats.requests++;
        stats.spansSent += item.spans;
        if (res.status === 200) {
          const { rejected, rows } = answer(res);
          stats.spansRejected += rejected;
          stats.spansAccepted += item.spans - rejected;
          stats.rowsFromRecords = (stats.rowsFromRecords ?? 0) + rows;
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

function ready(pool: Pool): SenderReply {
  return {
    type: 'ready',
    requests: pool.requests.length,
    spans: pool.requests.reduce((n, r) => n + r.spans, 0),
    bytes: pool.requests.reduce((n, r) => n + r.body.byteLength, 0),
  };
}

/** The IPC loop when this file runs as a child process. */
function serve(): void {
  let spans: Pool | undefined;
  let logs: Pool | undefined;
  const reply = (m: SenderReply) => process.send?.(m);
  // The harness went away (it exited or crashed): nothing more to send.
  process.on('disconnect', () => process.exit(0));
  process.on('message', (m: SenderCommand) => {
    void (async () => {
      if (m.type === 'prepare') {
        const fleet = makeFleet({ prefix: m.prefix, agents: m.agents, tokensPerAgent: m.tokensPerAgent, seed: m.seed });
        const requests = useRequests(fleet, {
          requests: m.requests,
          spansPerRequest: m.spansPerRequest,
          seed: m.seed + 1,
          startMs: Date.now(),
        });
        spans = { url: new URL(m.url), contentType: 'application/x-protobuf', requests, answer: spansAnswer };
        reply(ready(spans));
      } else if (m.type === 'prepare-logs') {
        const requests = auditLogRequests({
          prefix: m.prefix,
          requests: m.requests,
          recordsPerRequest: m.recordsPerRequest,
          startMs: Date.now(),
        });
        logs = {
          url: new URL(m.url),
          contentType: 'application/json',
          requests: requests.map((r) => ({ body: r.body, spans: r.records })),
          answer: logsAnswer,
        };
        reply(ready(logs));
      } else if (m.type === 'run') {
        const pool = m.pool === 'logs' ? logs : spans;
        if (!pool) throw new Error(`run of the ${m.pool ?? 'spans'} before they were prepared`);
        reply({ type: 'done', stats: await run(pool, m) });
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
