/**
 * Time values as ClickHouse reads them. Two forms, because ClickHouse reads query parameters and
 * inserted rows differently:
 * - query parameters (`{since:DateTime64(3, 'UTC')}`): "seconds.fraction" text, read exactly for
 *   any time, whatever the server's time zone — {@link msToDateTime64}, {@link nanosToDateTime64};
 * - inserted rows (JSONEachRow, read with `date_time_input_format=best_effort`): RFC 3339 text —
 *   {@link msToRfc3339}, {@link nanosToRfc3339}. best_effort reads "seconds.fraction" only when the
 *   seconds have 9 or 10 digits (1973–2286) and refuses or misreads other times, which would fail
 *   the whole batch the row is in.
 */

/** Earliest time a DateTime64 column holds (1900-01-01T00:00:00Z), in epoch milliseconds. */
export const MIN_STORE_MS = -2_208_988_800_000;
/** Latest time a DateTime64(9) column holds (2262-04-11T23:47:16.854Z), in epoch milliseconds. */
export const MAX_STORE_MS = 9_223_372_036_854;

/** Earliest and latest time a DateTime64(9) column holds, in epoch nanoseconds. */
export const MIN_STORE_NANOS = -2_208_988_800_000_000_000n;
export const MAX_STORE_NANOS = 9_223_372_036_854_775_807n;
/** The times the store holds, for messages: "from 1900-01-01T00:00:00Z to 2262-04-11T23:47:16Z". */
export const STORE_TIME_RANGE = 'from 1900-01-01T00:00:00Z to 2262-04-11T23:47:16Z';

const RFC3339 = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * An RFC 3339 time → epoch nanoseconds, every fractional digit kept; undefined for anything else.
 * rfc3339ToNanos('2026-11-25T10:00:00.123456789Z') === 1795687200123456789n
 */
export function rfc3339ToNanos(value: string): bigint | undefined {
  const m = RFC3339.exec(value.trim());
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}T${m[2]}${(m[4] ?? 'Z').toUpperCase()}`);
  if (!Number.isFinite(ms)) return undefined;
  return BigInt(Math.floor(ms / 1000)) * 1_000_000_000n + BigInt((m[3] ?? '0').padEnd(9, '0'));
}

/** True when `nanos` is a time every DateTime64(9) column can hold ({@link STORE_TIME_RANGE}, to the nanosecond). */
export function isStorableNanos(nanos: bigint): boolean {
  return nanos >= MIN_STORE_NANOS && nanos <= MAX_STORE_NANOS;
}

/** True when `ms` is a time every DateTime64 column of the schema can hold. */
export function isStorableMs(ms: number): boolean {
  return Number.isFinite(ms) && ms >= MIN_STORE_MS && ms <= MAX_STORE_MS;
}

/** Nanoseconds since the epoch (as a bigint) → "1544712660.123456789" (for query parameters). */
export function nanosToDateTime64(nanos: bigint): string {
  const negative = nanos < 0n;
  const abs = negative ? -nanos : nanos;
  const s = abs / 1_000_000_000n;
  const frac = (abs % 1_000_000_000n).toString().padStart(9, '0');
  return `${negative ? '-' : ''}${s}.${frac}`;
}

/** Milliseconds since the epoch → "1700000000.123" (for query parameters). */
export function msToDateTime64(ms: number): string {
  const whole = Math.floor(ms);
  const s = Math.floor(whole / 1000);
  const frac = String(whole - s * 1000).padStart(3, '0');
  return `${s}.${frac}`;
}

/** Nanoseconds since the epoch → "2018-12-13T14:51:00.123456789Z" (for inserted rows), exact to the nanosecond. */
export function nanosToRfc3339(nanos: bigint): string {
  const ms = nanos / 1_000_000n - (nanos % 1_000_000n < 0n ? 1n : 0n);
  const subMs = nanos - ms * 1_000_000n;
  const iso = new Date(Number(ms)).toISOString();
  return `${iso.slice(0, -1)}${subMs.toString().padStart(6, '0')}Z`;
}

/** Milliseconds since the epoch → "2023-11-14T22:13:20.123Z" (for inserted rows). Throws a RangeError past ±275,000 years. */
export function msToRfc3339(ms: number): string {
  return new Date(Math.floor(ms)).toISOString();
}

/** Nanoseconds since the epoch → epoch milliseconds. */
export function nanosToMs(nanos: bigint): number {
  return Number(nanos / 1_000_000n);
}

/** ClickHouse's RFC 3339 output ("2026-11-25T10:00:00.123456789Z") → epoch milliseconds. */
export function parseStoreTime(value: string): number {
  return Date.parse(value);
}
