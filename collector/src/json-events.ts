import { type AttrValue, type Attributes, msToRfc3339, redactSecrets, timestampMs } from '@intentwatch/core';
import { cutAt, limitAttributes, type NormalizeOptions, taskEventRow, timeProblem, tokenEventRow } from './normalize.js';
import { emptyBatch, type RowBatch } from './rows.js';
import { wellFormed } from './well-formed.js';

export interface JsonEventsResult {
  rows: RowBatch;
  rejected: { index: number; message: string }[];
  secretsRedacted: number;
  /** Attribute values cut or attributes dropped by the per-event limits. */
  truncated: number;
}

/**
 * Token or task lifecycle events posted as JSON (CONVENTIONS.md §1.4): each item an object whose
 * keys are the attribute names, plus `time` (RFC 3339 or epoch seconds; the time of receipt when
 * absent). Items that cannot be stored are reported by index; the others are stored.
 */
export function eventsFromJson(
  kind: 'token' | 'task',
  items: unknown[],
  options: Pick<NormalizeOptions, 'maxAttributes' | 'maxAttributeLength'>,
  now = Date.now(),
): JsonEventsResult {
  const result: JsonEventsResult = { rows: emptyBatch(), rejected: [], secretsRedacted: 0, truncated: 0 };
  const ingestedAt = msToRfc3339(now);
  items.forEach((item, index) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      result.rejected.push({ index, message: 'each event must be a JSON object' });
      return;
    }
    // fromEntries defines keys as own properties: a "__proto__" key stays an attribute instead of
    // becoming the prototype, whose values every lookup would see unredacted.
    const attrs: Attributes = Object.fromEntries(Object.entries(item).map(([k, v]) => [wellFormed(k), jsonValue(v, 0)]));
    const time = timestampMs(attrs, 'time');
    delete attrs.time;
    const problem = timeProblem('time', time);
    if (problem) {
      result.rejected.push({ index, message: problem });
      return;
    }
    result.secretsRedacted += redactSecrets(attrs);
    result.truncated += limitAttributes(attrs, options);
    const base = { time: msToRfc3339(time ?? now), ingested_at: ingestedAt, trace_id: '', span_id: '' };
    const eventKey = kind === 'token' ? 'token.event' : 'task.event';
    if (attrs[eventKey] === undefined) {
      result.rejected.push({ index, message: `${eventKey} is required` });
      return;
    }
    const row = kind === 'token' ? tokenEventRow(attrs, base, 'json') : taskEventRow(attrs, base, 'json');
    if (typeof row === 'string') result.rejected.push({ index, message: row });
    else if ('token_id' in row) result.rows.tokenEvents.push(row);
    else result.rows.taskEvents.push(row);
  });
  return result;
}

function jsonValue(v: unknown, depth: number): AttrValue {
  if (typeof v === 'string') return wellFormed(v);
  if (v === null || typeof v === 'number' || typeof v === 'boolean') return v;
  if (depth >= 8) {
    // JSON.stringify recurses: a value nested thousands deep overflows the stack (a 500 for the sender).
    try {
      return cutAt(JSON.stringify(v), 256);
    } catch {
      return '[nested too deep]';
    }
  }
  if (Array.isArray(v)) return v.map((x) => jsonValue(x, depth + 1));
  if (typeof v === 'object') {
    return Object.fromEntries(Object.entries(v as object).map(([k, x]) => [wellFormed(k), jsonValue(x, depth + 1)]));
  }
  return null;
}
