import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ExportTraceServiceRequest } from './proto.js';
import { decodeJsonRequest } from './decode-json.js';
import { decodeProtobufRequest } from './decode-protobuf.js';

const fixture = (name: string) => readFileSync(new URL(`../../../test/fixtures/${name}`, import.meta.url), 'utf8');

describe('decodeJsonRequest', () => {
  for (const name of ['otlp-example-trace.json', 'otlp-example-trace-string-times.json']) {
    it(`reads the OTLP example (${name}) with exact nanosecond times and lower-case ids`, () => {
      const [rs] = decodeJsonRequest(fixture(name));
      expect(rs?.resource).toEqual({ 'service.name': 'my.service' });
      expect(rs?.scopes[0]?.scopeName).toBe('my.library');
      expect(rs?.scopes[0]?.spans).toEqual([
        {
          traceId: '5b8efff798038103d269b633813fc60c',
          spanId: 'eee19b7ec3c1b174',
          parentSpanId: 'eee19b7ec3c1b173',
          name: "I'm a server span",
          kind: 2,
          startNanos: 1_544_712_660_000_000_000n,
          endNanos: 1_544_712_661_000_000_000n,
          statusCode: 0,
          attributes: { 'my.span.attr': 'some value' },
          droppedAttributes: 0,
        },
      ]);
    });
  }

  it('keeps every digit of times and integers beyond 2^53 written as bare numbers', () => {
    const body = `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708",
      "startTimeUnixNano": 1544712660123456789 , "endTimeUnixNano":1544712660987654321,
      "attributes":[{"key":"big","value":{"intValue":9007199254740993}},{"key":"neg","value":{"intValue":"-9223372036854775808"}},
      {"key":"text","value":{"stringValue":"\\"startTimeUnixNano\\": 1"}}]}]}]}]}`;
    const span = decodeJsonRequest(body)[0]?.scopes[0]?.spans[0];
    expect(span?.startNanos).toBe(1_544_712_660_123_456_789n);
    expect(span?.endNanos).toBe(1_544_712_660_987_654_321n);
    expect(span?.attributes).toEqual({ big: '9007199254740993', neg: '-9223372036854775808', text: '"startTimeUnixNano": 1' });
  });

  it('reads enum names, every AnyValue kind and snake_case keys', () => {
    const body = JSON.stringify({
      resource_spans: [
        {
          scope_spans: [
            {
              spans: [
                {
                  trace_id: 'AB'.repeat(16),
                  span_id: 'CD'.repeat(8),
                  kind: 'SPAN_KIND_CLIENT',
                  status: { code: 'STATUS_CODE_ERROR' },
                  start_time_unix_nano: '1',
                  attributes: [
                    { key: 'd', value: { doubleValue: 1.5 } },
                    { key: 'b', value: { boolValue: false } },
                    { key: 'a', value: { arrayValue: { values: [{ stringValue: 'x' }, { intValue: '2' }] } } },
                    { key: 'k', value: { kvlistValue: { values: [{ key: 'in', value: { stringValue: 'side' } }] } } },
                    { key: 'y', value: { bytesValue: 'AQID' } },
                    { key: 'empty', value: {} },
                  ],
                },
              ],
            },
          ],
        },
      ],
    });
    const span = decodeJsonRequest(body)[0]?.scopes[0]?.spans[0];
    expect(span).toMatchObject({ traceId: 'ab'.repeat(16), spanId: 'cd'.repeat(8), kind: 3, statusCode: 2, startNanos: 1n });
    expect(span?.attributes).toEqual({ d: 1.5, b: false, a: ['x', 2], k: { in: 'side' }, y: 'AQID', empty: null });
  });

  it('marks malformed ids as null so that the span can be rejected alone', () => {
    const body = JSON.stringify({
      resourceSpans: [
        {
          scopeSpans: [
            {
              spans: [
                { traceId: 'abc', spanId: '0102030405060708' },
                { traceId: '0'.repeat(32), spanId: '0102030405060708' },
                { traceId: 'zz'.repeat(16), spanId: '0102030405060708' },
                { traceId: 'ab'.repeat(16), spanId: '01020304050607' },
                { traceId: 'ab'.repeat(16), spanId: '0102030405060708', parentSpanId: '01' },
                { traceId: 'ab'.repeat(16), spanId: '0102030405060708', parentSpanId: '0000000000000000' },
              ],
            },
          ],
        },
      ],
    });
    const spans = decodeJsonRequest(body)[0]?.scopes[0]?.spans ?? [];
    expect(spans.map((s) => [s.traceId, s.spanId, s.parentSpanId])).toEqual([
      [null, '0102030405060708', ''],
      [null, '0102030405060708', ''],
      [null, '0102030405060708', ''],
      ['ab'.repeat(16), null, ''],
      ['ab'.repeat(16), '0102030405060708', null],
      ['ab'.repeat(16), '0102030405060708', ''],
    ]);
  });

  it('refuses bodies that are not an ExportTraceServiceRequest', () => {
    expect(() => decodeJsonRequest('not json')).toThrow(SyntaxError);
    expect(() => decodeJsonRequest('[]')).toThrow(/JSON object with a "resourceSpans" array/);
    expect(() => decodeJsonRequest('{"resourceSpans":{}}')).toThrow(/"resourceSpans" must be an array/);
    expect(() => decodeJsonRequest('{"resourceSpans":[{"scopeSpans":[{"spans":7}]}]}')).toThrow(/spans must be an array/);
  });
});

describe('decodeProtobufRequest', () => {
  const request = {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'agent-svc' } }] },
        scopeSpans: [
          {
            scope: { name: 'lib', version: '2' },
            spans: [
              {
                traceId: Buffer.from('5b8efff798038103d269b633813fc60c', 'hex'),
                spanId: Buffer.from('eee19b7ec3c1b174', 'hex'),
                parentSpanId: Buffer.from('eee19b7ec3c1b173', 'hex'),
                name: 'GET /repos',
                kind: 3,
                startTimeUnixNano: '1544712660123456789',
                endTimeUnixNano: '18446744073709551615',
                status: { code: 2, message: 'boom' },
                droppedAttributesCount: 4,
                attributes: [
                  { key: 's', value: { stringValue: '' } },
                  { key: 'i', value: { intValue: '-9007199254740993' } },
                  { key: 'n', value: { intValue: 42 } },
                  { key: 'd', value: { doubleValue: 0.25 } },
                  { key: 'b', value: { boolValue: true } },
                  { key: 'a', value: { arrayValue: { values: [{ stringValue: 'repo:read' }, { stringValue: 'issues:write' }] } } },
                  { key: 'k', value: { kvlistValue: { values: [{ key: 'x', value: { boolValue: false } }] } } },
                  { key: 'y', value: { bytesValue: Buffer.from([1, 2, 3]) } },
                ],
              },
              { traceId: Buffer.alloc(15, 1), spanId: Buffer.alloc(8, 1), startTimeUnixNano: '1' },
              { traceId: Buffer.alloc(16, 1), spanId: Buffer.alloc(8, 1), parentSpanId: Buffer.alloc(8), startTimeUnixNano: '1' },
            ],
          },
        ],
      },
    ],
  };
  const bytes = ExportTraceServiceRequest.encode(ExportTraceServiceRequest.fromObject(request)).finish();

  it('reads spans, ids as lower-case hex, fixed64 times exactly and every AnyValue kind', () => {
    const [rs] = decodeProtobufRequest(bytes);
    expect(rs?.resource).toEqual({ 'service.name': 'agent-svc' });
    expect(rs?.scopes[0]?.scopeName).toBe('lib');
    expect(rs?.scopes[0]?.spans[0]).toEqual({
      traceId: '5b8efff798038103d269b633813fc60c',
      spanId: 'eee19b7ec3c1b174',
      parentSpanId: 'eee19b7ec3c1b173',
      name: 'GET /repos',
      kind: 3,
      startNanos: 1_544_712_660_123_456_789n,
      endNanos: 18_446_744_073_709_551_615n,
      statusCode: 2,
      droppedAttributes: 4,
      attributes: {
        s: '',
        i: '-9007199254740993',
        n: 42,
        d: 0.25,
        b: true,
        a: ['repo:read', 'issues:write'],
        k: { x: false },
        y: 'AQID',
      },
    });
  });

  it('marks a trace id of the wrong length as null', () => {
    expect(decodeProtobufRequest(bytes)[0]?.scopes[0]?.spans[1]?.traceId).toBeNull();
  });

  it('reads an all-zero parent span id as a root span', () => {
    expect(decodeProtobufRequest(bytes)[0]?.scopes[0]?.spans[2]?.parentSpanId).toBe('');
  });

  it('reads an empty body as an empty request and refuses truncated or garbage bytes', () => {
    expect(decodeProtobufRequest(new Uint8Array())).toEqual([]);
    expect(() => decodeProtobufRequest(bytes.subarray(0, bytes.length - 5))).toThrow();
    expect(() => decodeProtobufRequest(Buffer.alloc(16, 0xff))).toThrow();
  });
});
