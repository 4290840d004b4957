import type { IngestLimits } from '../settings.js';
import { DecodeBudget, LimitExceededError } from '../limits.js';
import { LEN, Reader } from './wire-reader.js';

/**
 * The ingest limits (../limits.ts) on an OTLP/protobuf ExportLogsServiceRequest, checked on the
 * wire before anything is decoded: one pass that builds nothing and stops at the first limit
 * passed — resources and scopes (groups), log records (items, at most `maxRecords`), attributes
 * per record or resource, values per record (its attributes, its body and everything nested in
 * them), items per array or key-value list, nesting, and the length of every string outside a
 * record's body. A body (the source's own record: a whole CloudTrail file as one string, say) is
 * bounded by the request's size and the nesting limit, as in the JSON encoding
 * (`checkJsonLimits(…, 'logs')`). Field numbers as in logs.ts. Throws a LimitExceededError, or an
 * Error / RangeError for bytes that are not such a message (the decoder would refuse them too).
 */
export function checkLogsProtobufLimits(body: Uint8Array, limits: IngestLimits, maxRecords: number): void {
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const r = new Reader(buf, new DecodeBudget({ ...limits, maxItemsPerRequest: maxRecords }, 'log records'));
  fields(r, 0, (field) => {
    if (field !== 1) return false;
    sub(r, 1, resourceLogs);
    return true;
  });
}

const GROUPS = 'resources and scopes (ResourceLogs and ScopeLogs)';

/** Reads the fields of the current message; `read` returns false for a field it leaves to be skipped. */
function fields(r: Reader, depth: number, read: (field: number, depth: number) => boolean): void {
  while (r.pos < r.end) {
    const tag = r.tag();
    const field = tag >>> 3;
    const wireType = tag & 7;
    if (!(wireType === LEN && field !== 0 && read(field, depth))) r.skip(wireType, depth, field);
  }
}

/** Reads a length-delimited sub-message with `read`. */
function sub(r: Reader, depth: number, read: (r: Reader, depth: number) => void): void {
  const outer = r.enter(depth);
  read(r, depth);
  r.leave(outer);
}

function resourceLogs(r: Reader, depth: number): void {
  r.budget.group(GROUPS);
  fields(r, depth, (field, d) => {
    if (field === 1) sub(r, d + 1, (rr, dd) => attributesOf(rr, dd, 1));
    else if (field === 2) sub(r, d + 1, scopeLogs);
    else return false;
    return true;
  });
}

function scopeLogs(r: Reader, depth: number): void {
  r.budget.group(GROUPS);
  fields(r, depth, (field, d) => {
    if (field !== 2) return false;
    sub(r, d + 1, logRecord);
    return true;
  });
}

/** A Resource's attributes (field 1) or a LogRecord's (field 6); the body (field 5) too when `bodyField` is given. */
function attributesOf(r: Reader, depth: number, attributesField: number, bodyField = 0): void {
  const budget = r.budget;
  budget.startItem();
  let count = 0;
  fields(r, depth, (field, d) => {
    if (field === attributesField) {
      if (++count > r.maxAttributes) budget.attributes(count);
      budget.value();
      sub(r, d + 1, (rr, dd) => keyValue(rr, dd, 1, false));
    } else if (field === bodyField) {
      sub(r, d + 1, (rr, dd) => anyValue(rr, dd, 1, true));
    } else return false;
    return true;
  });
}

function logRecord(r: Reader, depth: number): void {
  try {
    r.budget.item();
  } catch (e) {
    // The records bound is the collector's own (MAX_LOG_RECORDS_PER_REQUEST): the caller says so.
    if (e instanceof LimitExceededError) throw new TooManyLogRecords();
    throw e;
  }
  attributesOf(r, depth, 6, 5);
}

/** Thrown past `maxRecords`; logs.ts turns it into its TooManyRecordsError. */
export class TooManyLogRecords extends Error {}

function keyValue(r: Reader, depth: number, level: number, inBody: boolean): void {
  fields(r, depth, (field, d) => {
    if (field === 1) text(r, inBody);
    else if (field === 2) sub(r, d + 1, (rr, dd) => anyValue(rr, dd, level, inBody));
    else return false;
    return true;
  });
}

/** An AnyValue `level` levels deep (an attribute's or the body's own value is level 1). */
function anyValue(r: Reader, depth: number, level: number, inBody: boolean): void {
  if (level > r.maxDepth) r.budget.depth(level);
  fields(r, depth, (field, d) => {
    if (field === 1 || field === 7) text(r, inBody);
    else if (field === 5 || field === 6) sub(r, d + 1, (rr, dd) => list(rr, dd, level, inBody, field === 6));
    else return false;
    return true;
  });
}

/** The items (field 1) of an ArrayValue or a KeyValueList. */
function list(r: Reader, depth: number, level: number, inBody: boolean, keyed: boolean): void {
  let count = 0;
  fields(r, depth, (field, d) => {
    if (field !== 1) return false;
    if (++count > r.maxListItems) r.budget.listItems(count);
    r.budget.value();
    sub(r, d + 1, (rr, dd) => (keyed ? keyValue(rr, dd, level + 1, inBody) : anyValue(rr, dd, level + 1, inBody)));
    return true;
  });
}

/** Skips a string or bytes field, measuring it unless it is part of a record's body. */
function text(r: Reader, inBody: boolean): void {
  const end = r.delimited();
  if (!inBody && end - r.pos > r.budget.limits.maxStringLength) r.budget.string(end - r.pos);
  r.pos = end;
}
