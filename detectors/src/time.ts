/**
 * Times as the store returns them (RFC 3339, up to nanoseconds) and as query parameters need
 * them ("seconds.fraction": query parameters are parsed strictly, unlike inserted rows).
 */

const RFC3339 = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * An RFC 3339 time → "seconds.nanoseconds" for a `DateTime64(9)` query parameter, keeping every
 * fractional digit. Returns undefined for anything else.
 *
 * rfc3339ToDateTime64('2026-11-25T10:00:00.123456789Z') === '1795687200.123456789'
 */
export function rfc3339ToDateTime64(value: string): string | undefined {
  const m = RFC3339.exec(value.trim());
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}T${m[2]}${(m[4] ?? 'Z').toUpperCase()}`);
  if (!Number.isFinite(ms)) return undefined;
  return `${Math.floor(ms / 1000)}.${(m[3] ?? '0').padEnd(9, '0')}`;
}

/** Epoch milliseconds of a time the store returned (sub-millisecond digits are dropped). */
export function toMs(value: string): number {
  return Date.parse(value);
}
