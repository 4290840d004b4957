import { isStorableNanos, nanosToDateTime64, rfc3339ToNanos } from './time.js';

/**
 * Times as the store returns them (RFC 3339, up to nanoseconds) and as query parameters need
 * them ("seconds.fraction": query parameters are parsed strictly, unlike inserted rows).
 */

/**
 * An RFC 3339 time → "seconds.nanoseconds" for a `DateTime64(9)` query parameter, keeping every
 * fractional digit. Returns undefined for anything else, and for a time outside what the store
 * holds (STORE_TIME_RANGE), which the engine would refuse.
 *
 * rfc3339ToDateTime64('2026-11-25T10:00:00.123456789Z') === '1795687200.123456789'
 */
export function rfc3339ToDateTime64(value: string): string | undefined {
  const nanos = rfc3339ToNanos(value);
  return nanos !== undefined && isStorableNanos(nanos) ? nanosToDateTime64(nanos) : undefined;
}

/** Epoch milliseconds of a time the store returned (sub-millisecond digits are dropped). */
export function toMs(value: string): number {
  return Date.parse(value);
}
