/**
 * The attribute contract of docs/conventions.md §1: names, and the pure functions that read a
 * span's merged attributes (resource first, span over it) into intentwatch's fields.
 */

import { ATTR } from '@intentwatch/conventions';

/** An attribute value after decoding OTLP's AnyValue (or a JSON event's value). */
export type AttrValue = string | number | boolean | null | AttrValue[] | { [key: string]: AttrValue };
export type Attributes = Record<string, AttrValue>;

export { ATTR, TASK_EVENTS, TOKEN_EVENTS, type TaskEventKind, type TokenEventKind } from '@intentwatch/conventions';

/** Target service attributes, in the order docs/conventions.md §1.1 gives them. */
const TARGET_KEYS = [ATTR.servicePeerName, 'peer.service', 'server.address'] as const;
const TARGET_KEYS_AFTER_URL = ['rpc.service', 'db.system.name', 'db.system'] as const;

/** The attribute as a trimmed non-empty string, or '' when absent or not a scalar. */
export function str(attrs: Attributes, key: string): string {
  const v = attrs[key];
  if (typeof v === 'string') return v.trim();
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return '';
}

/** The first non-empty string among `keys`. */
export function firstStr(attrs: Attributes, keys: readonly string[]): string {
  for (const k of keys) {
    const v = str(attrs, k);
    if (v) return v;
  }
  return '';
}

/**
 * A list attribute: an OTLP array of strings, or a single comma-separated string. Empty entries
 * are dropped, order is kept, duplicates are removed.
 */
export function strList(attrs: Attributes, key: string): string[] {
  const v = attrs[key];
  let items: string[];
  if (Array.isArray(v)) items = v.filter((x) => x !== null && typeof x !== 'object').map((x) => String(x).trim());
  else if (typeof v === 'string') items = v.split(',').map((s) => s.trim());
  else return [];
  return [...new Set(items.filter(Boolean))];
}

/**
 * A timestamp attribute as epoch milliseconds: an RFC 3339 string, or Unix epoch seconds as a
 * number (or a string of digits). Returns undefined when absent; NaN when present but unreadable.
 */
export function timestampMs(attrs: Attributes, key: string): number | undefined {
  const v = attrs[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'number') return Number.isFinite(v) ? v * 1000 : Number.NaN;
  if (typeof v !== 'string') return Number.NaN;
  const s = v.trim();
  if (/^-?\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  if (!/^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}/.test(s)) return Number.NaN;
  // RFC 3339 requires an offset; without one JavaScript would read local time, which would make
  // the stored instant depend on the collector host's time zone. Read it as UTC, as ClickHouse does.
  return Date.parse(/(?:[Zz]|[+-]\d{2}:?\d{2})$/.test(s) ? s : `${s}Z`);
}

/** A non-negative whole number attribute (number or digit string); NaN when unreadable. */
export function wholeNumber(attrs: Attributes, key: string): number | undefined {
  const v = attrs[key];
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(v) ? Number(v) : Number.NaN;
  return Number.isFinite(n) && n >= 0 ? Math.floor(n) : Number.NaN;
}

/** The host of a URL, or '' when it is not one. */
function urlHost(value: string): string {
  try {
    return new URL(value).hostname;
  } catch {
    return '';
  }
}

/** The service a use was aimed at (docs/conventions.md §1.1 "target service"). */
export function targetService(attrs: Attributes): string {
  const direct = firstStr(attrs, TARGET_KEYS);
  if (direct) return direct;
  const full = str(attrs, 'url.full');
  const host = full ? urlHost(full) : '';
  if (host) return host;
  return firstStr(attrs, TARGET_KEYS_AFTER_URL);
}

/** What the use did: the tool, else `METHOD route`, else the span name. */
export function actionOf(attrs: Attributes, spanName: string): string {
  const tool = str(attrs, ATTR.toolName);
  if (tool) return tool;
  const method = str(attrs, 'http.request.method') || str(attrs, 'http.method');
  const route = str(attrs, 'http.route') || str(attrs, 'url.path');
  if (method && route) return `${method} ${route}`;
  return spanName;
}

/** The resource acted on: `token.resource`, else `mcp.resource.uri` (§1.6), else `url.path`, else `http.route`. */
export function resourceOf(attrs: Attributes): string {
  return firstStr(attrs, [ATTR.tokenResource, ATTR.mcpResourceUri, 'url.path', 'http.route']);
}

/** The environment, from the resource's `deployment.environment.name` (or the legacy key). */
export function environmentOf(attrs: Attributes): string {
  return firstStr(attrs, [ATTR.environment, ATTR.environmentLegacy]);
}

/** The agent, falling back to the caller's `service.name`. */
export function agentOf(attrs: Attributes): string {
  return str(attrs, ATTR.agentId) || str(attrs, ATTR.serviceName);
}

/** The workload identity (`workload.id`, alias `gen_ai.agent.identity.id`). */
export function workloadOf(attrs: Attributes): string {
  return firstStr(attrs, [ATTR.workloadId, ATTR.workloadIdAlias]);
}

/** An attribute value as the string stored in the raw attribute maps (lists as JSON). */
export function attrToString(v: AttrValue): string {
  if (v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}
