import type { Attributes } from '@intentwatch/core';
import { DEFAULT_INGEST_LIMITS } from '../settings.js';
import { DecodeBudget } from '../limits.js';
import type { DecodedResourceSpans, DecodedScopeSpans, DecodedSpan } from './model.js';
import { attribute } from './wire-attributes.js';
import { I64, LEN, type NodeBuffer, Reader, VARINT } from './wire-reader.js';

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
