import { randomBytes } from 'node:crypto';
import { Collector, ExportTraceServiceRequest } from '@intentwatch/collector';
import { Store, StoreError, migrate, registry } from '@intentwatch/core';
import { type Config, loadConfig } from '@intentwatch/cli';
import { tempDataDir } from '../support/monitor.js';

export const hex = (bytes: number) => randomBytes(bytes).toString('hex');
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves once `condition` holds (checked every `everyMs`); fails with `what` when it does not within `timeoutMs`. */
export async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 30_000, everyMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

type Value = string | number | boolean | Value[];

export interface SpanSpec {
  traceId?: string;
  spanId?: string;
  name?: string;
  /** Start in epoch nanoseconds (default: now). */
  start?: bigint;
  attributes?: Record<string, Value>;
}

function anyValue(v: Value): object {
  if (Array.isArray(v)) return { arrayValue: { values: v.map(anyValue) } };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  return Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v };
}

export const keyValues = (attrs: Record<string, Value>) => Object.entries(attrs).map(([key, value]) => ({ key, value: anyValue(value) }));

/** An OTLP/JSON ExportTraceServiceRequest: one resource, one scope. */
export function otlpRequest(resource: Record<string, Value>, spans: SpanSpec[]): { resourceSpans: object[] } {
  const now = BigInt(Date.now()) * 1_000_000n;
  return {
    resourceSpans: [
      {
        resource: { attributes: keyValues(resource) },
        scopeSpans: [
          {
            scope: { name: 'intentwatch.hostile' },
            spans: spans.map((s) => ({
              traceId: s.traceId ?? hex(16),
              spanId: s.spanId ?? hex(8),
              name: s.name ?? 'use',
              kind: 3,
              startTimeUnixNano: String(s.start ?? now),
              endTimeUnixNano: String(s.start ?? now),
              attributes: keyValues(s.attributes ?? {}),
            })),
          },
        ],
      },
    ],
  };
}

/** The same request as OTLP/protobuf bytes. */
export function toProtobuf(request: { resourceSpans: object[] }): Buffer {
  const withBytes = JSON.parse(JSON.stringify(request), (key, value) =>
    (key === 'traceId' || key === 'spanId' || key === 'parentSpanId') && typeof value === 'string' ? Buffer.from(value, 'hex') : value,
  );
  return Buffer.from(ExportTraceServiceRequest.encode(ExportTraceServiceRequest.fromObject(withBytes)).finish());
}

/** The current value of a counter of the process registry (summed over its labels). */
export async function metricValue(name: string): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values.reduce((sum, v) => sum + v.value, 0);
}

/** A migrated embedded store in a fresh data dir, in this process. */
export async function openStore(env: NodeJS.ProcessEnv = {}) {
  const data = tempDataDir();
  const config = loadConfig({ INTENTWATCH_DATA_DIR: data.dir, INTENTWATCH_BATCH_MS: '20', ...env }, { dotenv: false });
  const store = await Store.open(config);
  await migrate(store, { retentionDays: config.retentionDays });
  return {
    store,
    config,
    dataDir: data.dir,
    async dispose() {
      await store.close();
      data.remove();
    },
  };
}

/** A collector in this process on an ephemeral loopback port, over `store`. */
export async function startCollector(store: Store, config: Readonly<Config>) {
  const collector = new Collector(store, config);
  const port = await collector.listen(0, '127.0.0.1');
  return { collector, url: `http://127.0.0.1:${port}` };
}

export type Fault = 'refuse' | 'stall' | 'lose-answer';

/**
 * A fault injector in front of a real store: while a fault is set, inserts are refused
 * (`refuse`: store_unavailable, nothing written), held until the fault is cleared (`stall`: a
 * store that stops answering, then comes back and commits), or committed and then reported as
 * failed (`lose-answer`: the connection drops after the commit). Reads pass through untouched.
 */
export function faultInjector(real: Store) {
  let fault: Fault | undefined;
  const insertFaults = { refused: 0, stalled: 0, lostAnswers: 0 };
  const wrap =
    (fn: (...args: never[]) => Promise<void>) =>
    async (...args: never[]): Promise<void> => {
      if (fault === 'refuse') {
        insertFaults.refused++;
        throw new StoreError('insert failed: connect ECONNREFUSED (injected)', { code: 'store_unavailable' });
      }
      if (fault === 'stall') {
        insertFaults.stalled++;
        while (fault === 'stall') await sleep(10);
      }
      const lose = fault === 'lose-answer';
      await fn.apply(real, args);
      if (lose) {
        insertFaults.lostAnswers++;
        throw new StoreError('insert failed: socket hang up (injected, after the commit)', { code: 'store_unavailable' });
      }
    };
  const store = new Proxy(real, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      // Every insert path (row objects or encoded bytes), whichever the writer uses.
      if (typeof prop === 'string' && prop.startsWith('insert') && typeof value === 'function') return wrap(value);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return {
    store,
    insertFaults,
    set(f: Fault | undefined) {
      fault = f;
    },
  };
}

export interface SenderOptions {
  /** Collector base URL; a function when the collector moves (a restart on another port). */
  url: string | (() => string);
  /** `service.name` of every span sent: how the stored rows are found again. */
  run: string;
  spansPerRequest?: number;
  concurrency?: number;
  /** The sender's own deadline: an answer that comes later is not an acknowledgement. */
  timeoutMs?: number;
  encoding?: 'json' | 'protobuf';
  headers?: Record<string, string>;
  /** Retry-After is honoured up to this long, so a test does not wait the 5 s a real sender would. */
  maxRetryAfterMs?: number;
}

/**
 * Valid OTLP load with an exporter's retry discipline: each batch is sent until it is
 * acknowledged (2xx) — after 429/503 (honouring Retry-After), a timeout or a connection error
 * the same batch is sent again, as the OpenTelemetry exporters do. Only spans of a 2xx answer are
 * counted as acknowledged; a batch that was still unacknowledged when the sender was told to
 * abandon is counted apart.
 */
export class Sender {
  readonly acknowledged = new Set<string>();
  readonly attempted = new Set<string>();
  readonly outcomes = new Map<string, number>();
  readonly #options: Required<Omit<SenderOptions, 'headers'>> & { headers: Record<string, string> };
  #loops: Promise<void>[] = [];
  #stopping = false;
  #abandon = false;
  abandoned = 0;
  requests = 0;

  constructor(options: SenderOptions) {
    this.#options = {
      spansPerRequest: 50,
      concurrency: 4,
      timeoutMs: 10_000,
      encoding: 'json',
      maxRetryAfterMs: 50,
      headers: {},
      ...options,
    };
  }

  start(): this {
    for (let i = 0; i < this.#options.concurrency; i++) this.#loops.push(this.#loop());
    return this;
  }

  count(outcome: string): number {
    return this.outcomes.get(outcome) ?? 0;
  }

  /** Stops sending new batches; batches in flight are sent until acknowledged, unless `abandon`. */
  async stop(options: { abandon?: boolean } = {}): Promise<void> {
    this.#stopping = true;
    this.#abandon = options.abandon ?? false;
    await Promise.all(this.#loops);
  }

  /** Abandons the batches in flight (their sender went away) without waiting. */
  abandonNow(): void {
    this.#stopping = true;
    this.#abandon = true;
  }

  async #loop(): Promise<void> {
    while (!this.#stopping) {
      const ids = Array.from({ length: this.#options.spansPerRequest }, () => hex(8));
      for (const id of ids) this.attempted.add(id);
      const request = otlpRequest(
        { 'service.name': this.#options.run },
        ids.map((spanId) => ({ spanId, attributes: { 'token.id': `tok-${this.#options.run}`, 'server.address': 'api.example.com' } })),
      );
      const body = this.#options.encoding === 'protobuf' ? toProtobuf(request) : JSON.stringify(request);
      const contentType = this.#options.encoding === 'protobuf' ? 'application/x-protobuf' : 'application/json';
      for (;;) {
        if (this.#abandon) {
          this.abandoned += ids.length;
          break;
        }
        const outcome = await this.#send(body, contentType);
        this.outcomes.set(outcome.kind, (this.outcomes.get(outcome.kind) ?? 0) + 1);
        if (outcome.kind === '200') {
          for (const id of ids) this.acknowledged.add(id);
          break;
        }
        await sleep(Math.min(outcome.retryAfterMs ?? 10, this.#options.maxRetryAfterMs));
      }
    }
  }

  async #send(body: string | Buffer, contentType: string): Promise<{ kind: string; retryAfterMs?: number }> {
    this.requests++;
    const url = typeof this.#options.url === 'function' ? this.#options.url() : this.#options.url;
    try {
      const res = await fetch(`${url}/v1/traces`, {
        method: 'POST',
        body,
        headers: { 'content-type': contentType, ...this.#options.headers },
        signal: AbortSignal.timeout(this.#options.timeoutMs),
      });
      await res.arrayBuffer();
      const retryAfter = res.headers.get('retry-after');
      return { kind: String(res.status), ...(retryAfter ? { retryAfterMs: Number(retryAfter) * 1000 } : {}) };
    } catch (e) {
      const name = (e as Error).name;
      return { kind: name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : 'connection-error' };
    }
  }
}

/** The span ids stored for `run` (one entry per stored row, so duplicates show). */
export async function storedSpanIds(store: Store, run: string): Promise<string[]> {
  const rows = await store.query<{ span_id: string }>('SELECT span_id FROM spans WHERE caller = {run:String}', { run });
  return rows.map((r) => r.span_id);
}

/** How the acknowledged spans compare with the stored ones. */
export function reconcile(sender: Sender, stored: string[]) {
  const distinct = new Set(stored);
  const lost = [...sender.acknowledged].filter((id) => !distinct.has(id));
  const unknown = [...distinct].filter((id) => !sender.attempted.has(id));
  return {
    acknowledged: sender.acknowledged.size,
    storedDistinct: distinct.size,
    storedRows: stored.length,
    duplicates: stored.length - distinct.size,
    lost: lost.length,
    unknown: unknown.length,
    abandoned: sender.abandoned,
    requests: sender.requests,
    outcomes: Object.fromEntries(sender.outcomes),
  };
}
