/** Attribute names of docs/conventions.md §1: the map the monitor reads with. */
export { ATTR } from '@intentwatch/conventions';

/** A time as the SDK accepts it: a Date or epoch milliseconds. */
export type TimeInput = Date | number;

export function toMillis(t: TimeInput): number {
  return t instanceof Date ? t.getTime() : t;
}

/** RFC 3339 text of a time, as docs/conventions.md §1 timestamps are written. */
export function rfc3339(t: TimeInput): string {
  return new Date(toMillis(t)).toISOString();
}
