import { DEFAULT_INGEST_LIMITS } from '@intentwatch/core';
import { describe, expect, it } from 'vitest';
import { LimitExceededError } from '../limits.js';
import { decodeJsonRequest, JsonShapeError } from './decode-json.js';
import { decodeJsonRequestOffThread, OFF_THREAD_JSON_BYTES } from './json-off-thread.js';

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
