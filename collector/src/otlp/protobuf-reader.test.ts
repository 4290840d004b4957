import { DEFAULT_INGEST_LIMITS } from '../settings.js';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';

import { describe, expect, it } from 'vitest';
import { DecodeBudget } from '../limits.js';
import { decodeProtobufRequest } from './decode-protobuf.js';
import { ExportTraceServiceRequest } from './proto.js';
import { readTraceRequest } from './protobuf-reader.js';

// The reference is decodeProtobufRequest: protobufjs reading the schema of proto.ts. The
// hand-written reader must give the same result on every request, and fail where it fails. The
// comparison lifts the ingest limits' nesting depth to what the reference allows (protobuf's
// recursion limit); the limits themselves are tested apart.

const referenceDepth = () => new DecodeBudget({ ...DEFAULT_INGEST_LIMITS, maxDepth: 1000 });

type Outcome = { ok: unknown } | { error: true };

function outcome(decode: (b: Uint8Array) => unknown, bytes: Uint8Array): Outcome {
  try {
    return { ok: decode(bytes) };
  } catch {
    return { error: true };
  }
}

function agree(bytes: Uint8Array): boolean {
  return isDeepStrictEqual(
    outcome((b) => readTraceRequest(b, referenceDepth()), bytes),
    outcome(decodeProtobufRequest, bytes),
  );
}

const encode = (request: object) => Buffer.from(ExportTraceServiceRequest.encode(ExportTraceServiceRequest.fromObject(request)).finish());

const uint64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String);
const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String);
const text = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.constantFrom('', 'token.id', 'service.name', 'ünï 🚀'));
const idBytes = fc.oneof(
  fc.uint8Array({ minLength: 0, maxLength: 17 }),
  fc.integer({ min: 0, max: 17 }).map((n) => new Uint8Array(n)),
  fc.uint8Array({ minLength: 16, maxLength: 16 }),
  fc.uint8Array({ minLength: 8, maxLength: 8 }),
);

const { anyValue } = fc.letrec((tie) => ({
  anyValue: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({ stringValue: text }),
    fc.record({ boolValue: fc.boolean() }),
    fc.record({ intValue: fc.oneof(int64, fc.integer({ min: -1000, max: 1000 }).map(String)) }),
    fc.record({ doubleValue: fc.double() }),
    fc.record({ bytesValue: fc.uint8Array({ maxLength: 12 }) }),
    fc.constant({}),
    fc.record({ arrayValue: fc.record({ values: fc.array(tie('anyValue'), { maxLength: 3 }) }) }),
    fc.record({ kvlistValue: fc.record({ values: fc.array(tie('keyValue'), { maxLength: 3 }) }) }),
  ),
  keyValue: fc.record({ key: text, value: tie('anyValue') }, { requiredKeys: ['key'] }),
}));

const keyValue = fc.record({ key: text, value: anyValue }, { requiredKeys: ['key'] });

const span = fc.record(
  {
    traceId: idBytes,
    spanId: idBytes,
    parentSpanId: idBytes,
    traceState: text,
    name: text,
    kind: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.integer()),
    startTimeUnixNano: uint64,
    endTimeUnixNano: uint64,
    attributes: fc.array(keyValue, { maxLength: 6 }),
    droppedAttributesCount: fc.nat(),
    flags: fc.nat(),
    status: fc.record({ code: fc.integer({ min: -3, max: 3 }), message: text }, { requiredKeys: [] }),
  },
  { requiredKeys: [] },
);

const request = fc.record({
  resourceSpans: fc.array(
    fc.record(
      {
        resource: fc.record({ attributes: fc.array(keyValue, { maxLength: 4 }), droppedAttributesCount: fc.nat() }, { requiredKeys: [] }),
        scopeSpans: fc.array(
          fc.record(
            { scope: fc.record({ name: text, version: text }, { requiredKeys: [] }), spans: fc.array(span, { maxLength: 4 }) },
            { requiredKeys: [] },
          ),
          { maxLength: 3 },
        ),
        schemaUrl: text,
      },
      { requiredKeys: [] },
    ),
    { maxLength: 3 },
  ),
});

/** A field as protobuf bytes: tag, then the payload (length-prefixed for wire type 2). */
function field(id: number, wireType: number, payload: Uint8Array | number[]): Buffer {
  const bytes = Buffer.from(payload);
  return Buffer.concat([varint((id << 3) | wireType), wireType === 2 ? varint(bytes.length) : Buffer.alloc(0), bytes]);
}

function varint(n: number): Buffer {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Buffer.from(out);
}

describe('readTraceRequest', () => {
  it('decodes every generated request exactly as the protobufjs reference does', () => {
    fc.assert(
      fc.property(request, (r) => {
        const bytes = encode(r);
        expect(readTraceRequest(bytes)).toEqual(decodeProtobufRequest(bytes));
      }),
      { numRuns: 300 },
    );
  });

  it('agrees with the reference on truncated and corrupted bytes: same result, or both refuse', () => {
    fc.assert(
      fc.property(
        request,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.nat(),
        (r, flips, cut) => {
          const bytes = encode(r);
          if (bytes.length === 0) return;
          const corrupted = Buffer.from(bytes);
          for (const [at, value] of flips) corrupted[at % corrupted.length] = value;
          expect(agree(corrupted)).toBe(true);
          expect(agree(bytes.subarray(0, cut % bytes.length))).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('merges repeated sub-messages and keeps the last of repeated scalars, as protobuf concatenation means', () => {
    const kv = (key: string, value: Buffer) => field(9, 2, Buffer.concat([field(1, 2, Buffer.from(key)), field(2, 2, value)]));
    const spanBytes = Buffer.concat([
      field(1, 2, Buffer.alloc(16, 1)),
      field(2, 2, Buffer.alloc(8, 2)),
      field(2, 2, Buffer.alloc(8, 3)), // a second span id wins
      field(15, 2, field(3, 0, [2])),
      field(15, 2, field(2, 2, Buffer.from('only a message'))), // merges: the code stays 2
      kv('a', field(1, 2, Buffer.from('text'))),
      // one AnyValue sent twice: the array parts add up and the last field names the value
      kv('b', Buffer.concat([field(5, 2, field(1, 2, field(1, 2, Buffer.from('x')))), field(5, 2, field(1, 2, field(3, 0, [7])))])),
      field(99, 0, [1]), // unknown field
      field(7, 0, [5]), // start time with the wrong wire type: skipped
    ]);
    const body = field(1, 2, field(2, 2, field(2, 2, spanBytes)));
    expect(agree(body)).toBe(true);
    const decoded = readTraceRequest(body)[0]?.scopes[0]?.spans[0];
    expect(decoded).toMatchObject({ spanId: '0303030303030303', statusCode: 2, startNanos: 0n, attributes: { a: 'text', b: ['x', 7] } });
  });

  it('reads invalid UTF-8 as U+FFFD rather than refusing the request', () => {
    const body = field(1, 2, field(2, 2, field(2, 2, Buffer.concat([field(5, 2, [0x61, 0xff, 0x62]), field(1, 2, Buffer.alloc(16, 1))]))));
    expect(agree(body)).toBe(true);
    expect(readTraceRequest(body)[0]?.scopes[0]?.spans[0]?.name).toBe('a\uFFFDb');
  });

  it('refuses nesting deeper than the reference allows, and flattens deep values the same way', () => {
    const nested = (depth: number): Buffer =>
      depth === 0 ? field(1, 2, Buffer.from('leaf')) : field(5, 2, field(1, 2, nested(depth - 1)));
    const body = (depth: number) =>
      field(1, 2, field(2, 2, field(2, 2, field(9, 2, Buffer.concat([field(1, 2, Buffer.from('k')), field(2, 2, nested(depth))])))));
    for (const depth of [3, 9, 40, 47, 48, 49, 60]) expect(agree(body(depth))).toBe(true);
    expect(() => readTraceRequest(body(60), referenceDepth())).toThrow(/max depth/);
    // With the default limits, past INTENTWATCH_MAX_NESTING_DEPTH the request is refused as such.
    expect(() => readTraceRequest(body(40))).toThrow(/nested more than 32 levels deep \(INTENTWATCH_MAX_NESTING_DEPTH\)/);
    expect(readTraceRequest(body(9))[0]?.scopes[0]?.spans[0]?.attributes.k).toEqual([[[[[[[['[nested too deep]']]]]]]]]);
  });
});
