import type { AttrValue, Attributes } from '@intentwatch/core';
import { MAX_VALUE_DEPTH } from './model.js';
import { I64, LEN, VARINT, type Reader } from './wire-reader.js';

/**
 * OTLP's KeyValue and AnyValue read off the wire into intentwatch's attribute values, counted
 * against the request's budget as they are read (an attribute, each nested item, each string).
 */

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
export function attribute(r: Reader, depth: number, out: Attributes): void {
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
