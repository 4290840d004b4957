import type { Attributes } from '@intentwatch/core';

/** A record of an identity system's audit log, as a JSON object. */
export type SourceRecord = Record<string, unknown>;

/** One intentwatch signal made from a record: a lifecycle event or a use, as span attributes. */
export interface MappedEvent {
  /** Epoch milliseconds. */
  timeMs: number;
  /** The span name stored with a use (and read as its action when no other says otherwise). */
  name: string;
  /** Attributes of docs/conventions.md §1 (`token.event`, `token.id`, `task.event`, …). */
  attrs: Attributes;
  /** `service.name` of the synthetic resource: the caller of a use, the issuing system of a grant. */
  serviceName: string;
}

/**
 * What a record maps to: events; or `skip` with a reason from a fixed vocabulary, for a record
 * of the format that says nothing about a token (reported as a count, never as an error); or
 * `error`, for a record that claims to be of the format but cannot be read.
 */
export type Mapping = { events: MappedEvent[]; id: string } | { skip: string } | { error: string };

/** An identity system's audit log format (docs/conventions.md §1.5). */
export interface SourceFormat {
  /** The value of `intentwatch.source` and of `intentwatch import --format`. */
  id: string;
  /** True when a record without a named format has this format's shape. */
  recognise(record: SourceRecord): boolean;
  map(record: SourceRecord): Mapping;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The value at `path` in nested objects, or undefined. */
export function at(v: unknown, ...path: string[]): unknown {
  let cur = v;
  for (const k of path) {
    if (!isObject(cur) || !Object.hasOwn(cur, k)) return undefined;
    cur = cur[k];
  }
  return cur;
}

/** The string at `path`, or ''. */
export function text(v: unknown, ...path: string[]): string {
  const x = at(v, ...path);
  return typeof x === 'string' ? x : typeof x === 'number' ? String(x) : '';
}

/** The strings of the array at `path` (a single string counts as one). */
export function texts(v: unknown, ...path: string[]): string[] {
  const x = at(v, ...path);
  if (typeof x === 'string') return x ? [x] : [];
  if (!Array.isArray(x)) return [];
  return x.filter((s): s is string => typeof s === 'string' && s !== '');
}
