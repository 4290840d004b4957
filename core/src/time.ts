/**
 * Time values as ClickHouse reads them. DateTime64 columns accept "seconds.fraction" text
 * exactly, which keeps nanosecond precision that a JavaScript number would lose.
 */

/** Nanoseconds since the epoch (as a bigint) → "1544712660.123456789". */
export function nanosToDateTime64(nanos: bigint): string {
  const negative = nanos < 0n;
  const abs = negative ? -nanos : nanos;
  const s = abs / 1_000_000_000n;
  const frac = (abs % 1_000_000_000n).toString().padStart(9, '0');
  return `${negative ? '-' : ''}${s}.${frac}`;
}

/** Milliseconds since the epoch → "1700000000.123". */
export function msToDateTime64(ms: number): string {
  const whole = Math.floor(ms);
  const s = Math.floor(whole / 1000);
  const frac = String(whole - s * 1000).padStart(3, '0');
  return `${s}.${frac}`;
}

/** Nanoseconds since the epoch → epoch milliseconds. */
export function nanosToMs(nanos: bigint): number {
  return Number(nanos / 1_000_000n);
}

/** ClickHouse's RFC 3339 output ("2026-11-25T10:00:00.123456789Z") → epoch milliseconds. */
export function parseStoreTime(value: string): number {
  return Date.parse(value);
}
