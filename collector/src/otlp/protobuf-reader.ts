import { DEFAULT_INGEST_LIMITS } from '../settings.js';
import type { AttrValue, Attributes } from '@intentwatch/core';
import { DecodeBudget } from '../limits.js';
import { type DecodedResourceSpans, type DecodedScopeSpans, type DecodedSpan, MAX_VALUE_DEPTH } from './model.js';

/**
 * A hand-written reader for OTLP ExportTraceServiceRequest protobuf that goes from bytes straight
 * to the decoded model, without the generic object tree of a schema library (a KeyValue and an
 * AnyValue object per attribute, a Long per timestamp). Decoding was the largest single cost of
 * ingest in the profile (see BENCHMARKS.md); this reader does the same work in a fraction of it
 * and allocates far less.
 *
 * It reads exactly what `decodeProtobufRequest` (protobufjs with the schema in proto.ts) reads:
 * proto3 defaults, last-one-wins scalars, merged repeated sub-messages, unknown fields and
 * fields of the wrong wire type skipped, strings as lenient UTF-8 (invalid sequences become
 * U+FFFD), the same nesting limit; `protobuf-reader.test.ts` checks the two agree on generated
 * requests. It throws on bytes that are not such a message.
 *
 * The ingest limits (../limits.ts) are checked as the bytes are read: the first span, attribute,
 * item, string or nesting level past a limit stops the decoding with a LimitExceededError. The
 * request, resource and scope levels are generators that pause between spans once a slice of
 * work is done, so that a caller can give the event loop back in between
 * ({@link readTraceRequestYielding}); within one span the work is bounded by the per-span limits.
 */

/** protobufjs's (and protoc's) default recursion limit. */
const RECURSION_LIMIT = 100;

/** Wire types. */
export const VARINT = 0;
export const I64 = 1;
export const LEN = 2;
const SGROUP = 3;
const EGROUP = 4;
const I32 = 5;

/** An AnyValue as read, before conversion (only for values nested in arrays and key-value lists). */
interface RawAnyValue {
  kind: string | undefined;
  str: string;
  bool: boolean;
  int: AttrValue;
  dbl: number;
  bytes: Buffer | undefined;
  array: RawAnyValue[] | undefined;
  kvlist: RawKeyValue[] | undefined;
}

interface RawKeyValue {
  key: string;
  value: RawAnyValue | undefined;
}

const TWO_32 = 4294967296;

/** Buffer's unchecked slice-to-string methods (what `toString` calls after validating its arguments). */
type NodeBuffer = Buffer & { utf8Slice(start: number, end: number): string; hexSlice(start: number, end: number): string };

export class Reader {
  readonly buf: Buffer;
  readonly budget: DecodeBudget;
  readonly #maxString: number;
  /** Limits checked on the hot path, read once (the budget throws the refusal). */
  readonly maxAttributes: number;
  readonly maxListItems: number;
  readonly maxDepth: number;
  pos = 0;
  /** End of the message being read. */
  end: number;

  constructor(buf: Buffer, budget: DecodeBudget) {
    this.buf = buf;
    this.end = buf.length;
    this.budget = budget;
    this.#maxString = budget.limits.maxStringLength;
    this.maxAttributes = budget.limits.maxAttributesPerItem;
    this.maxListItems = budget.limits.maxListItems;
    this.maxDepth = budget.limits.maxDepth;
  }

  /** A varint's low 32 bits, unsigned (tags, lengths, uint32, enums, bools). */
  uint32(): number {
    const buf = this.buf;
    let pos = this.pos;
    if (pos >= this.end) throw new RangeError(`index out of range: ${pos} > ${this.end}`);
    let b = buf[pos++]!;
    // Tags and most lengths fit in one byte.
    if (b < 0x80) {
      this.pos = pos;
      return b;
    }
    let result = b & 0x7f;
    let scale = 0x80;
    for (let i = 1; i < 10; i++) {
      if (pos >= this.end) throw new RangeError(`index out of range: ${pos} > ${this.end}`);
      b = buf[pos++]!;
      if (i < 5) result += (b & 0x7f) * scale;
      scale *= 0x80;
      if (b < 0x80) {
        this.pos = pos;
        return result % TWO_32;
      }
    }
    throw new Error('invalid varint encoding');
  }

  /** A field tag: a varint of at most five bytes that fits in 32 bits (else the body is refused). */
  tag(): number {
    const buf = this.buf;
    let pos = this.pos;
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 4; i++) {
      if (pos >= this.end) throw new RangeError(`index out of range: ${pos} > ${this.end}`);
      const b = buf[pos++]!;
      if (b < 0x80) {
        this.pos = pos;
        return value + b * scale;
      }
      value += (b & 0x7f) * scale;
      scale *= 0x80;
    }
    if (pos >= this.end) throw new RangeError(`index out of range: ${pos} > ${this.end}`);
    const last = buf[pos++]!;
    this.pos = pos;
    if (last >= 0x10) throw new Error('invalid tag encoding');
    return value + last * scale;
  }

  /** A varint as a signed 64-bit integer: a number when safe, else its decimal text. */
  int64(): AttrValue {
    const buf = this.buf;
    let pos = this.pos;
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 10; i++) {
      if (pos >= this.end) throw new RangeError(`index out of range: ${pos} > ${this.end}`);
      const b = buf[pos++]!;
      const bits = b & 0x7f;
      if (i < 4) lo += bits * 2 ** (7 * i);
      else if (i === 4) {
        lo += (bits & 0x0f) * 2 ** 28;
        hi += bits >> 4;
      } else hi += bits * 2 ** (7 * i - 32);
      if (b < 0x80) {
        this.pos = pos;
        hi %= TWO_32;
        // Non-negative and below 2^53: the common case, no BigInt needed.
        if (hi < 0x200000) return hi * TWO_32 + lo;
        const big = BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo));
        return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big.toString();
      }
    }
    throw new Error('invalid varint encoding');
  }

  fixed64(): bigint {
    const pos = this.pos;
    if (pos + 8 > this.end) throw new RangeError(`index out of range: ${pos} + 8 > ${this.end}`);
    const lo = this.buf.readUInt32LE(pos);
    const hi = this.buf.readUInt32LE(pos + 4);
    this.pos = pos + 8;
    return hi === 0 ? BigInt(lo) : (BigInt(hi) << 32n) | BigInt(lo);
  }

  double(): number {
    const pos = this.pos;
    if (pos + 8 > this.end) throw new RangeError(`index out of range: ${pos} + 8 > ${this.end}`);
    this.pos = pos + 8;
    return this.buf.readDoubleLE(pos);
  }

  /** The end of a length-delimited field whose length comes next; the reader is left at its start. */
  delimited(): number {
    const len = this.uint32();
    const end = this.pos + len;
    if (end > this.end) throw new RangeError(`index out of range: ${this.pos} + ${len} > ${this.end}`);
    return end;
  }

  string(): string {
    const end = this.delimited();
    const start = this.pos;
    if (end - start > this.#maxString) this.budget.string(end - start);
    this.pos = end;
    return start === end ? '' : (this.buf as NodeBuffer).utf8Slice(start, end);
  }

  bytes(): Buffer {
    const end = this.delimited();
    const start = this.pos;
    if (end - start > this.#maxString) this.budget.string(end - start);
    this.pos = end;
    return this.buf.subarray(start, end);
  }

  /** Skips a field of wire type `wireType` (its tag already read), as protobufjs's skipType does. */
  skip(wireType: number, depth: number, field: number): void {
    if (depth > RECURSION_LIMIT) throw new Error('max depth exceeded');
    if (field === 0) throw new Error('illegal tag: field number 0');
    switch (wireType) {
      case VARINT:
        for (;;) {
          if (this.pos >= this.end) throw new RangeError('index out of range');
          if (this.buf[this.pos++]! < 0x80) break;
        }
        return;
      case I64:
        this.advance(8);
        return;
      case LEN:
        this.pos = this.delimited();
        return;
      case SGROUP:
        for (;;) {
          const tag = this.tag();
          const nested = tag >>> 3;
          const wt = tag & 7;
          if (nested === 0) throw new Error('illegal tag: field number 0');
          if (wt === EGROUP) {
            if (nested !== field) throw new Error('invalid end group tag');
            return;
          }
          this.skip(wt, depth + 1, nested);
        }
      case I32:
        this.advance(4);
        return;
      default:
        throw new Error(`invalid wire type ${wireType} at offset ${this.pos}`);
    }
  }

  advance(n: number): void {
    if (this.pos + n > this.end) throw new RangeError(`index out of range: ${this.pos} + ${n} > ${this.end}`);
    this.pos += n;
  }

  /** Enters a length-delimited sub-message at depth `depth`; returns the outer end to restore. */
  enter(depth: number): number {
    if (depth > RECURSION_LIMIT) throw new Error('max depth exceeded');
    const end = this.delimited();
    const outer = this.end;
    this.end = end;
    return outer;
  }

  leave(outer: number): void {
    if (this.pos !== this.end) throw new RangeError('index out of range');
    this.end = outer;
  }
}

/**
 * Decodes an OTLP/protobuf ExportTraceServiceRequest in one go. Throws on a body that is not one,
 * and a LimitExceededError past a limit of `budget`.
 */
export function readTraceRequest(body: Uint8Array, budget = new DecodeBudget(DEFAULT_INGEST_LIMITS)): DecodedResourceSpans[] {
  const steps = traceRequestSteps(body, budget, Number.POSITIVE_INFINITY);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * {@link readTraceRequest} that gives the event loop back (a `setImmediate` turn) after every
 * `sliceWork` units of work (spans, attributes and nested items read), so that a large request
 * never holds the loop for long.
 */
export async function readTraceRequestYielding(body: Uint8Array, budget: DecodeBudget, sliceWork: number): Promise<DecodedResourceSpans[]> {
  const steps = traceRequestSteps(body, budget, sliceWork);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** When the next pause is due (a work count), shared by the generators of one request. */
interface Pace {
  sliceWork: number;
  next: number;
}

function* traceRequestSteps(body: Uint8Array, budget: DecodeBudget, sliceWork: number): Generator<void, DecodedResourceSpans[]> {
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const r = new Reader(buf, budget);
  const pace: Pace = { sliceWork, next: budget.work + sliceWork };
  const out: DecodedResourceSpans[] = [];
  while (r.pos < r.end) {
    const tag = r.tag();
    const wt = tag & 7;
    const field = tag >>> 3;
    if (field === 1 && wt === LEN) out.push(yield* resourceSpans(r, 1, pace));
    else {
      r.skip(wt, 0, field);
      budget.work++;
    }
    if (budget.work >= pace.next) {
      pace.next = budget.work + pace.sliceWork;
      yield;
    }
  }
  return out;
}

function* resourceSpans(r: Reader, depth: number, pace: Pace): Generator<void, DecodedResourceSpans> {
  r.budget.group('resources and scopes (ResourceSpans and ScopeSpans)');
  const outer = r.enter(depth);
  const attributes: Attributes = {};
  const scopes: DecodedScopeSpans[] = [];
  const count = { attributes: 0 };
  r.budget.startItem();
  while (r.pos < r.end) {
    const tag = r.tag();
    const wt = tag & 7;
    const field = tag >>> 3;
    if (field === 1 && wt === LEN) resource(r, depth + 1, attributes, count);
    else if (field === 2 && wt === LEN) scopes.push(yield* scopeSpans(r, depth + 1, pace));
    else {
      r.skip(wt, depth, field);
      r.budget.work++;
    }
    if (r.budget.work >= pace.next) {
      pace.next = r.budget.work + pace.sliceWork;
      yield;
    }
  }
  r.leave(outer);
  return { resource: attributes, scopes };
}

/** A Resource; a repeated one merges into the first (its attributes add up, and count together). */
function resource(r: Reader, depth: number, attributes: Attributes, count: { attributes: number }): void {
  const outer = r.enter(depth);
  // The values of a resource count apart from those of its spans; a resource split in parts (a
  // repeated field) starts its count again, at most once per part, which the group limit bounds.
  r.budget.startItem();
  while (r.pos < r.end) {
    const tag = r.tag();
    const wt = tag & 7;
    const field = tag >>> 3;
    if (field === 1 && wt === LEN) {
      if (++count.attributes > r.maxAttributes) r.budget.attributes(count.attributes);
      attribute(r, depth + 1, attributes);
    } else if (field === 2 && wt === VARINT) r.uint32();
    else {
      r.skip(wt, depth, field);
      r.budget.value();
    }
  }
  r.leave(outer);
}

function* scopeSpans(r: Reader, depth: number, pace: Pace): Generator<void, DecodedScopeSpans> {
  r.budget.group('resources and scopes (ResourceSpans and ScopeSpans)');
  const outer = r.enter(depth);
  let scopeName = '';
  const spans: DecodedSpan[] = [];
  while (r.pos < r.end) {
    const tag = r.tag();
    const wt = tag & 7;
    const field = tag >>> 3;
    if (field === 1 && wt === LEN) scopeName = scope(r, depth + 1, scopeName);
    else if (field === 2 && wt === LEN) spans.push(span(r, depth + 1));
    else {
      r.skip(wt, depth, field);
      r.budget.work++;
    }
    if (r.budget.work >= pace.next) {
      pace.next = r.budget.work + pace.sliceWork;
      yield;
    }
  }
  r.leave(outer);
  return { scopeName, spans };
}

/** An InstrumentationScope's name (merged: the last name read wins). */
function scope(r: Reader, depth: number, name: string): string {
  const outer = r.enter(depth);
  let result = name;
  // The scope's version and attributes are skipped; each counts as a value of the scope.
  r.budget.startItem();
  while (r.pos < r.end) {
    const tag = r.tag();
    const wt = tag & 7;
    const field = tag >>> 3;
    if (field === 1 && wt === LEN) result = r.string();
    else {
      r.skip(wt, depth, field);
      r.budget.value();
    }
  }
  r.leave(outer);
  return result;
}

function span(r: Reader, depth: number): DecodedSpan {
  const budget = r.budget;
  budget.item();
  budget.startItem();
  let attributeCount = 0;
  const outer = r.enter(depth);
  let traceId: Buffer | undefined;
  let spanId: Buffer | undefined;
  let parentSpanId: Buffer | undefined;
  let name = '';
  let kind = 0;
  let startNanos = 0n;
  let endNanos = 0n;
  let statusCode = 0;
  let droppedAttributes = 0;
  const attributes: Attributes = {};
  while (r.pos < r.end) {
    const tag = r.tag();
    const wt = tag & 7;
    const field = tag >>> 3;
    switch (field) {
      case 1:
        if (wt !== LEN) break;
        traceId = r.bytes();
        continue;
      case 2:
        if (wt !== LEN) break;
        spanId = r.bytes();
        continue;
      case 4:
        if (wt !== LEN) break;
        parentSpanId = r.bytes();
        continue;
      case 5:
        if (wt !== LEN) break;
        name = r.string();
        continue;
      case 6:
        if (wt !== VARINT) break;
        kind = r.uint32() | 0;
        continue;
      case 7:
        if (wt !== I64) break;
        startNanos = r.fixed64();
        continue;
      case 8:
        if (wt !== I64) break;
        endNanos = r.fixed64();
        continue;
      case 9:
        if (wt !== LEN) break;
        if (++attributeCount > r.maxAttributes) budget.attributes(attributeCount);
        attribute(r, depth + 1, attributes);
        continue;
      case 10:
        if (wt !== VARINT) break;
        droppedAttributes = r.uint32();
        continue;
      case 15:
        if (wt !== LEN) break;
        statusCode = status(r, depth + 1, statusCode);
        continue;
    }
    // Events, links and unknown fields are skipped without being decoded, but each counts: a
    // span of millions of empty ones costs time all the same.
    r.skip(wt, depth, field);
    budget.value();
  }
  r.leave(outer);
  return {
    traceId: id(traceId, 16),
    spanId: id(spanId, 8),
    // A root span has no parent: an empty id, or (from some senders) the invalid all-zero one.
    parentSpanId: parentSpanId && !allZero(parentSpanId) ? id(parentSpanId, 8) : '',
    name,
    kind,
    startNanos,
    endNanos,
    statusCode,
    attributes,
    droppedAttributes,
  };
}

/** A Status's code (merged: the last code read wins). */
function status(r: Reader, depth: number, code: number): number {
  const outer = r.enter(depth);
  let result = code;
  while (r.pos < r.end) {
    const tag = r.tag();
    const wt = tag & 7;
    const field = tag >>> 3;
    if (field === 3 && wt === VARINT) result = r.uint32() | 0;
    else {
      r.skip(wt, depth, field);
      r.budget.value();
    }
  }
  r.leave(outer);
  return result;
}

function allZero(bytes: Buffer): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

/** A byte id as lower-case hex, or null when it has the wrong length or is all zeros. */
function id(bytes: Buffer | undefined, length: number): string | null {
  if (!bytes || bytes.length !== length || allZero(bytes)) return null;
  return (bytes as NodeBuffer).hexSlice(0, length);
}

function emptyAnyValue(): RawAnyValue {
  return { kind: undefined, str: '', bool: false, int: 0, dbl: 0, bytes: undefined, array: undefined, kvlist: undefined };
}

/**
 * The AnyValue of the attribute being read. Top-level attributes are read into this one object
 * and converted before the next is read, so a scalar attribute allocates nothing but its value;
 * values nested in arrays and lists get objects of their own.
 */
const scratch = emptyAnyValue();

/**
 * One KeyValue, written into `out`: keyless ones are dropped, a repeated key keeps its last
 * value, a repeated `value` field merges (the last field set names the value).
 */
function attribute(r: Reader, depth: number, out: Attributes): void {
  r.budget.value();
  const outer = r.enter(depth);
  let key = '';
  let hasValue = false;
  scratch.kind = undefined;
  scratch.str = '';
  scratch.bool = false;
  scratch.int = 0;
  scratch.dbl = 0;
  scratch.bytes = undefined;
  scratch.array = undefined;
  scratch.kvlist = undefined;
  while (r.pos < r.end) {
    const tag = r.tag();
    const wt = tag & 7;
    const field = tag >>> 3;
    if (field === 1 && wt === LEN) key = r.string();
    else if (field === 2 && wt === LEN) {
      anyValue(r, depth + 1, scratch, 1);
      hasValue = true;
    } else {
      r.skip(wt, depth, field);
      r.budget.value();
    }
  }
  r.leave(outer);
  if (key) out[key] = hasValue ? convert(scratch, 0) : null;
}

/** A KeyValue nested in a KeyValueList. */
function keyValue(r: Reader, depth: number, level: number): RawKeyValue {
  const outer = r.enter(depth);
  let key = '';
  let value: RawAnyValue | undefined;
  while (r.pos < r.end) {
    const tag = r.tag();
    const wt = tag & 7;
    const field = tag >>> 3;
    if (field === 1 && wt === LEN) key = r.string();
    else if (field === 2 && wt === LEN) value = anyValue(r, depth + 1, value ?? emptyAnyValue(), level);
    else {
      r.skip(wt, depth, field);
      r.budget.value();
    }
  }
  r.leave(outer);
  return { key, value };
}

/**
 * An AnyValue read into `v` (a repeated one merges: the last field set names the value). `level`
 * is its nesting: 1 for an attribute's own value, 2 for an item of that value's array, …
 */
function anyValue(r: Reader, depth: number, v: RawAnyValue, level: number): RawAnyValue {
  if (level > r.maxDepth) r.budget.depth(level);
  const outer = r.enter(depth);
  while (r.pos < r.end) {
    const tag = r.tag();
    const wt = tag & 7;
    const field = tag >>> 3;
    switch (field) {
      case 1:
        if (wt !== LEN) break;
        v.str = r.string();
        v.kind = 'stringValue';
        continue;
      case 2:
        if (wt !== VARINT) break;
        v.bool = r.uint32() !== 0;
        v.kind = 'boolValue';
        continue;
      case 3:
        if (wt !== VARINT) break;
        v.int = r.int64();
        v.kind = 'intValue';
        continue;
      case 4:
        if (wt !== I64) break;
        v.dbl = r.double();
        v.kind = 'doubleValue';
        continue;
      case 5:
        if (wt !== LEN) break;
        v.array = list(r, depth + 1, v.array ?? [], anyValueItem, level + 1);
        v.kind = 'arrayValue';
        continue;
      case 6:
        if (wt !== LEN) break;
        v.kvlist = list(r, depth + 1, v.kvlist ?? [], keyValue, level + 1);
        v.kind = 'kvlistValue';
        continue;
      case 7:
        if (wt !== LEN) break;
        v.bytes = r.bytes();
        v.kind = 'bytesValue';
        continue;
    }
    r.skip(wt, depth, field);
    r.budget.value();
  }
  r.leave(outer);
  return v;
}

function anyValueItem(r: Reader, depth: number, level: number): RawAnyValue {
  return anyValue(r, depth, emptyAnyValue(), level);
}

/** An ArrayValue or KeyValueList: its repeated field 1, appended to `items` (repeats merge), at nesting `level`. */
function list<T>(r: Reader, depth: number, items: T[], item: (r: Reader, depth: number, level: number) => T, level: number): T[] {
  const outer = r.enter(depth);
  const budget = r.budget;
  while (r.pos < r.end) {
    const tag = r.tag();
    const wt = tag & 7;
    const field = tag >>> 3;
    if (field === 1 && wt === LEN) {
      budget.value();
      if (items.length >= r.maxListItems) budget.listItems(items.length + 1);
      items.push(item(r, depth + 1, level));
    } else {
      r.skip(wt, depth, field);
      budget.value();
    }
  }
  r.leave(outer);
  return items;
}

/** KeyValues as attributes: keyless ones dropped, a repeated key keeps its last value. */
function toAttributes(kvs: RawKeyValue[], depth: number): Attributes {
  const out: Attributes = {};
  for (const kv of kvs) {
    if (!kv.key) continue;
    out[kv.key] = convert(kv.value, depth);
  }
  return out;
}

function convert(v: RawAnyValue | undefined, depth: number): AttrValue {
  if (!v) return null;
  switch (v.kind) {
    case 'stringValue':
      return v.str;
    case 'boolValue':
      return v.bool;
    case 'intValue':
      return v.int;
    case 'doubleValue':
      return v.dbl;
    case 'bytesValue':
      return v.bytes ? v.bytes.toString('base64') : '';
    case 'arrayValue':
      if (depth >= MAX_VALUE_DEPTH) return '[nested too deep]';
      return (v.array ?? []).map((x) => convert(x, depth + 1));
    case 'kvlistValue':
      if (depth >= MAX_VALUE_DEPTH) return '{nested too deep}';
      return toAttributes(v.kvlist ?? [], depth + 1);
    default:
      return null;
  }
}
