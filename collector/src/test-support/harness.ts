import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store, migrate, quoteIdentifier, composeSettings, coreSettings } from '@intentwatch/core';
import { collectorSettings } from '../settings.js';
import { Collector } from '../server.js';
import { ExportTraceServiceRequest } from '../otlp/proto.js';

/** The settings these tests read: the core settings and those of the workspaces they start. */
const configuration = composeSettings(coreSettings, collectorSettings);
const loadConfig = configuration.load;
type Config = ReturnType<typeof configuration.load>;

/**
 * A migrated store for one test file: the ClickHouse server of `CLICKHOUSE_URL` when set (in a
 * database of its own), else the embedded engine in a fresh temp data dir.
 */
export interface TestStore {
  /** The open store; a test that closes it may put a reopened one here, which dispose() closes. */
  store: Store;
  dataDir: string;
  /** Opens the same store again (after the test closed it). */
  reopen(): Promise<Store>;
  /** Drops the test database (server) and closes the store. */
  dispose(): Promise<void>;
}

export async function openTestStore(): Promise<TestStore> {
  const dataDir = mkdtempSync(join(tmpdir(), 'iw-test-'));
  const env: NodeJS.ProcessEnv = { INTENTWATCH_DATA_DIR: dataDir };
  if (process.env.CLICKHOUSE_URL) {
    Object.assign(env, {
      CLICKHOUSE_URL: process.env.CLICKHOUSE_URL,
      CLICKHOUSE_USER: process.env.CLICKHOUSE_USER,
      CLICKHOUSE_PASSWORD: process.env.CLICKHOUSE_PASSWORD,
      CLICKHOUSE_DATABASE: `iw_test_${randomBytes(6).toString('hex')}`,
    });
  }
  const config = loadConfig(env, { dotenv: false });
  const store = await Store.open(config);
  await migrate(store, { retentionDays: config.retentionDays });
  const t: TestStore = {
    store,
    dataDir,
    reopen: () => Store.open(config),
    async dispose() {
      if (config.clickhouse) await t.store.command(`DROP DATABASE IF EXISTS ${quoteIdentifier(config.database)}`).catch(() => undefined);
      await t.store.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return t;
}

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
