import { DEFAULT_INGEST_LIMITS, type IngestLimits } from './settings.js';
import { type AttrValue, type Attributes, msToRfc3339, redactSecrets, timestampMs } from '@intentwatch/core';
import { DecodeBudget } from './limits.js';
import { cutAt, limitAttributes, type NormalizeOptions, taskEventRow, timeProblem, tokenEventRow } from './normalize.js';
import { emptyBatch, type RowBatch } from './rows.js';
import { wellFormed } from './well-formed.js';

/** Rejected events listed in an answer; the rest are only counted. */
export const MAX_REJECTIONS_LISTED = 10;

export interface JsonEventsResult {
  rows: RowBatch;
  /** The first {@link MAX_REJECTIONS_LISTED} events refused, by index, with the reason. */
  rejected: { index: number; message: string }[];
  /** Every event refused. */
  rejectedCount: number;
  secretsRedacted: number;
  /** Attribute values cut or attributes dropped by the per-event limits. */
  truncated: number;
}

/**
 * Token or task lifecycle events posted as JSON (docs/conventions.md §1.4): each item an object whose
 * keys are the attribute names, plus `time` (RFC 3339 or epoch seconds; the time of receipt when
 * absent). Items that cannot be stored are counted and the first few reported by index; the
 * others are stored. Items, attributes and nested values are counted against `limits` as they are
 * read: past one, a LimitExceededError and nothing is stored.
 */
export function eventsFromJson(kind: 'token' | 'task', items: unknown[], options: EventOptions, now = Date.now()): JsonEventsResult {
  const result: JsonEventsResult = { rows: emptyBatch(), rejected: [], rejectedCount: 0, secretsRedacted: 0, truncated: 0 };
  const budget = new DecodeBudget(options.ingestLimits ?? DEFAULT_INGEST_LIMITS, 'events');
  eventsInto(result, budget, kind, items, 0, items.length, options, now);
  return result;
}

/** Events read between two turns of the event loop. */
export const EVENT_SLICE_ITEMS = 1000;

/** {@link eventsFromJson} a slice of events at a time, with a turn of the event loop between slices. */
export async function eventsFromJsonInSlices(
  kind: 'token' | 'task',
  items: unknown[],
  options: EventOptions,
  sliceItems = EVENT_SLICE_ITEMS,
  now = Date.now(),
): Promise<JsonEventsResult> {
  const result: JsonEventsResult = { rows: emptyBatch(), rejected: [], rejectedCount: 0, secretsRedacted: 0, truncated: 0 };
  const budget = new DecodeBudget(options.ingestLimits ?? DEFAULT_INGEST_LIMITS, 'events');
  for (let from = 0; from < items.length; from += sliceItems) {
    if (from > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    eventsInto(result, budget, kind, items, from, Math.min(items.length, from + sliceItems), options, now);
  }
  return result;
}

type EventOptions = Pick<NormalizeOptions, 'maxAttributes' | 'maxAttributeLength'> & { ingestLimits?: IngestLimits };

/** Reads `items[from..to)` into `result`. */
function eventsInto(
  result: JsonEventsResult,
  budget: DecodeBudget,
  kind: 'token' | 'task',
  items: unknown[],
  from: number,
  to: number,
  options: EventOptions,
  now: number,
): void {
  const reject = (index: number, message: string) => {
    if (result.rejectedCount++ < MAX_REJECTIONS_LISTED) result.rejected.push({ index, message });
  };
  const ingestedAt = msToRfc3339(now);
  for (let index = from; index < to; index++) {
    const item = items[index];
    budget.item();
    budget.startItem();
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      reject(index, 'each event must be a JSON object');
      continue;
    }
    const entries = Object.entries(item);
    budget.attributes(entries.length);
    // fromEntries defines keys as own properties: a "__proto__" key stays an attribute instead of
    // becoming the prototype, whose values every lookup would see unredacted.
    const attrs: Attributes = Object.fromEntries(
      entries.map(([k, v]) => {
        budget.value();
        return [wellFormed(k), jsonValue(v, 0, budget)];
      }),
    );
    const time = timestampMs(attrs, 'time');
    delete attrs.time;
    const problem = timeProblem('time', time);
    if (problem) {
      reject(index, problem);
      continue;
    }
    result.secretsRedacted += redactSecrets(attrs);
    result.truncated += limitAttributes(attrs, options);
    const base = { time: msToRfc3339(time ?? now), ingested_at: ingestedAt, trace_id: '', span_id: '' };
    const eventKey = kind === 'token' ? 'token.event' : 'task.event';
    if (attrs[eventKey] === undefined) {
      reject(index, `${eventKey} is required`);
      continue;
    }
    const row = kind === 'token' ? tokenEventRow(attrs, base, 'json') : taskEventRow(attrs, base, 'json');
    if (typeof row === 'string') reject(index, row);
    else if ('token_id' in row) result.rows.tokenEvents.push(row);
    else result.rows.taskEvents.push(row);
  }
}

/** An event attribute's value (depth 0) or an item nested in one, its values counted in `budget`. */
function jsonValue(v: unknown, depth: number, budget: DecodeBudget): AttrValue {
  if (depth >= budget.limits.maxDepth) budget.depth(depth + 1);
  if (typeof v === 'string') return wellFormed(v);
  if (v === null || typeof v === 'number' || typeof v === 'boolean') return v;
  if (depth >= 8) {
    countNested(v, depth, budget);
    // JSON.stringify recurses: a value nested thousands deep overflows the stack (a 500 for the sender).
    try {
      return cutAt(JSON.stringify(v), 256);
    } catch {
      return '[nested too deep]';
    }
  }
  if (Array.isArray(v)) {
    budget.listItems(v.length);
    return v.map((x) => {
      budget.value();
      return jsonValue(x, depth + 1, budget);
    });
  }
  if (typeof v === 'object') {
    const entries = Object.entries(v as object);
    budget.listItems(entries.length);
    return Object.fromEntries(
      entries.map(([k, x]) => {
        budget.value();
        return [wellFormed(k), jsonValue(x, depth + 1, budget)];
      }),
    );
  }
  return null;
}

/** Counts the values and nesting of a value stored as text (nested past 8 levels) without building it. */
function countNested(v: unknown, depth: number, budget: DecodeBudget): void {
  if (v === null || typeof v !== 'object') return;
  const items = Array.isArray(v) ? v : Object.values(v);
  budget.listItems(items.length);
  for (const x of items) {
    budget.value();
    budget.depth(depth + 2);
    if (x !== null && typeof x === 'object') countNested(x, depth + 1, budget);
  }
}
