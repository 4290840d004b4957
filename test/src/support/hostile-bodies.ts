import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';

/**
 * Request bodies of the hostile-ingest findings (issue 12), written as raw bytes so that bodies
 * of millions of items are built in milliseconds: kilobytes on the wire that decode to millions
 * of empty spans, array items or attributes; millions of invalid JSON events; megabytes of empty
 * deflate blocks; and the largest request the default limits allow, for the event-loop checks.
 * Shared by the hostile tests and the benchmark's hostile phase.
 */

export function varint(n: number): Buffer {
  const out: number[] = [];
  let v = n;
  do {
    out.push((v % 128) | (v >= 128 ? 0x80 : 0));
    v = Math.floor(v / 128);
  } while (v > 0);
  return Buffer.from(out);
}

/** A length-delimited protobuf field: tag byte(s), length, body. */
export function field(tag: number, body: Buffer): Buffer {
  return Buffer.concat([varint(tag), varint(body.length), body]);
}

/** `count` copies of `unit`, end to end. */
function repeated(unit: Buffer, count: number): Buffer {
  return Buffer.alloc(unit.length * count).fill(unit);
}

const SPANS = (0x02 << 3) | 2; // ScopeSpans.spans / ResourceSpans.scope_spans
const RESOURCE_SPANS = (0x01 << 3) | 2;

/** ExportTraceServiceRequest{ ResourceSpans{ ScopeSpans{ spans } } } around encoded spans. */
function wrap(spans: Buffer): Buffer {
  return field(RESOURCE_SPANS, field(SPANS, spans));
}

/** The head of a valid span: trace id, span id, start and end time (now), name "use". */
function spanHead(): Buffer {
  const time = Buffer.alloc(8);
  time.writeBigUInt64LE(BigInt(Date.now()) * 1_000_000n);
  return Buffer.concat([
    field(0x0a, randomBytes(16)),
    field(0x12, randomBytes(8)),
    Buffer.from([0x39]),
    time,
    Buffer.from([0x41]),
    time,
    field(0x2a, Buffer.from('use')),
  ]);
}

/** `count` empty spans (two bytes each) in one scope: 8 M of them gzip to ~15 KB. */
export function emptySpans(count: number): Buffer {
  return wrap(repeated(Buffer.from([SPANS, 0x00]), count));
}

/** One span whose one attribute is an array of `count` empty values. */
export function arrayItems(count: number): Buffer {
  const array = field(0x2a, repeated(Buffer.from([0x0a, 0x00]), count)); // AnyValue.array_value{ values × count }
  const keyValue = field(0x4a, Buffer.concat([field(0x0a, Buffer.from('items')), field(0x12, array)]));
  return wrap(field(SPANS, Buffer.concat([spanHead(), keyValue])));
}

/** One span with `count` attributes of distinct keys and no value. */
export function manyAttributes(count: number): Buffer {
  const parts: Buffer[] = [spanHead()];
  for (let i = 0; i < count; i++) parts.push(field(0x4a, field(0x0a, Buffer.from(i.toString(36)))));
  return wrap(field(SPANS, Buffer.concat(parts)));
}

/** A JSON event array: one valid revoke event, then `invalid` items that are not events. */
export function invalidEvents(invalid: number, tokenId = `tok-${randomBytes(4).toString('hex')}`): string {
  return `[{"token.event":"revoked","token.id":"${tokenId}"}${',1'.repeat(invalid)}]`;
}

/**
 * A zlib stream (Content-Encoding: deflate) of about `bytes` bytes made of empty stored deflate
 * blocks: it inflates to nothing at all, so only counting the bytes as sent bounds it.
 */
export function emptyDeflateBlocks(bytes: number): Buffer {
  const block = Buffer.from([0x00, 0x00, 0x00, 0xff, 0xff]); // BFINAL=0, stored, LEN=0, NLEN=0xffff
  const count = Math.max(1, Math.floor((bytes - 11) / block.length));
  return Buffer.concat([
    Buffer.from([0x78, 0x01]),
    repeated(block, count),
    Buffer.from([0x01, 0x00, 0x00, 0xff, 0xff]),
    Buffer.from([0, 0, 0, 1]),
  ]);
}

export const gzip = (body: Buffer | string) => gzipSync(body);

/**
 * The largest request the default limits let through, made of ordinary token uses: `spans`
 * spans (65,536 by default) of one agent, each with the attributes of docs/conventions.md §1 and
 * `extraAttributes` more: about 190 bytes a span, 12.5 MB in all (under the 16 MiB body limit).
 */
export function maximalRequest(options: { spans?: number; service: string; tokenId: string; extraAttributes?: number }): {
  body: Buffer;
  spans: number;
} {
  const spans = options.spans ?? 65_536;
  const keyValue = (key: string, value: string) =>
    Buffer.concat([field(0x0a, Buffer.from(key)), field(0x12, field(0x0a, Buffer.from(value)))]);
  const attr = (key: string, value: string) => field(0x4a, keyValue(key, value)); // Span.attributes
  const common = Buffer.concat([
    attr('token.id', options.tokenId),
    attr('task.id', 'task-maximal'),
    attr('gen_ai.agent.id', 'maximal-agent'),
    attr('server.address', 'api.example.com'),
    attr('token.scope', 'repo:read'),
    ...Array.from({ length: options.extraAttributes ?? 0 }, (_, i) => attr(`app.detail.${i}`, `value-${i}-${'x'.repeat(16)}`)),
  ]);
  const parts: Buffer[] = [];
  for (let i = 0; i < spans; i++) parts.push(field(SPANS, Buffer.concat([spanHead(), common])));
  const resource = field(0x0a, field(0x0a, keyValue('service.name', options.service))); // ResourceSpans.resource{ attributes }
  return { body: field(RESOURCE_SPANS, Buffer.concat([resource, field(SPANS, Buffer.concat(parts))])), spans };
}

/**
 * OTLP/JSON of `spans` ordinary token uses (about 500 bytes a span; 30,000 spans come to 15 MB,
 * near the default 16 MiB body limit): every span a use of `tokenId` on `serverAddress`, starting
 * at `startNanos` (default: now).
 */
export function maximalJsonRequest(options: {
  spans?: number;
  service: string;
  tokenId: string;
  serverAddress?: string;
  startNanos?: bigint;
}): { body: string; spans: number } {
  const spans = options.spans ?? 30_000;
  const now = `${options.startNanos ?? BigInt(Date.now()) * 1_000_000n}`;
  const attr = (k: string, v: string) => `{"key":"${k}","value":{"stringValue":"${v}"}}`;
  const attrs = [
    attr('token.id', options.tokenId),
    attr('task.id', 'task-maximal'),
    attr('gen_ai.agent.id', 'maximal-agent'),
    attr('server.address', options.serverAddress ?? 'api.example.com'),
    attr('token.scope', 'repo:read'),
  ].join(',');
  const parts: string[] = [];
  for (let i = 0; i < spans; i++) {
    parts.push(
      `{"traceId":"${randomBytes(16).toString('hex')}","spanId":"${randomBytes(8).toString('hex')}","name":"use","kind":3,"startTimeUnixNano":"${now}","endTimeUnixNano":"${now}","attributes":[${attrs}]}`,
    );
  }
  const body = `{"resourceSpans":[{"resource":{"attributes":[${attr('service.name', options.service)}]},"scopeSpans":[{"scope":{"name":"bench"},"spans":[${parts.join(',')}]}]}]}`;
  return { body, spans };
}
