import { DEFAULT_INGEST_LIMITS, type IngestLimits } from '../settings.js';
import type { AttrValue, Attributes } from '@intentwatch/core';
import { jsonLimitSteps } from '../json-limits.js';
import { DecodeBudget } from '../limits.js';
import { parseJson } from '../well-formed.js';
import { type DecodedResourceSpans, type DecodedSpan, MAX_VALUE_DEPTH } from './model.js';

/** Thrown for an OTLP/JSON body that is not an ExportTraceServiceRequest. */
export class JsonShapeError extends Error {}

/**
 * 64-bit integers that OTLP/JSON may write as bare numbers beyond 2^53. They are quoted before
 * JSON.parse so that no digit is lost. The pattern requires the key's closing quote right after
 * the name, so text inside a JSON string (where quotes are escaped) is never rewritten.
 */
const BIG_NUMBER_KEYS = /"(startTimeUnixNano|endTimeUnixNano|timeUnixNano|intValue|rejectedSpans)"(\s*):(\s*)(-?\d+)(?=\s*[,}\]])/g;

/**
 * Parses an OTLP/JSON ExportTraceServiceRequest (ids hex in any case, times as strings or
 * numbers). The text is checked against `limits` before it is parsed and the request's spans,
 * attributes and values are counted as they are read: past a limit, a LimitExceededError.
 */
export function decodeJsonRequest(text: string, limits: IngestLimits = DEFAULT_INGEST_LIMITS): DecodedResourceSpans[] {
  const steps = decodeSteps(text, limits, Number.POSITIVE_INFINITY);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * {@link decodeJsonRequest} that gives the event loop back between slices of about `sliceWork`
 * (characters checked, quoted or spans read): only `JSON.parse` itself runs in one go.
 */
export async function decodeJsonRequestYielding(text: string, limits: IngestLimits, sliceWork: number): Promise<DecodedResourceSpans[]> {
  const steps = decodeSteps(text, limits, sliceWork);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** Characters of JSON text checked or quoted between two turns of the event loop. */
const TEXT_SLICE = 1 << 20;

function* decodeSteps(text: string, limits: IngestLimits, sliceWork: number): Generator<void, DecodedResourceSpans[]> {
  yield* jsonLimitSteps(text, limits, 'otlp', Number.isFinite(sliceWork) ? TEXT_SLICE : Number.POSITIVE_INFINITY);
  const quoted = yield* quoteBigNumbers(text, Number.isFinite(sliceWork) ? TEXT_SLICE : Number.POSITIVE_INFINITY);
  const budget = new DecodeBudget(limits, 'spans');
  const parsed: unknown = parseJson(quoted);
  if (!isObject(parsed)) throw new JsonShapeError('the body must be a JSON object with a "resourceSpans" array');
  const resourceSpans = parsed.resourceSpans ?? parsed.resource_spans ?? [];
  if (!Array.isArray(resourceSpans)) throw new JsonShapeError('"resourceSpans" must be an array');
  let nextPause = sliceWork;
  const out: DecodedResourceSpans[] = [];
  for (const [i, rs] of resourceSpans.entries()) {
    if (!isObject(rs)) throw new JsonShapeError(`resourceSpans[${i}] must be an object`);
    budget.group('resources and scopes (resourceSpans and scopeSpans)');
    const resource = isObject(rs.resource) ? rs.resource : {};
    const scopeSpans = rs.scopeSpans ?? rs.scope_spans ?? [];
    if (!Array.isArray(scopeSpans)) throw new JsonShapeError(`resourceSpans[${i}].scopeSpans must be an array`);
    const decoded: DecodedResourceSpans = { resource: resourceAttributes(resource.attributes, budget), scopes: [] };
    out.push(decoded);
    for (const [j, ss] of scopeSpans.entries()) {
      if (!isObject(ss)) throw new JsonShapeError(`resourceSpans[${i}].scopeSpans[${j}] must be an object`);
      budget.group('resources and scopes (resourceSpans and scopeSpans)');
      const spans = ss.spans ?? [];
      if (!Array.isArray(spans)) throw new JsonShapeError(`resourceSpans[${i}].scopeSpans[${j}].spans must be an array`);
      const scope = isObject(ss.scope) ? ss.scope : {};
      const read: DecodedSpan[] = [];
      decoded.scopes.push({ scopeName: typeof scope.name === 'string' ? scope.name : '', spans: read });
      for (const s of spans) {
        read.push(span(s, budget));
        if (budget.work >= nextPause) {
          nextPause = budget.work + sliceWork;
          yield;
        }
      }
    }
  }
  return out;
}

/**
 * `text` with the 64-bit integers of {@link BIG_NUMBER_KEYS} quoted, a slice at a time: slices
 * end right after a comma, and no match holds a comma, so none is cut in two.
 */
function* quoteBigNumbers(text: string, slice: number): Generator<void, string> {
  if (text.length <= slice) return text.replace(BIG_NUMBER_KEYS, '"$1"$2:$3"$4"');
  const parts: string[] = [];
  let from = 0;
  while (from < text.length) {
    const comma = text.indexOf(',', from + slice);
    const to = comma < 0 ? text.length : comma + 1;
    parts.push(text.slice(from, to).replace(BIG_NUMBER_KEYS, '"$1"$2:$3"$4"'));
    from = to;
    if (from < text.length) yield;
  }
  return parts.join('');
}

/** A resource's attributes, its values counted apart from those of its spans. */
function resourceAttributes(list: unknown, budget: DecodeBudget): Attributes {
  budget.startItem();
  return keyValues(list, 0, budget);
}

function span(s: unknown, budget: DecodeBudget): DecodedSpan {
  budget.item();
  budget.startItem();
  const o = isObject(s) ? s : {};
  const status = isObject(o.status) ? o.status : {};
  return {
    traceId: hexId(o.traceId ?? o.trace_id, 32),
    spanId: hexId(o.spanId ?? o.span_id, 16),
    parentSpanId: parentId(o.parentSpanId ?? o.parent_span_id),
    name: typeof o.name === 'string' ? o.name : '',
    kind: enumValue(o.kind, SPAN_KINDS),
    startNanos: nanos(o.startTimeUnixNano ?? o.start_time_unix_nano),
    endNanos: nanos(o.endTimeUnixNano ?? o.end_time_unix_nano),
    statusCode: enumValue(status.code, STATUS_CODES),
    attributes: keyValues(o.attributes, 0, budget),
    droppedAttributes: typeof o.droppedAttributesCount === 'number' ? o.droppedAttributesCount : 0,
  };
}

const SPAN_KINDS = [
  'SPAN_KIND_UNSPECIFIED',
  'SPAN_KIND_INTERNAL',
  'SPAN_KIND_SERVER',
  'SPAN_KIND_CLIENT',
  'SPAN_KIND_PRODUCER',
  'SPAN_KIND_CONSUMER',
];
const STATUS_CODES = ['STATUS_CODE_UNSET', 'STATUS_CODE_OK', 'STATUS_CODE_ERROR'];

function enumValue(v: unknown, names: string[]): number {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string') {
    const i = names.indexOf(v);
    return Math.max(i, 0);
  }
  return 0;
}

/** A hex id of the given length as lower case, or null when malformed or all zeros. */
function hexId(v: unknown, hexLength: number): string | null {
  if (typeof v !== 'string' || v.length !== hexLength || !/^[0-9a-fA-F]+$/.test(v)) return null;
  const lower = v.toLowerCase();
  return /^0+$/.test(lower) ? null : lower;
}

/** A parent span id: '' for a root span (absent, empty, or the invalid all-zero id), else as {@link hexId}. */
function parentId(v: unknown): string | null {
  if (v === undefined || v === null || v === '' || (typeof v === 'string' && /^0{16}$/.test(v))) return '';
  return hexId(v, 16);
}

function nanos(v: unknown): bigint {
  if (typeof v === 'string' && /^\d{1,20}$/.test(v)) return BigInt(v);
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return BigInt(Math.trunc(v));
  return 0n;
}

/** Attributes (depth 0) or a kvlist's items (depth ≥ 1), each counted as a value of the current item. */
export function keyValues(list: unknown, depth: number, budget: DecodeBudget): Attributes {
  const out: Attributes = {};
  if (!Array.isArray(list)) return out;
  if (depth === 0) budget.attributes(list.length);
  else budget.listItems(list.length);
  for (const kv of list) {
    budget.value();
    if (!isObject(kv) || typeof kv.key !== 'string' || kv.key === '') continue;
    out[kv.key] = anyValue(kv.value, depth, budget);
  }
  return out;
}

export function anyValue(v: unknown, depth: number, budget: DecodeBudget): AttrValue {
  if (!isObject(v)) return null;
  budget.depth(depth + 1);
  if (typeof v.stringValue === 'string') return v.stringValue;
  if (typeof v.boolValue === 'boolean') return v.boolValue;
  if (v.intValue !== undefined) {
    const s = String(v.intValue);
    if (!/^-?\d+$/.test(s)) return null;
    const n = Number(s);
    return Number.isSafeInteger(n) ? n : s;
  }
  if (v.doubleValue !== undefined) {
    const n = Number(v.doubleValue);
    return Number.isFinite(n) ? n : String(v.doubleValue);
  }
  if (typeof v.bytesValue === 'string') return v.bytesValue;
  if (isObject(v.arrayValue)) {
    if (depth >= MAX_VALUE_DEPTH) return countNested(v, depth, budget, '[nested too deep]');
    const values = Array.isArray(v.arrayValue.values) ? v.arrayValue.values : [];
    budget.listItems(values.length);
    return values.map((x) => {
      budget.value();
      return anyValue(x, depth + 1, budget);
    });
  }
  if (isObject(v.kvlistValue)) {
    if (depth >= MAX_VALUE_DEPTH) return countNested(v, depth, budget, '{nested too deep}');
    return keyValues(v.kvlistValue.values, depth + 1, budget);
  }
  return null;
}

/**
 * Counts the values and nesting of an AnyValue stored as text (past MAX_VALUE_DEPTH) without
 * building them, so that the limits hold there as they do for the protobuf encoding; returns `text`.
 */
function countNested(v: Record<string, unknown>, depth: number, budget: DecodeBudget, text: string): string {
  const items = isObject(v.arrayValue) ? v.arrayValue.values : isObject(v.kvlistValue) ? v.kvlistValue.values : undefined;
  if (!Array.isArray(items)) return text;
  budget.listItems(items.length);
  for (const item of items) {
    budget.value();
    const inner = isObject(v.kvlistValue) ? (isObject(item) ? item.value : undefined) : item;
    if (isObject(inner)) {
      budget.depth(depth + 2);
      countNested(inner, depth + 1, budget, text);
    }
  }
  return text;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
