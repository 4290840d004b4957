import { DEFAULT_INGEST_LIMITS } from '../settings.js';
import { createHook } from 'node:async_hooks';
import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';
import { LimitExceededError } from '../limits.js';
import { decodeJsonRequest, JsonShapeError } from './decode-json.js';
import { decodeJsonRequestOffThread, decodeLogsJsonOffThread, OFF_THREAD_JSON_BYTES } from './json-off-thread.js';
import { decodeLogsJson, MAX_LOG_RECORDS_PER_REQUEST, TooManyRecordsError } from './logs.js';

/** An OTLP/JSON body of `spans` spans over two resources, padded past the size decoded on a worker thread. */
function largeBody(spans: number): Buffer {
  const pad = 'x'.repeat(Math.ceil(OFF_THREAD_JSON_BYTES / spans));
  const span = (i: number) =>
    `{"traceId":"${i.toString(16).padStart(32, '0')}","spanId":"${(i + 1).toString(16).padStart(16, '0')}","name":"use-${i}","kind":3,"startTimeUnixNano":"1700000000000000000","endTimeUnixNano":1700000000000000001,"attributes":[{"key":"token.id","value":{"stringValue":"tok-${i}"}},{"key":"pad","value":{"stringValue":"${pad}"}},{"key":"n","value":{"intValue":"9007199254740993"}}]}`;
  const half = Math.floor(spans / 2);
  const resource = (name: string, from: number, to: number) =>
    `{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"${name}"}}]},"scopeSpans":[{"scope":{"name":"a"},"spans":[${Array.from({ length: to - from }, (_, k) => span(from + k)).join(',')}]},{"scope":{"name":"b"},"spans":[]}]}`;
  const body = Buffer.from(`{"resourceSpans":[${resource('one', 0, half)},${resource('two', half, spans)}]}`);
  expect(body.length).toBeGreaterThanOrEqual(OFF_THREAD_JSON_BYTES);
  return body;
}

describe('decodeJsonRequestOffThread (a large OTLP/JSON body decoded on a worker thread)', () => {
  it('gives exactly what the decoder on the main thread gives: resources, scopes, spans, 64-bit values', async () => {
    const body = largeBody(2500);
    const expected = decodeJsonRequest(body.toString('utf8'), DEFAULT_INGEST_LIMITS);
    const got = await decodeJsonRequestOffThread(Buffer.from(body), DEFAULT_INGEST_LIMITS, 5000);
    expect(got).toEqual(expected);
    expect(got.flatMap((r) => r.scopes.flatMap((s) => s.spans))).toHaveLength(2500);
    expect(got[0]?.scopes[0]?.spans[0]?.attributes.n).toBe(expected[0]?.scopes[0]?.spans[0]?.attributes.n);
  });

  it('refuses a body past a limit with the limit named, as on the main thread', async () => {
    const limits = { ...DEFAULT_INGEST_LIMITS, maxItemsPerRequest: 100 };
    const error = await decodeJsonRequestOffThread(largeBody(300), limits, 5000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LimitExceededError);
    expect((error as LimitExceededError).status).toBe(413);
    expect((error as LimitExceededError).limit).toBe('maxItemsPerRequest');
    expect((error as Error).message).toMatch(/INTENTWATCH_MAX_SPANS_PER_REQUEST/);
  });

  it('refuses a large body that is not JSON with a shape error saying why', async () => {
    const body = Buffer.concat([largeBody(300).subarray(0, OFF_THREAD_JSON_BYTES), Buffer.from('{')]);
    const error = await decodeJsonRequestOffThread(body, DEFAULT_INGEST_LIMITS, 5000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JsonShapeError);
    expect((error as Error).message).toMatch(/JSON|position|Unexpected|Expected/);
  });
});

const cloudtrail = (
  JSON.parse(readFileSync(new URL('../../../test/fixtures/audit-logs/cloudtrail.json', import.meta.url), 'utf8')) as {
    Records: Record<string, unknown>[];
  }
).Records;

/**
 * An OTLP/JSON ExportLogsServiceRequest of `records` CloudTrail records (copies of the fixture's,
 * each with an event ID of its own) over two resources, 64-bit times and integers written as bare
 * numbers, at least the size decoded on a worker thread.
 */
function largeLogsBody(records: number): Buffer {
  const record = (i: number) => {
    const event = { ...cloudtrail[i % cloudtrail.length], eventID: `evt-${i}` };
    return `{"timeUnixNano":${1_796_000_000_000_000_000n + BigInt(i)},"body":{"stringValue":${JSON.stringify(JSON.stringify(event))}},"attributes":[{"key":"n","value":{"intValue":9007199254740993}}]}`;
  };
  const half = Math.floor(records / 2);
  const resource = (name: string, from: number, to: number) =>
    `{"resource":{"attributes":[{"key":"intentwatch.source","value":{"stringValue":"cloudtrail"}},{"key":"service.name","value":{"stringValue":"${name}"}}]},"scopeLogs":[{"scope":{"name":"filelog"},"logRecords":[${Array.from({ length: to - from }, (_, k) => record(from + k)).join(',')}]},{"logRecords":[]}]}`;
  const body = Buffer.from(`{"resourceLogs":[${resource('one', 0, half)},${resource('two', half, records)}]}`);
  expect(body.length).toBeGreaterThanOrEqual(OFF_THREAD_JSON_BYTES);
  return body;
}

/** Worker threads started while `fn` runs, and the turns the main thread's event loop took meanwhile. */
async function whileDecoding<T>(fn: () => Promise<T>): Promise<{ result: T; threads: number; turns: number }> {
  let threads = 0;
  const hook = createHook({
    init(_id, type) {
      if (type === 'WORKER') threads++;
    },
  }).enable();
  let turns = 0;
  let done = false;
  const turn = () => {
    if (done) return;
    turns++;
    setImmediate(turn);
  };
  setImmediate(turn);
  try {
    const result = await fn();
    return { result, threads, turns };
  } finally {
    done = true;
    hook.disable();
  }
}

describe('decodeLogsJsonOffThread (a large OTLP/JSON logs body decoded on a worker thread)', () => {
  it('gives exactly what the decoder on the main thread gives: resources, records, bodies, 64-bit times and values', async () => {
    const body = largeLogsBody(2500);
    const expected = decodeLogsJson(body.toString('utf8'), MAX_LOG_RECORDS_PER_REQUEST, DEFAULT_INGEST_LIMITS);
    const got = await decodeLogsJsonOffThread(Buffer.from(body), MAX_LOG_RECORDS_PER_REQUEST, DEFAULT_INGEST_LIMITS);
    expect(got).toEqual(expected);
    expect(got.map((r) => r.records.length)).toEqual([1250, 1250]);
    expect(got[1]?.records[0]?.timeNanos).toBe(1_796_000_000_000_001_250n);
    expect(got[0]?.records[0]?.attributes.n).toBe(expected[0]?.records[0]?.attributes.n);
  });

  it('decodes a large body on a thread of its own while the main thread keeps taking turns, and a small one on the main thread', async () => {
    const large = await whileDecoding(() =>
      decodeLogsJsonOffThread(largeLogsBody(2500), MAX_LOG_RECORDS_PER_REQUEST, DEFAULT_INGEST_LIMITS),
    );
    expect(large.threads).toBe(1);
    expect(large.turns).toBeGreaterThan(0);
    expect(large.result.flatMap((r) => r.records)).toHaveLength(2500);

    const smallBody = Buffer.from(JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { stringValue: '{}' } }] }] }] }));
    const small = await whileDecoding(() => decodeLogsJsonOffThread(smallBody, MAX_LOG_RECORDS_PER_REQUEST, DEFAULT_INGEST_LIMITS));
    expect(small.threads).toBe(0);
    expect(small.result.flatMap((r) => r.records)).toHaveLength(1);
  });

  it('refuses more records than a request may hold, as on the main thread', async () => {
    const error = await decodeLogsJsonOffThread(largeLogsBody(2500), 1000, DEFAULT_INGEST_LIMITS).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TooManyRecordsError);
    expect((error as Error).message).toMatch(/more than 1000 log records/);
  });

  it('refuses a body past an ingest limit with the limit named, as on the main thread', async () => {
    const limits = { ...DEFAULT_INGEST_LIMITS, maxGroupsPerRequest: 1 };
    const body = largeLogsBody(2500);
    const onMain = (() => {
      try {
        decodeLogsJson(body.toString('utf8'), MAX_LOG_RECORDS_PER_REQUEST, limits);
      } catch (e) {
        return e;
      }
    })();
    const error = await decodeLogsJsonOffThread(body, MAX_LOG_RECORDS_PER_REQUEST, limits).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LimitExceededError);
    expect((error as LimitExceededError).limit).toBe('maxGroupsPerRequest');
    expect((error as Error).message).toBe((onMain as Error).message);
  });

  it('refuses a large body that is not JSON with a shape error saying why', async () => {
    const body = Buffer.concat([largeLogsBody(2500).subarray(0, OFF_THREAD_JSON_BYTES), Buffer.from('{')]);
    const error = await decodeLogsJsonOffThread(body, MAX_LOG_RECORDS_PER_REQUEST, DEFAULT_INGEST_LIMITS).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JsonShapeError);
    expect((error as Error).message).toMatch(/JSON|position|Unexpected|Expected/);
  });
});
