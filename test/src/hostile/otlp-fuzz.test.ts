import { gzipSync } from 'node:zlib';
import { rootLogger } from '@intentwatch/core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Sender,
  hex,
  metricValue,
  openStore,
  otlpRequest,
  reconcile,
  startCollector,
  storedSpanIds,
  toProtobuf,
  until,
} from './support.js';

// Hostile bodies against a real collector over the real embedded store, while a valid sender
// keeps sending in the background. Whatever arrives, the collector answers 200 (the malformed
// spans named in partialSuccess) or a 4xx naming the problem — never a 5xx, never a hang — and
// the valid sender never sees anything but 200: one poisoned span must not fail the batch it
// would have shared with other senders' rows.

const MAX_ATTRIBUTES = 32;
const MAX_ATTRIBUTE_LENGTH = 256;
// Runs per property; raise FUZZ_RUNS for a longer search (the default keeps the file to seconds).
const RUNS = Number(process.env.FUZZ_RUNS ?? 60);

let t: Awaited<ReturnType<typeof openStore>>;
let collector: Awaited<ReturnType<typeof startCollector>>;
let background: Sender;

beforeAll(async () => {
  rootLogger().level = 'error';
  t = await openStore({
    INTENTWATCH_MAX_ATTRIBUTES: String(MAX_ATTRIBUTES),
    INTENTWATCH_MAX_ATTRIBUTE_LENGTH: String(MAX_ATTRIBUTE_LENGTH),
    INTENTWATCH_MAX_BODY_BYTES: String(4 * 1024 * 1024),
    INTENTWATCH_BATCH_MS: '10',
  });
  collector = await startCollector(t.store, t.config);
  background = new Sender({ url: collector.url, run: 'bystander', spansPerRequest: 20, concurrency: 2 }).start();
});

afterAll(async () => {
  await background?.stop();
  await collector?.collector.close();
  await t?.dispose();
});

interface Answer {
  status: number;
  text: string;
  contentType: string;
}

async function post(path: string, body: string | Uint8Array, contentType: string, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(`${collector.url}${path}`, {
    method: 'POST',
    body,
    headers: { 'content-type': contentType, ...headers },
    signal: AbortSignal.timeout(15_000),
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, text: bytes.toString('utf8'), contentType: res.headers.get('content-type') ?? '' };
}

/** A JSON answer is 200, or a 4xx whose error names the problem. */
function expectJsonVerdict(a: Answer): void {
  expect([200, 400, 413], a.text.slice(0, 500)).toContain(a.status);
  const body = JSON.parse(a.text);
  if (a.status !== 200) expect(body.error.message.length).toBeGreaterThan(10);
  else if (body.partialSuccess) expect(Number(body.partialSuccess.rejectedSpans)).toBeGreaterThan(0);
}

// --- arbitraries ------------------------------------------------------------------------------

/** Any UTF-16 code unit, lone surrogates included. */
const anyUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
const hostileString = fc.oneof(
  fc.string(),
  fc.string({ unit: anyUnit, maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('\ud800', 'a\udc00b', '\u0000', '%00', "'; DROP TABLE spans; --", '{{x}}', '\\', '"', '\n'),
  fc.integer({ min: 1, max: 200_000 }).map((n) => 'x'.repeat(n)),
);
const junk = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constant(undefined));
const hexOf = (min: number, max: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF'), minLength: min, maxLength: max });
const hostileId = (length: number) =>
  fc.oneof(hexOf(length, length), hexOf(0, length * 2), fc.constant('0'.repeat(length)), hostileString, junk);
const hostileTime = fc.oneof(
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String),
  fc.constantFrom('0', '-1', '1', '9223372036854775807', '9223372036854775808', '18446744073709551615', '99999999999999999999999', '1e18'),
  fc.double(),
  fc.integer(),
  junk,
);
const wellKnownKey = fc.constantFrom(
  'token.id',
  'token.event',
  'task.event',
  'task.id',
  'token.parent_id',
  'token.expires_at',
  'task.deadline',
  'token.max_session_s',
  'token.scopes',
  'token.audience',
  'token.resources',
  'url.full',
  'service.name',
  '__proto__',
  'constructor',
);
const wellKnownValue = fc.constantFrom('issued', 'refreshed', 'exchanged', 'revoked', 'started', 'completed', 'tok-1', 'T-1');

const anyValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({ stringValue: fc.oneof(hostileString, wellKnownValue) }),
    fc.record({ boolValue: fc.oneof(fc.boolean(), junk) }),
    fc.record({ intValue: fc.oneof(hostileTime, fc.constantFrom('abc', '1.5', '')) }),
    fc.record({ doubleValue: fc.oneof(fc.double(), fc.constantFrom('NaN', 'Infinity', '-Infinity', 'x')) }),
    fc.record({ bytesValue: fc.oneof(hostileString, fc.base64String()) }),
    fc.record({ arrayValue: fc.record({ values: fc.array(tie('value'), { maxLength: 4 }) }) }),
    fc.record({ kvlistValue: fc.record({ values: fc.array(tie('kv'), { maxLength: 4 }) }) }),
    junk,
  ),
  kv: fc.record({ key: fc.oneof(wellKnownKey, hostileString, junk), value: tie('value') }),
})).value;
const hostileAttributes = fc.oneof(
  fc.array(fc.record({ key: fc.oneof(wellKnownKey, hostileString), value: anyValue }), { maxLength: 12 }),
  junk,
);

const hostileSpan = fc.record(
  {
    traceId: hostileId(32),
    spanId: hostileId(16),
    parentSpanId: hostileId(16),
    name: fc.oneof(hostileString, junk),
    kind: fc.oneof(fc.integer(), fc.double(), hostileString, junk),
    startTimeUnixNano: hostileTime,
    endTimeUnixNano: hostileTime,
    attributes: hostileAttributes,
    droppedAttributesCount: fc.oneof(fc.integer(), fc.double(), junk),
    status: fc.oneof(fc.record({ code: fc.oneof(fc.integer(), hostileString, junk) }), junk),
  },
  { requiredKeys: [] },
);

const hostileRequest = fc.oneof(
  fc.record({
    resourceSpans: fc.array(
      fc.record(
        {
          resource: fc.oneof(fc.record({ attributes: hostileAttributes }), junk),
          scopeSpans: fc.oneof(
            fc.array(
              fc.record({
                scope: fc.oneof(fc.record({ name: fc.oneof(hostileString, junk) }), junk),
                spans: fc.array(hostileSpan, { maxLength: 6 }),
              }),
              {
                maxLength: 3,
              },
            ),
            junk,
          ),
        },
        { requiredKeys: [] },
      ),
      { maxLength: 3 },
    ),
  }),
  fc.jsonValue(),
);

/** A valid request of a few spans whose strings may hold anything, lone surrogates included. */
const validRequest = fc
  .array(
    fc.record({
      name: fc.string({ unit: anyUnit, maxLength: 30 }),
      attributes: fc.dictionary(
        fc.string({ minLength: 1, maxLength: 10 }).map((k) => `a.${k}`),
        fc.string({ unit: anyUnit, maxLength: 30 }),
        {
          maxKeys: 5,
        },
      ),
      start: fc.bigInt({ min: 1n, max: 9_223_372_036_854_775_807n }),
    }),
    { minLength: 1, maxLength: 5 },
  )
  .map((spans) =>
    otlpRequest(
      { 'service.name': 'fuzz' },
      spans.map((s) => ({ ...s, attributes: { ...s.attributes, 'token.id': 'tok-fuzz' } })),
    ),
  );

/** Ways to damage bytes in transit: cut short, bits flipped, junk spliced in. */
const damage = fc.oneof(
  fc.nat().map((n) => (b: Uint8Array) => b.subarray(0, n % Math.max(b.length, 1))),
  fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 8 }).map((flips) => (b: Uint8Array) => {
    const out = Uint8Array.from(b);
    for (const [at, bit] of flips) if (out.length) out[at % out.length] = (out[at % out.length] as number) ^ (1 << bit);
    return out;
  }),
  fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 16 })).map(([at, bytes]) => (b: Uint8Array) => {
    const i = at % (b.length + 1);
    return Buffer.concat([b.subarray(0, i), bytes, b.subarray(i)]);
  }),
);

// --- properties -------------------------------------------------------------------------------

describe('Collector under hostile OTLP', () => {
  it('answers arbitrary bytes sent as protobuf with 200 or 400 naming the problem', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 4096 }), async (bytes) => {
        const a = await post('/v1/traces', bytes, 'application/x-protobuf');
        expect([200, 400]).toContain(a.status);
        expect(a.contentType).toMatch(/protobuf/);
      }),
      { numRuns: RUNS },
    );
  });

  it('answers truncated, bit-flipped and spliced protobuf requests with 200 or 400', async () => {
    await fc.assert(
      fc.asyncProperty(validRequest, damage, async (request, hurt) => {
        const a = await post('/v1/traces', hurt(toProtobuf(request)), 'application/x-protobuf');
        expect([200, 400]).toContain(a.status);
      }),
      { numRuns: RUNS },
    );
  });

  it('stores valid protobuf and JSON requests whatever their strings hold (lone surrogates, control characters)', async () => {
    await fc.assert(
      fc.asyncProperty(validRequest, fc.boolean(), async (request, protobuf) => {
        const a = protobuf
          ? await post('/v1/traces', toProtobuf(request), 'application/x-protobuf')
          : await post('/v1/traces', JSON.stringify(request), 'application/json');
        expect(a.status, a.text).toBe(200);
        if (!protobuf) expect(JSON.parse(a.text)).toEqual({});
      }),
      { numRuns: RUNS },
    );
  });

  it('answers OTLP/JSON with wrong types, wrong id lengths, extreme timestamps and hostile strings with 200 (partialSuccess) or 400', async () => {
    await fc.assert(
      fc.asyncProperty(hostileRequest, async (request) => {
        expectJsonVerdict(await post('/v1/traces', JSON.stringify(request) ?? 'null', 'application/json'));
      }),
      { numRuns: RUNS * 2 },
    );
  });

  it('answers damaged OTLP/JSON text with 200 or 400', async () => {
    await fc.assert(
      fc.asyncProperty(validRequest, damage, async (request, hurt) => {
        const text = Buffer.from(hurt(Buffer.from(JSON.stringify(request)))).toString('utf8');
        expectJsonVerdict(await post('/v1/traces', text, 'application/json'));
      }),
      { numRuns: RUNS },
    );
  });

  it('answers hostile token and task events (any JSON, hostile keys and values) with 200 or 400', async () => {
    const event = fc.dictionary(
      fc.oneof(wellKnownKey, fc.constant('time'), hostileString),
      fc.oneof(wellKnownValue, hostileTime, hostileString, fc.jsonValue({ maxDepth: 4 })),
      {
        maxKeys: 10,
      },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.array(event, { maxLength: 5 }), fc.jsonValue()),
        fc.constantFrom('token', 'task'),
        async (body, kind) => {
          expectJsonVerdict(await post(`/v1/${kind}-events`, JSON.stringify(body) ?? 'null', 'application/json'));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('cuts attributes past the per-span limits, counts each cut in intentwatch_attributes_truncated_total, and keeps the rest intact', async () => {
    // Lengths around the limit, of text whose characters take one or two UTF-16 units.
    const piece = fc.constantFrom('a', 'é', '中', '😀', '😀', ' ');
    const value = fc.oneof(
      fc.string({ unit: piece, maxLength: 20 }),
      fc.string({ unit: piece, minLength: MAX_ATTRIBUTE_LENGTH / 2 - 4, maxLength: MAX_ATTRIBUTE_LENGTH + 8, size: 'max' }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(value, { maxLength: MAX_ATTRIBUTES * 2, size: 'max' }),
        fc.array(value, { maxLength: MAX_ATTRIBUTES + 4, size: 'max' }),
        async (spanValues, resourceValues) => {
          const attrs = Object.fromEntries(spanValues.map((v, i) => [`k${i}`, v]));
          const resource = Object.fromEntries(resourceValues.map((v, i) => [`r${i}`, v]));
          const spanId = hex(8);
          const before = await metricValue('intentwatch_attributes_truncated_total');
          const a = await post(
            '/v1/traces',
            JSON.stringify(
              otlpRequest({ ...resource, 'service.name': 'limits' }, [{ spanId, attributes: { 'token.id': 'tok-limits', ...attrs } }]),
            ),
            'application/json',
          );
          expect(a.status, a.text).toBe(200);
          const [row] = await t.store.query<{ attributes: Record<string, string>; resource_attributes: Record<string, string> }>(
            'SELECT attributes, resource_attributes FROM spans WHERE span_id = {id:String}',
            { id: spanId },
          );
          const expected = (sent: Record<string, string>) => {
            const entries = Object.entries(sent);
            const kept = entries.slice(0, MAX_ATTRIBUTES);
            const cut = kept.filter(([, v]) => v.length > MAX_ATTRIBUTE_LENGTH).length;
            return { kept, cuts: entries.length - kept.length + cut };
          };
          const own = expected({ 'token.id': 'tok-limits', ...attrs });
          const res = expected({ ...resource, 'service.name': 'limits' });
          for (const [stored, exp] of [
            [row?.attributes ?? {}, own],
            [row?.resource_attributes ?? {}, res],
          ] as const) {
            expect(Object.keys(stored).length).toBe(exp.kept.length);
            for (const [k, v] of exp.kept) {
              const value = stored[k] as string;
              expect(value.length).toBeLessThanOrEqual(MAX_ATTRIBUTE_LENGTH);
              // Cut on a character boundary: what is kept is a prefix of what was sent, never half a character.
              expect(v.startsWith(value)).toBe(true);
              expect(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(value)).toBe(false);
              expect(v.length - value.length).toBeLessThanOrEqual(v.length > MAX_ATTRIBUTE_LENGTH ? v.length : 0);
            }
          }
          expect((await metricValue('intentwatch_attributes_truncated_total')) - before).toBe(own.cuts + res.cuts);
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('Collector under hostile OTLP, one case at a time', () => {
  it('refuses values nested 20,000 deep (JSON) with 413 naming the limit, and stores one nested within it as text', async () => {
    // Written as text: JSON.stringify itself overflows the stack on a value this deep.
    const now = String(BigInt(Date.now()) * 1_000_000n);
    const request = (depth: number, spanId: string, service: string) => {
      const deep = `${'{"arrayValue":{"values":['.repeat(depth)}{"stringValue":"bottom"}${']}}'.repeat(depth)}`;
      return `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"${service}"}}]},"scopeSpans":[{"spans":[{"traceId":"${hex(16)}","spanId":"${spanId}","name":"use","startTimeUnixNano":"${now}","endTimeUnixNano":"${now}","attributes":[{"key":"token.id","value":{"stringValue":"tok-deep"}},{"key":"deep","value":${deep}}]}]}]}]}`;
    };
    const refused = await post('/v1/traces', request(20_000, hex(8), 'too-deep'), 'application/json');
    expect(refused.status, refused.text).toBe(413);
    expect(JSON.parse(refused.text).error.message).toMatch(/INTENTWATCH_MAX_NESTING_DEPTH/);
    expect(await storedSpanIds(t.store, 'too-deep')).toEqual([]);
    const spanId = hex(8);
    const kept = await post('/v1/traces', request(20, spanId, 'deep'), 'application/json');
    expect(kept.status, kept.text).toBe(200);
    expect(await storedSpanIds(t.store, 'deep')).toEqual([spanId]);
  });

  it('answers protobuf nested 50,000 levels deep with 400 or 413, without falling over', async () => {
    const varint = (n: number) => {
      const out: number[] = [];
      do {
        out.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
        n >>>= 7;
      } while (n > 0);
      return Buffer.from(out);
    };
    const field = (tag: number, body: Buffer) => Buffer.concat([Buffer.from([tag]), varint(body.length), body]);
    // AnyValue{ array_value(5): ArrayValue{ values(1): AnyValue{ … string_value(1): "x" } } }, built
    // inside out as headers only (each level's length is known from the level within it).
    const leaf = field(0x0a, Buffer.from('x'));
    const headers: Buffer[] = [];
    let size = leaf.length;
    for (let i = 0; i < 50_000; i++) {
      const values = Buffer.concat([Buffer.from([0x0a]), varint(size)]);
      const array = Buffer.concat([Buffer.from([0x2a]), varint(size + values.length)]);
      headers.push(values, array);
      size += values.length + array.length;
    }
    const deep = Buffer.concat([...headers.reverse(), leaf]);
    const keyValue = Buffer.concat([field(0x0a, Buffer.from('deep')), field(0x12, deep)]);
    const time = Buffer.alloc(8);
    time.writeBigUInt64LE(BigInt(Date.now()) * 1_000_000n);
    // Span{ trace_id(1), span_id(2), start(7, fixed64), end(8, fixed64), attributes(9) } in ScopeSpans in ResourceSpans.
    const span = Buffer.concat([
      field(0x0a, Buffer.from(hex(16), 'hex')),
      field(0x12, Buffer.from(hex(8), 'hex')),
      Buffer.from([0x39]),
      time,
      Buffer.from([0x41]),
      time,
      field(0x4a, keyValue),
    ]);
    const a = await post('/v1/traces', field(0x0a, field(0x12, field(0x12, span))), 'application/x-protobuf');
    expect([400, 413]).toContain(a.status);
  });

  it('answers a gzip bomb with 413 without inflating it', async () => {
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024));
    const a = await post('/v1/traces', bomb, 'application/json', { 'content-encoding': 'gzip' });
    expect(a.status).toBe(413);
    expect(JSON.parse(a.text).error.message).toMatch(/larger than/);
  });

  it('answers token and task events with values nested 200,000 deep with 200 or 400, never 5xx', async () => {
    const deep = `${'['.repeat(200_000)}${']'.repeat(200_000)}`;
    const token = `[{"token.event":"revoked","token.id":"tok-deep","deep":${deep}}]`;
    expectJsonVerdict(await post('/v1/token-events', token, 'application/json'));
    const task = `[{"task.event":"started","task.id":"task-deep","task.tools":${deep}}]`;
    expectJsonVerdict(await post('/v1/task-events', task, 'application/json'));
  });

  it('cuts token and task events past the per-event limits and counts each cut', async () => {
    const before = await metricValue('intentwatch_attributes_truncated_total');
    const extra = Object.fromEntries(Array.from({ length: MAX_ATTRIBUTES + 5 }, (_, i) => [`x${i}`, 'v']));
    const long = `${'a'.repeat(MAX_ATTRIBUTE_LENGTH - 1)}😀tail`;
    const a = await post(
      '/v1/token-events',
      JSON.stringify([{ 'token.event': 'revoked', 'token.id': 'tok-event-limits', 'token.revoked_reason': long, ...extra }]),
      'application/json',
    );
    expect(a.status, a.text).toBe(200);
    const [row] = await t.store.query<{ reason: string; n: string }>(
      "SELECT revoked_reason AS reason, length(mapKeys(attributes)) AS n FROM token_events WHERE token_id = 'tok-event-limits'",
    );
    // token.event, token.id and the reason come first, so they are kept; the reason is cut before the emoji.
    expect(row?.reason).toBe('a'.repeat(MAX_ATTRIBUTE_LENGTH - 1));
    expect(Number(row?.n)).toBe(MAX_ATTRIBUTES);
    // Each attribute dropped past the limit, and the one value cut.
    const sent = 3 + Object.keys(extra).length;
    expect((await metricValue('intentwatch_attributes_truncated_total')) - before).toBe(sent - MAX_ATTRIBUTES + 1);
  });

  it('keeps the spans of a request beside the ones it rejects (ids of wrong length, timestamps past 2262)', async () => {
    const good = hex(8);
    const request = otlpRequest({ 'service.name': 'mixed' }, [
      { spanId: good, attributes: { 'token.id': 'tok-mixed' } },
      { spanId: hex(7), attributes: { 'token.id': 'tok-mixed' } },
      { spanId: hex(8), start: 18_446_744_073_709_551_615n, attributes: { 'token.id': 'tok-mixed' } },
      { spanId: hex(8), start: 1n, attributes: { 'token.event': 'issued', 'token.id': 'tok-mixed', 'token.expires_at': -99_999_999_999 } },
    ]);
    const a = await post('/v1/traces', JSON.stringify(request), 'application/json');
    expect(a.status).toBe(200);
    const body = JSON.parse(a.text);
    expect(body.partialSuccess.rejectedSpans).toBe('3');
    expect(body.partialSuccess.errorMessage).toMatch(/spanId must be 8 bytes/);
    expect(body.partialSuccess.errorMessage).toMatch(/2262/);
    expect(body.partialSuccess.errorMessage).toMatch(/token\.expires_at/);
    expect(await storedSpanIds(t.store, 'mixed')).toEqual([good]);
  });

  it('left the valid sender running beside all of the above with nothing but 200, every acknowledged span stored', async () => {
    await until('the bystander to have sent something', () => background.acknowledged.size > 0);
    await background.stop();
    const result = reconcile(background, await storedSpanIds(t.store, 'bystander'));
    console.info('bystander during fuzzing:', JSON.stringify(result));
    expect(result.outcomes).toEqual({ '200': result.requests });
    expect(result.lost).toBe(0);
    expect(result.storedDistinct).toBe(result.acknowledged);
  });
});
