import { randomBytes } from 'node:crypto';
import { Collector, ExportTraceServiceRequest } from '@intentwatch/collector';
import { collectorSettings } from '@intentwatch/collector/settings';
import { type Store, composeSettings, coreSettings } from '@intentwatch/core';

/** The settings a collector reads: the core settings and the collector's. */
export const COLLECTOR_SETTINGS = composeSettings(coreSettings, collectorSettings);
type Config = ReturnType<typeof COLLECTOR_SETTINGS.load>;
const loadConfig = COLLECTOR_SETTINGS.load;

/** The collector's configuration with the defaults of docs/conventions.md §3, `env` applied. */
export function collectorConfig(env: NodeJS.ProcessEnv = {}): Readonly<Config> {
  return loadConfig({ INTENTWATCH_BATCH_MS: '20', ...env }, { dotenv: false });
}

/** A collector on an ephemeral loopback port. */
export async function startCollector(store: Store, config: Readonly<Config> = collectorConfig()) {
  const collector = new Collector(store, config);
  const port = await collector.listen(0, '127.0.0.1');
  return { collector, url: `http://127.0.0.1:${port}` };
}

export const hex = (bytes: number) => randomBytes(bytes).toString('hex');

type Value = string | number | boolean | Value[];

/** Attributes as OTLP/JSON KeyValues (integers as intValue strings, as the JS exporter writes them). */
export function keyValues(attrs: Record<string, Value>): object[] {
  return Object.entries(attrs).map(([key, value]) => ({ key, value: anyValue(value) }));
}

function anyValue(v: Value): object {
  if (Array.isArray(v)) return { arrayValue: { values: v.map(anyValue) } };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  return Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v };
}

export interface SpanSpec {
  traceId?: string;
  spanId?: string;
  parentSpanId?: string;
  name?: string;
  kind?: number;
  /** Start time in epoch nanoseconds (default: now). */
  start?: bigint;
  end?: bigint;
  attributes?: Record<string, Value>;
  /** Raw fields merged over the span, to write malformed spans. */
  raw?: Record<string, unknown>;
}

/** An OTLP/JSON ExportTraceServiceRequest with one resource and one scope. */
export function otlpJson(resource: Record<string, Value>, spans: SpanSpec[]): { resourceSpans: object[] } {
  const now = BigInt(Date.now()) * 1_000_000n;
  return {
    resourceSpans: [
      {
        resource: { attributes: keyValues(resource) },
        scopeSpans: [
          {
            scope: { name: 'intentwatch.test', version: '1' },
            spans: spans.map((s) => ({
              traceId: s.traceId ?? hex(16),
              spanId: s.spanId ?? hex(8),
              ...(s.parentSpanId ? { parentSpanId: s.parentSpanId } : {}),
              name: s.name ?? 'span',
              kind: s.kind ?? 3,
              startTimeUnixNano: String(s.start ?? now),
              endTimeUnixNano: String(s.end ?? s.start ?? now),
              attributes: keyValues(s.attributes ?? {}),
              ...s.raw,
            })),
          },
        ],
      },
    ],
  };
}

/** The same request as OTLP/protobuf bytes, encoded with the collector's own message types. */
export function toProtobuf(request: { resourceSpans: object[] }): Buffer {
  const withBytes = JSON.parse(JSON.stringify(request), (key, value) =>
    (key === 'traceId' || key === 'spanId' || key === 'parentSpanId') && typeof value === 'string' ? Buffer.from(value, 'hex') : value,
  );
  return Buffer.from(ExportTraceServiceRequest.encode(ExportTraceServiceRequest.fromObject(withBytes)).finish());
}

/** POSTs `body` with `headers` and returns status, headers and the body as bytes. */
export async function post(url: string, body: string | Uint8Array, headers: Record<string, string>) {
  const res = await fetch(url, { method: 'POST', body, headers });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, bytes, json: () => JSON.parse(bytes.toString('utf8')) };
}

export const postJson = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  post(url, typeof body === 'string' ? body : JSON.stringify(body), { 'content-type': 'application/json', ...headers });

export const postProtobuf = (url: string, body: Uint8Array, headers: Record<string, string> = {}) =>
  post(url, body, { 'content-type': 'application/x-protobuf', ...headers });
