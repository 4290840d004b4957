import { readFileSync } from 'node:fs';
import type { Store } from '@intentwatch/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOG_SUMMARY_HEADER } from './routes/logs.js';
import { ExportLogsServiceRequest, MAX_LOG_RECORDS_PER_REQUEST } from './otlp/logs.js';
import { RpcStatus } from './otlp/proto.js';
import type { Collector } from './server.js';
import { collectorConfig, postJson, postProtobuf, startCollector } from '@intentwatch/testkit/collector';
import { openTestStore } from '@intentwatch/testkit';

/**
 * `POST /v1/logs` under small ingest limits: past one, in either encoding, the request is refused
 * with 413 naming the limit and its variable, before anything is decoded or stored; a record's
 * body (the source's own record) is bounded by the body size and the nesting limit only.
 */

const cloudtrailFile = readFileSync(new URL('../../test/fixtures/audit-logs/cloudtrail.json', import.meta.url), 'utf8');

let store: Store;
let dispose: () => Promise<void>;
let collector: Collector;
let base: string;

beforeAll(async () => {
  ({ store, dispose } = await openTestStore({}, { serverFromEnv: true }));
  ({ collector, url: base } = await startCollector(
    store,
    collectorConfig({
      INTENTWATCH_MAX_DECODED_ATTRIBUTES: '8',
      INTENTWATCH_MAX_NESTING_DEPTH: '4',
      INTENTWATCH_MAX_STRING_LENGTH: '1024',
      INTENTWATCH_MAX_ARRAY_ITEMS: '64',
      INTENTWATCH_MAX_RESOURCES_PER_REQUEST: '4',
    }),
  ));
});

afterAll(async () => {
  await collector?.close();
  await dispose?.();
});

const logs = () => `${base}/v1/logs`;
type AnyValue = Record<string, unknown>;
const str = (value: string): AnyValue => ({ stringValue: value });
const kv = (key: string, value: AnyValue) => ({ key, value });

/** One request: one resource with one scope holding `records` (OTLP/JSON objects). */
function request(records: object[], resources = 1): object {
  return {
    resourceLogs: Array.from({ length: resources }, () => ({
      resource: { attributes: [kv('intentwatch.source', str('cloudtrail'))] },
      scopeLogs: [{ logRecords: records }],
    })),
  };
}
const protobuf = (req: object) => ExportLogsServiceRequest.encode(ExportLogsServiceRequest.fromObject(req)).finish();

/** Posts `req` in both encodings and returns the two answers' status and message. */
async function both(req: object): Promise<{ json: [number, string]; protobuf: [number, string] }> {
  const j = await postJson(logs(), req);
  const p = await postProtobuf(logs(), protobuf(req));
  const pMessage = p.status === 200 ? '' : String(RpcStatus.toObject(RpcStatus.decode(p.bytes)).message);
  return { json: [j.status, j.status === 200 ? '' : j.json().error.message], protobuf: [p.status, pMessage] };
}

async function rowCount(): Promise<number> {
  const [row] = await store.query<{ n: string }>('SELECT count() AS n FROM spans');
  return Number(row?.n ?? 0);
}

describe('POST /v1/logs ingest limits', () => {
  it('refuses a record with more attributes than INTENTWATCH_MAX_DECODED_ATTRIBUTES, storing nothing', async () => {
    const before = await rowCount();
    const attributes = Array.from({ length: 9 }, (_, i) => kv(`a${i}`, str('x')));
    const answers = await both(request([{ body: str('{}'), attributes }]));
    for (const [status, message] of [answers.json, answers.protobuf]) {
      expect(status).toBe(413);
      expect(message).toContain('more than 8 attributes on one log record or resource (INTENTWATCH_MAX_DECODED_ATTRIBUTES)');
    }
    expect(await rowCount()).toBe(before);
  });

  it('refuses a body nested deeper than INTENTWATCH_MAX_NESTING_DEPTH', async () => {
    let body: AnyValue = str('leaf');
    for (let i = 0; i < 5; i++) body = { kvlistValue: { values: [kv('k', body)] } };
    const answers = await both(request([{ body }]));
    expect(answers.json).toEqual([413, expect.stringContaining('nested more than 4 levels deep (INTENTWATCH_MAX_NESTING_DEPTH)')]);
    expect(answers.protobuf).toEqual([413, expect.stringContaining('nested more than 4 levels deep (INTENTWATCH_MAX_NESTING_DEPTH)')]);
  });

  it('refuses an array with more items than INTENTWATCH_MAX_ARRAY_ITEMS, and more resources than INTENTWATCH_MAX_RESOURCES_PER_REQUEST', async () => {
    const body = { arrayValue: { values: Array.from({ length: 65 }, () => str('x')) } };
    const items = await both(request([{ body }]));
    expect(items.json).toEqual([
      413,
      expect.stringContaining('more than 64 items in one array or key-value list (INTENTWATCH_MAX_ARRAY_ITEMS)'),
    ]);
    expect(items.protobuf).toEqual([
      413,
      expect.stringContaining('more than 64 items in one array or key-value list (INTENTWATCH_MAX_ARRAY_ITEMS)'),
    ]);
    const groups = await both(request([{ body: str('{}') }], 3));
    expect(groups.json[1]).toContain('(INTENTWATCH_MAX_RESOURCES_PER_REQUEST)');
    expect(groups.protobuf[1]).toContain('(INTENTWATCH_MAX_RESOURCES_PER_REQUEST)');
  });

  it('refuses an attribute string longer than INTENTWATCH_MAX_STRING_LENGTH', async () => {
    const answers = await both(request([{ body: str('{}'), attributes: [kv('log.file.name', str('x'.repeat(1025)))] }]));
    expect(answers.json).toEqual([413, expect.stringContaining('a string longer than 1024 (INTENTWATCH_MAX_STRING_LENGTH)')]);
    expect(answers.protobuf).toEqual([413, expect.stringContaining('a string longer than 1024 (INTENTWATCH_MAX_STRING_LENGTH)')]);
  });

  it('maps a body longer than INTENTWATCH_MAX_STRING_LENGTH: a whole CloudTrail file as one string, in either encoding', async () => {
    expect(cloudtrailFile.length).toBeGreaterThan(1024);
    const req = request([{ body: str(cloudtrailFile) }]);
    for (const res of [await postJson(logs(), req), await postProtobuf(logs(), protobuf(req))]) {
      expect(res.status).toBe(200);
      expect(JSON.parse(res.headers.get(LOG_SUMMARY_HEADER) ?? 'null')).toMatchObject({ records: 4, events: 3, rejected: 0 });
    }
  });

  it('refuses more log records than one request may hold in protobuf too, before decoding them', async () => {
    const res = await postProtobuf(logs(), protobuf(request(Array.from({ length: MAX_LOG_RECORDS_PER_REQUEST + 1 }, () => ({})))));
    expect(res.status).toBe(413);
    expect(String(RpcStatus.toObject(RpcStatus.decode(res.bytes)).message)).toContain(
      `more than ${MAX_LOG_RECORDS_PER_REQUEST} log records; send smaller batches`,
    );
  });
});
