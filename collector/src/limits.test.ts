import { DEFAULT_INGEST_LIMITS, type IngestLimits } from './settings.js';
import { describe, expect, it } from 'vitest';
import { eventsFromJson } from './json-events.js';
import { checkJsonLimits } from './json-limits.js';
import { DecodeBudget, LIMIT_VARIABLES, LimitExceededError } from './limits.js';
import { decodeJsonRequest } from './otlp/decode-json.js';
import { ExportTraceServiceRequest } from './otlp/proto.js';
import { readTraceRequest } from './otlp/protobuf-reader.js';

// Each ingest limit, in both OTLP encodings and in JSON events: a request exactly at the limit
// decodes, one item more is refused with a LimitExceededError naming the limit and its variable.

const small: IngestLimits = {
  maxItemsPerRequest: 6,
  maxGroupsPerRequest: 4,
  maxAttributesPerItem: 5,
  maxValuesPerItem: 12,
  maxListItems: 4,
  maxStringLength: 64,
  maxDepth: 3,
};

type Value = string | Value[];
const anyValue = (v: Value): object => (Array.isArray(v) ? { arrayValue: { values: v.map(anyValue) } } : { stringValue: v });
const attrs = (n: number, value: (i: number) => Value = () => 'v') =>
  Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: anyValue(value(i)) }));
const span = (attributes: object[] = [], name = 'use') => ({
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId: 'b7ad6b7169203331',
  name,
  startTimeUnixNano: '1764672000000000000',
  attributes,
});
const request = (spans: object[], scopes = 1, resources = 1) => ({
  resourceSpans: Array.from({ length: resources }, () => ({
    resource: { attributes: attrs(1) },
    scopeSpans: Array.from({ length: scopes }, () => ({ scope: { name: 's' }, spans })),
  })),
});
const nested = (depth: number): Value => (depth <= 1 ? 'leaf' : [nested(depth - 1)]);

const toProtobuf = (req: object) => {
  const withBytes = JSON.parse(JSON.stringify(req), (key, value) =>
    (key === 'traceId' || key === 'spanId') && typeof value === 'string' ? Buffer.from(value, 'hex') : value,
  );
  return ExportTraceServiceRequest.encode(ExportTraceServiceRequest.fromObject(withBytes)).finish();
};

function refusal(decode: () => unknown): LimitExceededError | undefined {
  try {
    decode();
    return undefined;
  } catch (e) {
    if (e instanceof LimitExceededError) return e;
    throw e;
  }
}

/** [limit, a request at it, the same one past it] */
const cases: [keyof IngestLimits, object, object][] = [
  ['maxItemsPerRequest', request(Array.from({ length: 6 }, () => span())), request(Array.from({ length: 7 }, () => span()))],
  ['maxGroupsPerRequest', request([span()], 1, 2), request([], 2, 2)],
  ['maxAttributesPerItem', request([span(attrs(5))]), request([span(attrs(6))])],
  ['maxValuesPerItem', request([span(attrs(3, () => ['a', 'b', 'c']))]), request([span(attrs(4, () => ['a', 'b', 'c']))])],
  ['maxListItems', request([span(attrs(1, () => ['a', 'b', 'c', 'd']))]), request([span(attrs(1, () => ['a', 'b', 'c', 'd', 'e']))])],
  ['maxStringLength', request([span([], 'n'.repeat(64))]), request([span([], 'n'.repeat(65))])],
  ['maxDepth', request([span(attrs(1, () => nested(3)))]), request([span(attrs(1, () => nested(4)))])],
];

describe('ingest limits while decoding OTLP/protobuf', () => {
  for (const [limit, at, past] of cases) {
    it(`decodes a request at ${LIMIT_VARIABLES[limit]} and refuses one past it, naming the variable`, () => {
      expect(refusal(() => readTraceRequest(toProtobuf(at), new DecodeBudget(small)))).toBeUndefined();
      const e = refusal(() => readTraceRequest(toProtobuf(past), new DecodeBudget(small)));
      expect(e?.limit).toBe(limit);
      expect(e?.status).toBe(413);
      expect(e?.message).toContain(LIMIT_VARIABLES[limit]);
    });
  }

  it('counts events, links and unknown fields of a span as its values (skipped, never free)', () => {
    const field = (tag: number, body: Buffer) => Buffer.concat([Buffer.from([tag, body.length]), body]);
    const start = Buffer.concat([Buffer.from([0x39]), Buffer.alloc(8, 1)]);
    // Span{ trace_id, span_id, start_time, events(11) × n, each empty }: nothing decoded, all counted.
    const body = (events: number) => {
      const inner = Buffer.concat([
        field(0x0a, Buffer.alloc(16, 1)),
        field(0x12, Buffer.alloc(8, 2)),
        start,
        Buffer.alloc(events * 2).fill(Buffer.from([0x5a, 0x00])),
      ]);
      return field(0x0a, field(0x12, field(0x12, inner)));
    };
    expect(refusal(() => readTraceRequest(body(12), new DecodeBudget(small)))).toBeUndefined();
    expect(refusal(() => readTraceRequest(body(13), new DecodeBudget(small)))?.limit).toBe('maxValuesPerItem');
  });
});

describe('ingest limits while decoding OTLP/JSON', () => {
  for (const [limit, at, past] of cases) {
    it(`decodes a request at ${LIMIT_VARIABLES[limit]} and refuses one past it, naming the variable`, () => {
      expect(refusal(() => decodeJsonRequest(JSON.stringify(at), small))).toBeUndefined();
      const e = refusal(() => decodeJsonRequest(JSON.stringify(past), small));
      expect(e?.limit).toBe(limit);
      expect(e?.message).toContain(LIMIT_VARIABLES[limit]);
    });
  }

  it('refuses on the text, before JSON.parse builds anything, an array of a million items under an unknown key', () => {
    const text = `{"resourceSpans":[{"junk":[${'0,'.repeat(1_000_000)}0]}]}`;
    expect(refusal(() => checkJsonLimits(text, DEFAULT_INGEST_LIMITS, 'otlp'))?.limit).toBe('maxListItems');
  });

  it('reads strings with escaped quotes and brackets as strings, not structure', () => {
    const tricky = span(attrs(1, () => '"]]]}}}[[[{{{\\"'));
    expect(() => checkJsonLimits(JSON.stringify(request([tricky])), small, 'otlp')).not.toThrow();
  });
});

describe('ingest limits on JSON events', () => {
  const options = { maxAttributes: 128, maxAttributeLength: 4096, ingestLimits: small };
  const event = (extra: Record<string, unknown> = {}) => ({ 'token.event': 'revoked', 'token.id': 't', ...extra });
  const decode = (items: unknown[]) => {
    const text = JSON.stringify(items);
    checkJsonLimits(text, small, 'events');
    return eventsFromJson('token', JSON.parse(text), options);
  };
  const eventCases: [keyof IngestLimits, unknown[], unknown[]][] = [
    ['maxItemsPerRequest', Array.from({ length: 6 }, () => event()), Array.from({ length: 7 }, () => event())],
    ['maxAttributesPerItem', [event({ a: 1, b: 2, c: 3 })], [event({ a: 1, b: 2, c: 3, d: 4 })]],
    ['maxListItems', [event({ l: [1, 2, 3, 4] })], [event({ l: [1, 2, 3, 4, 5] })]],
    ['maxValuesPerItem', [event({ l: [1, 2, 3, 4], m: [1, 2, 3, 4] })], [event({ l: [1, 2, 3, 4], m: [1, 2, 3, 4], n: [1] })]],
    ['maxStringLength', [event({ s: 's'.repeat(64) })], [event({ s: 's'.repeat(65) })]],
    ['maxDepth', [event({ d: [['x']] })], [event({ d: [[['x']]] })]],
  ];
  for (const [limit, at, past] of eventCases) {
    it(`reads events at ${LIMIT_VARIABLES[limit]} and refuses past it, naming the variable`, () => {
      expect(refusal(() => decode(at))).toBeUndefined();
      expect(refusal(() => decode(past))?.limit).toBe(limit);
    });
  }

  it('counts every rejected event but lists only the first ten', () => {
    const result = eventsFromJson('token', [event(), ...Array.from({ length: 5000 }, () => 1)], {
      maxAttributes: 128,
      maxAttributeLength: 4096,
    });
    expect(result.rows.tokenEvents).toHaveLength(1);
    expect(result.rejectedCount).toBe(5000);
    expect(result.rejected.map((r) => r.index)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });
});
