import { rfc3339ToNanos } from '@intentwatch/core';

/**
 * Rows as one block of ClickHouse's `Native` format: the format the engine reads with the least
 * work, because it is already columnar (measured on the benchmark's span rows: 22 / 9 µs of CPU a
 * row to insert at 2,000 / 10,000-row batches, against 35 / 23 for JSONCompactEachRow). No
 * maintained npm package writes Native for Node, so this is written for exactly the column types
 * of the collector's tables, and refuses any other type when it is built.
 *
 * A block is: the number of columns and of rows (varints), then per column its name, its type
 * name (varint-length strings) and its data. The data of each type:
 * - `String`: per row, varint byte length + UTF-8 bytes;
 * - `UInt8/16/32/64`: little-endian fixed width (UInt64: safe integers);
 * - `DateTime64(p, tz)`: Int64 ticks of 10^-p s since the epoch, little-endian;
 * - `Nullable(T)`: one byte per row (1 = null), then T's data with a zero value in null rows;
 * - `Array(String)`: UInt64 cumulative end offsets per row, then every element as a String column;
 * - `Map(String, String)`: as `Array(Tuple(String, String))`: offsets, then all keys, then all values.
 *
 * The types sent are the cheapest to write, not always the table's: `LowCardinality(String)` goes
 * as `String`, `Map(LowCardinality(String), String)` as `Map(String, String)` and
 * `SimpleAggregateFunction(f, T)` as `T`; the engine
 * converts them on insert (`input_format_native_allow_types_conversion`, on by default).
 *
 * Missing values store what the JSON route stores, where null means the column's default
 * (`input_format_null_as_default`): a null or undefined value of a non-Nullable scalar column sends
 * that column as `Nullable(T)` for this block, and the engine fills the column's default (its
 * DEFAULT expression, if any); an Array or Map column (which cannot be Nullable) gets an empty
 * one, which is its default; a Nullable column stores NULL.
 *
 * Values the collector never writes (a time that is not RFC 3339 or outside DateTime64's range, a
 * number outside its column's, an object where text goes) throw a {@link NativeEncodeError} rather
 * than guess what the engine would have made of them as JSON; the collector answers that request
 * 400. Lone UTF-16 surrogates (which the collector replaces before this) are written as U+FFFD.
 */

/** One column as the table declares it: `{ name: 'time', type: "DateTime64(9, 'UTC')" }`. */
export interface NativeColumn {
  name: string;
  type: string;
}

/** A row the encoder cannot write: the value, its column and its row are named in the message. */
export class NativeEncodeError extends Error {
  override name = 'NativeEncodeError';
}

type Scalar =
  | { kind: 'string' }
  | { kind: 'uint'; bytes: 1 | 2 | 4 | 8; max: number }
  | { kind: 'datetime64'; precision: number; minSeconds: number; maxSeconds: number };

type Plan =
  | { name: string; pluck: Pluck; header: Buffer; nullHeader: Buffer | undefined; nullable: boolean; scalar: Scalar; container?: undefined }
  | { name: string; pluck: Pluck; header: Buffer; container: 'array' | 'map' };

/** The column's type with LowCardinality(...) removed at every level (the engine converts back). */
function wireType(type: string): string {
  // A SimpleAggregateFunction column is stored as its value type.
  let t = type.trim().replace(/^SimpleAggregateFunction\(\s*\w+\s*,\s*(.*)\)$/, '$1');
  for (;;) {
    const next = t.replace(/LowCardinality\(\s*([^()]*)\)/, '$1');
    if (next === t) return t;
    t = next;
  }
}

// Times every DateTime64 holds: 1900-01-01 to 2299-12-31 (ClickHouse's range), and for
// DateTime64(9) no later than Int64 nanoseconds allow (2262-04-11T23:47:16.854775807Z).
const MIN_DT64_SECONDS = -2_208_988_800;
const MAX_DT64_SECONDS = 10_413_791_999;
const MAX_DT64_9_SECONDS = 9_223_372_036;

function scalarOf(type: string): Scalar | undefined {
  if (type === 'String') return { kind: 'string' };
  if (type === 'UInt8') return { kind: 'uint', bytes: 1, max: 0xff };
  if (type === 'UInt16') return { kind: 'uint', bytes: 2, max: 0xffff };
  if (type === 'UInt32') return { kind: 'uint', bytes: 4, max: 0xffff_ffff };
  // Counts: JavaScript numbers, so safe integers only.
  if (type === 'UInt64') return { kind: 'uint', bytes: 8, max: Number.MAX_SAFE_INTEGER };
  const dt = /^DateTime64\(\s*(\d)\s*(?:,\s*'[^'\\]*'\s*)?\)$/.exec(type);
  if (dt) {
    const precision = Number(dt[1]);
    return {
      kind: 'datetime64',
      precision,
      minSeconds: MIN_DT64_SECONDS,
      maxSeconds: precision === 9 ? MAX_DT64_9_SECONDS : MAX_DT64_SECONDS,
    };
  }
  return undefined;
}

function header(name: string, type: string): Buffer {
  const w = new Writer(64);
  w.string(name);
  w.string(type);
  w.endStrings();
  return w.buf.subarray(0, w.pos);
}

function planOf(column: NativeColumn): Plan {
  const type = wireType(column.type);
  if (type === 'Array(String)')
    return { name: column.name, pluck: pluck(column.name), header: header(column.name, type), container: 'array' };
  if (/^Map\(\s*String\s*,\s*String\s*\)$/.test(type)) {
    return { name: column.name, pluck: pluck(column.name), header: header(column.name, 'Map(String, String)'), container: 'map' };
  }
  const nullable = /^Nullable\((.*)\)$/.exec(type);
  const inner = nullable ? (nullable[1] as string).trim() : type;
  const scalar = scalarOf(inner);
  if (!scalar) throw new Error(`the Native encoder does not write column ${column.name} of type ${column.type}`);
  return {
    name: column.name,
    pluck: pluck(column.name),
    header: header(column.name, nullable ? `Nullable(${inner})` : inner),
    nullHeader: nullable ? undefined : header(column.name, `Nullable(${inner})`),
    nullable: nullable !== null,
    scalar,
  };
}

/**
 * A column definition of a table's DDL ("time DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1))",
 * "resource_raw String DEFAULT ''") as its name and type.
 */
export function parseColumnDefinition(definition: string): NativeColumn {
  const m = /^\s*`?([A-Za-z_][A-Za-z0-9_]*)`?\s+/.exec(definition);
  if (!m) throw new Error(`cannot read the column definition ${definition}`);
  const rest = definition.slice(m[0].length);
  // The type runs to the end of its name and its balanced parentheses (quoted text skipped).
  let depth = 0;
  let quoted = false;
  let end = 0;
  for (; end < rest.length; end++) {
    const c = rest[end];
    if (quoted) {
      if (c === '\\') end++;
      else if (c === "'") quoted = false;
    } else if (c === "'") quoted = true;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (depth === 0 && /\s/.test(c as string)) break;
  }
  return { name: m[1] as string, type: rest.slice(0, end) };
}

/** The `columns` of a table, in that order, with their types from the table's column definitions. */
export function nativeColumns(definitions: readonly string[], columns: readonly string[]): NativeColumn[] {
  const byName = new Map(definitions.map((d) => parseColumnDefinition(d)).map((c) => [c.name, c]));
  return columns.map((name) => {
    const column = byName.get(name);
    if (!column) throw new Error(`no column ${name} in the table's definition`);
    return column;
  });
}

/**
 * Writes rows of one column list as Native blocks. Build once per table (the column types are
 * checked then); {@link encode} is pure apart from remembering the size of the last block, which
 * sizes the next one's buffer.
 */
export class NativeEncoder {
  readonly columns: readonly NativeColumn[];
  readonly #plans: Plan[];
  #bytesPerRow = 256;

  constructor(columns: readonly NativeColumn[]) {
    this.columns = columns;
    this.#plans = columns.map(planOf);
  }

  /** The rows as one Native block (an empty buffer for no rows). */
  encode(rows: readonly object[]): Buffer {
    const n = rows.length;
    if (n === 0) return Buffer.alloc(0);
    const w = new Writer(Math.ceil(n * this.#bytesPerRow * 1.1) + 1024);
    w.varint(this.#plans.length);
    w.varint(n);
    for (const plan of this.#plans) {
      const values = plan.pluck(rows);
      if (plan.container === undefined) writeScalars(w, plan, values);
      else if (plan.container === 'array') writeArrays(w, plan.header, plan.name, values);
      else writeMaps(w, plan.header, plan.name, values);
    }
    this.#bytesPerRow = Math.max(16, w.pos / n);
    return w.pos * 1.25 < w.buf.length ? Buffer.from(w.buf.subarray(0, w.pos)) : w.buf.subarray(0, w.pos);
  }
}

/**
 * A column's values, read by a function made for that column: a fixed property access, so each
 * column's reads stay monomorphic (one shared `row[name]` read of every column was a third of the
 * encoder's time). Names come from the table's definition, checked to be plain identifiers.
 */
type Pluck = (rows: readonly object[]) => unknown[];

function pluck(name: string): Pluck {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`unexpected column name ${name}`);
  return new Function(
    'rows',
    `const n = rows.length; const out = new Array(n); for (let i = 0; i < n; i++) out[i] = rows[i].${name}; return out;`,
  ) as Pluck;
}

function writeScalars(w: Writer, plan: Extract<Plan, { nullable: boolean }>, values: unknown[]): void {
  const { name, scalar } = plan;
  const n = values.length;
  let nulls = plan.nullable;
  if (!nulls) {
    for (let i = 0; i < n; i++) {
      if (values[i] == null) {
        nulls = true;
        break;
      }
    }
  }
  w.bytes(nulls && !plan.nullable ? (plan.nullHeader as Buffer) : plan.header);
  if (nulls) {
    w.ensure(n);
    for (let i = 0; i < n; i++) w.buf[w.pos++] = values[i] == null ? 1 : 0;
  }
  switch (scalar.kind) {
    case 'string':
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (typeof v === 'string') w.string(v);
        else w.string(v == null ? '' : textOf(v, name, i));
      }
      w.endStrings();
      return;
    case 'uint':
      w.ensure(n * scalar.bytes);
      for (let i = 0; i < n; i++) {
        let v = values[i];
        if (v == null) v = 0;
        else if (typeof v === 'boolean') v = v ? 1 : 0;
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > scalar.max) {
          throw new NativeEncodeError(`${name} of row ${i}: ${preview(v)} is not a whole number from 0 to ${scalar.max}`);
        }
        if (scalar.bytes === 1) w.buf[w.pos] = v;
        else if (scalar.bytes === 2) w.buf.writeUInt16LE(v, w.pos);
        else if (scalar.bytes === 4) w.buf.writeUInt32LE(v, w.pos);
        else {
          w.buf.writeUInt32LE(v % 0x1_0000_0000, w.pos);
          w.buf.writeUInt32LE(Math.floor(v / 0x1_0000_0000), w.pos + 4);
        }
        w.pos += scalar.bytes;
      }
      return;
    case 'datetime64':
      w.ensure(n * 8);
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (v == null) {
          w.buf.fill(0, w.pos, w.pos + 8);
          w.pos += 8;
        } else {
          writeTime(w, v, scalar, name, i);
        }
      }
      return;
  }
}

function writeArrays(w: Writer, head: Buffer, name: string, values: unknown[]): void {
  const n = values.length;
  w.bytes(head);
  w.ensure(n * 8);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v != null) {
      if (!Array.isArray(v)) throw new NativeEncodeError(`${name} of row ${i}: ${preview(v)} is not an array`);
      total += v.length;
    }
    w.uint64(total);
  }
  for (let i = 0; i < n; i++) {
    const v = values[i] as unknown[] | null | undefined;
    if (v == null) continue;
    for (let j = 0; j < v.length; j++) {
      const e = v[j];
      if (typeof e === 'string') w.string(e);
      else w.string(e == null ? '' : textOf(e, name, i));
    }
  }
  w.endStrings();
}

function writeMaps(w: Writer, head: Buffer, name: string, values: unknown[]): void {
  const n = values.length;
  w.bytes(head);
  // Own keys and their values, in the order JSON.stringify writes them (which the JSON route
  // keeps). Object.values lists the values in the order of Object.keys, without a look-up of each
  // key: maps built key by key are hash tables, and a look-up per key cost more than the rest.
  const keys = new Array<string[] | undefined>(n);
  const vals = new Array<unknown[] | undefined>(n);
  w.ensure(n * 8);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v != null) {
      if (typeof v !== 'object' || Array.isArray(v)) throw new NativeEncodeError(`${name} of row ${i}: ${preview(v)} is not a map`);
      let k = Object.keys(v);
      let vs = Object.values(v);
      // JSON.stringify leaves out a key whose value is undefined: so does this.
      if (vs.includes(undefined)) {
        k = k.filter((_, j) => vs[j] !== undefined);
        vs = vs.filter((x) => x !== undefined);
      }
      keys[i] = k;
      vals[i] = vs;
      total += k.length;
    }
    w.uint64(total);
  }
  for (let i = 0; i < n; i++) {
    const k = keys[i];
    if (k) for (let j = 0; j < k.length; j++) w.string(k[j] as string);
  }
  w.endStrings();
  for (let i = 0; i < n; i++) {
    const vs = vals[i];
    if (!vs) continue;
    for (let j = 0; j < vs.length; j++) {
      const v = vs[j];
      if (typeof v === 'string') w.string(v);
      else w.string(v == null ? '' : textOf(v, name, i));
    }
  }
  w.endStrings();
}

/** A number or boolean in a String column, as the engine reads it from JSON. */
function textOf(v: unknown, name: string, row: number): string {
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  throw new NativeEncodeError(`${name} of row ${row}: ${preview(v)} is not text`);
}

function preview(v: unknown): string {
  try {
    return (JSON.stringify(v) ?? String(v)).slice(0, 80);
  } catch {
    return typeof v;
  }
}

const POW10 = [1, 10, 100, 1000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000];
const TWO16 = 65_536;
const TWO32 = 4_294_967_296;

/**
 * An RFC 3339 time as Int64 ticks of the column's precision. The form the collector writes
 * (`2026-11-25T10:00:00.123456789Z`, core/src/time.ts) is read digit by digit; any other form
 * (an offset, a space for the T) goes through core's `rfc3339ToNanos`. Fraction digits beyond the
 * precision are cut, as the engine does when it reads the text.
 */
function writeTime(w: Writer, v: unknown, scalar: Extract<Scalar, { kind: 'datetime64' }>, name: string, row: number): void {
  if (typeof v !== 'string') throw new NativeEncodeError(`${name} of row ${row}: ${preview(v)} is not an RFC 3339 time`);
  let seconds: number;
  let nanos: number;
  const fast = fastSeconds(v);
  if (fast !== undefined) {
    seconds = fast;
    nanos = fastNanos(v);
  } else {
    const total = rfc3339ToNanos(v);
    if (total === undefined) throw new NativeEncodeError(`${name} of row ${row}: ${preview(v)} is not an RFC 3339 time`);
    const s = total / 1_000_000_000n - (total % 1_000_000_000n < 0n ? 1n : 0n);
    seconds = Number(s);
    nanos = Number(total - s * 1_000_000_000n);
  }
  const p = scalar.precision;
  if (seconds < scalar.minSeconds || seconds > scalar.maxSeconds || (p === 9 && seconds === MAX_DT64_9_SECONDS && nanos > 854_775_807)) {
    throw new NativeEncodeError(`${name} of row ${row}: ${preview(v)} is outside the times a DateTime64(${p}) holds`);
  }
  const scale = POW10[p] as number;
  const fraction = Math.floor(nanos / (POW10[9 - p] as number));
  // ticks = seconds * 10^p + fraction, exactly, as two 32-bit halves: doubles hold 53 bits, the
  // ticks of DateTime64(9) need 64. seconds = high * 2^16 + low, so
  // ticks = (high * 10^p) * 2^16 + (low * 10^p + fraction), every product below 2^53.
  const high = Math.floor(seconds / TWO16);
  const low = seconds - high * TWO16;
  const a = high * scale;
  const b = low * scale + fraction;
  const aHigh = Math.floor(a / TWO16);
  const c = (a - aHigh * TWO16) * TWO16 + b;
  const carry = Math.floor(c / TWO32);
  w.buf.writeUInt32LE(c - carry * TWO32, w.pos);
  w.buf.writeInt32LE(aHigh + carry, w.pos + 4);
  w.pos += 8;
}

const DAYS_BEFORE_MONTH = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];

function digit(s: string, i: number): number {
  const d = s.charCodeAt(i) - 48;
  return d >= 0 && d <= 9 ? d : Number.NaN;
}

/**
 * Epoch seconds of "YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z" (the collector's form), or undefined for any
 * other text (then read by the general parser). Days from the civil date by the usual formula
 * (proleptic Gregorian), so every year of the store's range is exact.
 */
function fastSeconds(s: string): number | undefined {
  const len = s.length;
  if (len < 20 || len > 30 || s.charCodeAt(len - 1) !== 90 /* Z */) return undefined;
  if (s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(10) !== 84 || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) {
    return undefined;
  }
  if (len > 20) {
    if (s.charCodeAt(19) !== 46 || len === 21) return undefined;
    for (let i = 20; i < len - 1; i++) if (Number.isNaN(digit(s, i))) return undefined;
  }
  const year = digit(s, 0) * 1000 + digit(s, 1) * 100 + digit(s, 2) * 10 + digit(s, 3);
  const month = digit(s, 5) * 10 + digit(s, 6);
  const day = digit(s, 8) * 10 + digit(s, 9);
  const hour = digit(s, 11) * 10 + digit(s, 12);
  const minute = digit(s, 14) * 10 + digit(s, 15);
  const second = digit(s, 17) * 10 + digit(s, 18);
  // NaN fails every comparison: a non-digit anywhere falls to the general parser.
  if (!(month >= 1 && month <= 12 && day >= 1 && hour <= 23 && minute <= 59 && second <= 59 && year >= 0)) return undefined;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const monthDays = month === 2 ? (leap ? 29 : 28) : month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
  if (day > monthDays) return undefined;
  // Days since 1970-01-01: whole years (with their leap days) from year 0, then the month and day.
  const y = year - 1;
  const daysBeforeYear = 365 * year + Math.floor(y / 4) - Math.floor(y / 100) + Math.floor(y / 400) + 1;
  const days = daysBeforeYear + (DAYS_BEFORE_MONTH[month - 1] as number) + (leap && month > 2 ? 1 : 0) + day - 1 - 719_528;
  return days * 86_400 + hour * 3600 + minute * 60 + second;
}

/** The fraction of a time {@link fastSeconds} read, in nanoseconds. */
function fastNanos(s: string): number {
  let nanos = 0;
  let scale = 100_000_000;
  for (let i = 20; i < s.length - 1; i++) {
    nanos += (s.charCodeAt(i) - 48) * scale;
    scale /= 10;
  }
  return nanos;
}

/** The Buffer methods this file writes with; `utf8Write` is Buffer's own, faster than `write` (no argument juggling). */
interface FastBuffer extends Buffer {
  utf8Write(text: string, offset: number, length?: number): number;
}

/** The one-character strings 0–127: a length below 128 as its varint, which is one byte. */
const LENGTH_CHARS = Array.from({ length: 128 }, (_, n) => String.fromCharCode(n));

/** Strings gathered into one text before a write (see {@link Writer.string}). */
const STRINGS_PER_WRITE = 64;

/**
 * A growing buffer written front to back.
 *
 * Strings are the bulk of a block (tens a row: names, ids, map keys and values), and one call
 * into the runtime per string to encode it as UTF-8 cost more than the rest of the encoding.
 * So runs of short strings are gathered, each behind its length as one character, into one
 * text written with one call, on the bet that they are ASCII (a UTF-16 unit per byte, which
 * makes the length the byte length): the call says how many bytes it wrote, and when that is
 * not the text's length (a string was not ASCII) that run is written again one string at a time.
 * A run must be ended ({@link endStrings}) before anything else is written.
 */
class Writer {
  buf: FastBuffer;
  pos = 0;
  #text = '';
  readonly #run: string[] = new Array<string>(STRINGS_PER_WRITE);
  #runLength = 0;

  constructor(capacity: number) {
    this.buf = Buffer.allocUnsafeSlow(capacity) as FastBuffer;
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.pos + n)) as FastBuffer;
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  bytes(b: Buffer): void {
    this.endStrings();
    this.ensure(b.length);
    b.copy(this.buf, this.pos);
    this.pos += b.length;
  }

  varint(n: number): void {
    this.endStrings();
    this.ensure(10);
    let v = n;
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
  }

  /** A UInt64 that is a safe integer (offsets). */
  uint64(n: number): void {
    const high = Math.floor(n / TWO32);
    this.buf.writeUInt32LE(n - high * TWO32, this.pos);
    this.buf.writeUInt32LE(high, this.pos + 4);
    this.pos += 8;
  }

  /** Varint byte length, then the UTF-8 bytes (gathered into a run; see the class). */
  string(s: string): void {
    if (s.length >= 128) {
      this.endStrings();
      this.#oneString(s);
      return;
    }
    this.#text += (LENGTH_CHARS[s.length] as string) + s;
    this.#run[this.#runLength++] = s;
    if (this.#runLength === STRINGS_PER_WRITE) this.endStrings();
  }

  /** Writes the strings gathered so far. */
  endStrings(): void {
    const count = this.#runLength;
    if (count === 0) return;
    const text = this.#text;
    this.#text = '';
    this.#runLength = 0;
    this.ensure(text.length * 3);
    const written = this.buf.utf8Write(text, this.pos);
    if (written === text.length) this.pos += written;
    else for (let i = 0; i < count; i++) this.#oneString(this.#run[i] as string);
  }

  #oneString(s: string): void {
    const n = s.length;
    if (n < 43) {
      // At most 3 bytes a UTF-16 unit: under 128 bytes, so the length is one byte, written after.
      this.ensure(1 + n * 3);
      const written = n === 0 ? 0 : this.buf.utf8Write(s, this.pos + 1);
      this.buf[this.pos] = written;
      this.pos += 1 + written;
      return;
    }
    const bytes = Buffer.byteLength(s, 'utf8');
    this.varint(bytes);
    this.ensure(bytes);
    this.buf.utf8Write(s, this.pos, bytes);
    this.pos += bytes;
  }
}
