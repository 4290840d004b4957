import {
  ATTR,
  type Attributes,
  ID_ATTRIBUTES,
  MAX_ID_LENGTH,
  TASK_EVENTS,
  TOKEN_EVENTS,
  actionOf,
  agentOf,
  attrToString,
  environmentOf,
  globProblem,
  isStorableMs,
  msToRfc3339,
  nanosToRfc3339,
  redactSecrets,
  normalizeResource,
  redactText,
  resourceOf,
  str,
  strList,
  targetService,
  timestampMs,
  wholeNumber,
  workloadOf,
} from '@intentwatch/core';
import type { DecodedResourceSpans, DecodedSpan } from './otlp/model.js';
import { type RowBatch, type SpanRow, type TaskEventRow, type TokenEventRow, emptyBatch } from './rows.js';

export interface NormalizeOptions {
  /** Keep spans that carry no intentwatch attribute (as context), or drop them. */
  keepContextSpans: boolean;
  /** Attributes kept per span (resource and span counted apart); the rest are dropped and counted. */
  maxAttributes: number;
  /** Longest attribute value kept; longer values are cut and counted. */
  maxAttributeLength: number;
}

export interface NormalizeResult {
  rows: RowBatch;
  /** One message per rejected span, e.g. "span 3 (trace …): traceId must be …". */
  rejected: string[];
  /** Spans dropped on purpose (context spans when not kept). */
  dropped: number;
  /** Secret-looking values replaced by fingerprints. */
  secretsRedacted: number;
  /** Attribute values cut or attributes dropped by the per-span limits. */
  truncated: number;
}

/** Latest time a DateTime64(9) column can hold (2262-04-11). */
const MAX_NANOS = 9_223_372_036_854_775_807n;

/**
 * Turns decoded OTLP spans into rows of `spans`, `token_events` and `task_events`, as
 * docs/conventions.md §1 defines them. Span attributes win over resource attributes. A span that
 * cannot be stored faithfully is rejected with a reason; the others are unaffected.
 */
export function normalizeSpans(
  resourceSpans: DecodedResourceSpans[],
  options: NormalizeOptions,
  now = Date.now(),
  /** Index of the first span in rejection messages, when a request is normalised in slices. */
  firstIndex = 0,
): NormalizeResult {
  const result: NormalizeResult = { rows: emptyBatch(), rejected: [], dropped: 0, secretsRedacted: 0, truncated: 0 };
  const ingestedAt = msToRfc3339(now);
  let index = firstIndex;
  for (const rs of resourceSpans) {
    const resource = { ...rs.resource };
    result.secretsRedacted += redactSecrets(resource);
    result.truncated += limitAttributes(resource, options);
    // One map for every span of the resource (rows are not changed after they are built).
    const resourceStrings = toStringMap(resource);
    for (const scope of rs.scopes) {
      // The instrumentation scope's name is stored with every span: text a sender controls too.
      const scopeName = redactText(scope.scopeName);
      result.secretsRedacted += scopeName.count;
      for (const span of scope.spans) {
        const at = index++;
        const problem = spanProblem(span);
        if (problem) {
          result.rejected.push(`span ${at}${span.spanId ? ` (${span.spanId})` : ''}: ${problem}`);
          continue;
        }
        const own = { ...span.attributes };
        result.secretsRedacted += redactSecrets(own);
        result.truncated += limitAttributes(own, options);
        // Object.assign, not spread: merging two objects by spread takes V8's slow path here,
        // and this line alone cost more than the rest of normalising (see BENCHMARKS.md).
        const attrs: Attributes = Object.assign({}, resource, own);
        const base = {
          time: nanosToRfc3339(span.startNanos),
          ingested_at: ingestedAt,
          trace_id: span.traceId as string,
          span_id: span.spanId as string,
        };
        if (attrs[ATTR.tokenEvent] !== undefined) {
          const row = tokenEventRow(attrs, base, 'otlp');
          if (typeof row === 'string') result.rejected.push(`span ${at} (${span.spanId}): ${row}`);
          else result.rows.tokenEvents.push(row);
        } else if (attrs[ATTR.taskEvent] !== undefined) {
          const row = taskEventRow(attrs, base, 'otlp');
          if (typeof row === 'string') result.rejected.push(`span ${at} (${span.spanId}): ${row}`);
          else result.rows.taskEvents.push(row);
        } else if (str(attrs, ATTR.tokenId) || options.keepContextSpans) {
          // The span name is stored too (and read as the action): a secret in it is one more leak.
          const name = redactText(span.name);
          result.secretsRedacted += name.count;
          const stored = name.count ? { ...span, name: name.text } : span;
          result.rows.spans.push(spanRow(stored, scopeName.text, attrs, own, resource, resourceStrings, base));
        } else {
          result.dropped++;
        }
      }
    }
  }
  return result;
}

function spanProblem(span: DecodedSpan): string | undefined {
  if (span.traceId === null) return 'traceId must be 16 bytes (32 hex digits) and not all zero';
  if (span.spanId === null) return 'spanId must be 8 bytes (16 hex digits) and not all zero';
  if (span.parentSpanId === null) return 'parentSpanId must be empty or 8 bytes (16 hex digits)';
  if (span.startNanos === 0n) return 'startTimeUnixNano is missing';
  if (span.startNanos > MAX_NANOS || span.endNanos > MAX_NANOS) return 'timestamps beyond the year 2262 cannot be stored';
  return undefined;
}

function spanRow(
  span: DecodedSpan,
  scopeName: string,
  attrs: Attributes,
  own: Attributes,
  resource: Attributes,
  resourceStrings: Record<string, string>,
  base: { time: string; ingested_at: string; trace_id: string; span_id: string },
): SpanRow {
  const scopes = strList(attrs, ATTR.tokenScope);
  const raw = resourceOf(attrs);
  // Decoding can reveal a credential that its escapes hid (`access_token%3D…`): redacted again.
  let normal = normalizeResource(raw).resource;
  if (normal !== raw) normal = redactText(normal).text;
  // Fields listed rather than `...base` spread: the spread made this the hottest line of ingest.
  return {
    time: base.time,
    ingested_at: base.ingested_at,
    trace_id: base.trace_id,
    span_id: base.span_id,
    end_time: nanosToRfc3339(span.endNanos >= span.startNanos ? span.endNanos : span.startNanos),
    parent_span_id: span.parentSpanId ?? '',
    name: span.name,
    kind: clampUInt8(span.kind),
    status_code: clampUInt8(span.statusCode),
    token_id: str(attrs, ATTR.tokenId),
    task_id: str(attrs, ATTR.taskId),
    agent_id: agentOf(attrs),
    workload_id: workloadOf(attrs),
    caller: str(resource, ATTR.serviceName),
    target: targetService(attrs),
    action: actionOf(attrs, span.name),
    environment: environmentOf(attrs),
    scopes,
    resource: normal,
    resource_raw: normal === raw ? '' : raw,
    tool: str(attrs, ATTR.toolName),
    scope_name: scopeName,
    attributes: toStringMap(own),
    resource_attributes: resourceStrings,
    dropped_attributes: clampUInt32(span.droppedAttributes),
  };
}

type Base = { time: string; ingested_at: string; trace_id: string; span_id: string };

/** A `token_events` row, or a message saying why the event cannot be stored. */
export function tokenEventRow(attrs: Attributes, base: Base, source: 'otlp' | 'json'): TokenEventRow | string {
  const event = str(attrs, ATTR.tokenEvent);
  if (!(TOKEN_EVENTS as readonly string[]).includes(event)) {
    return `token.event must be one of ${TOKEN_EVENTS.join(', ')} (got ${JSON.stringify(attrToString(attrs[ATTR.tokenEvent] ?? null)).slice(0, 80)})`;
  }
  const tokenId = str(attrs, ATTR.tokenId);
  if (!tokenId) return `token.event ${event} needs token.id`;
  const parentId = str(attrs, ATTR.tokenParentId);
  if ((event === 'refreshed' || event === 'exchanged') && !parentId) return `token.event ${event} needs token.parent_id`;
  const expires = timestampMs(attrs, ATTR.tokenExpiresAt);
  const expiresProblem = timeProblem(ATTR.tokenExpiresAt, expires);
  if (expiresProblem) return expiresProblem;
  // A renewal extends the same token's life: without its new expiry it says nothing.
  if (event === 'renewed' && expires === undefined) return `token.event renewed needs ${ATTR.tokenExpiresAt}`;
  const resources = strList(attrs, ATTR.tokenResources);
  const patternProblem = resourcesProblem(resources);
  if (patternProblem) return patternProblem;
  const maxSession = wholeNumber(attrs, ATTR.tokenMaxSession);
  if (maxSession !== undefined && !(Number.isFinite(maxSession) && maxSession <= 4_294_967_295)) {
    return 'token.max_session_s must be a whole number of seconds';
  }
  return {
    ...base,
    event,
    token_id: tokenId,
    parent_id: parentId,
    task_id: str(attrs, ATTR.taskId),
    // The grantee is the agent named on the event, never the broker's own service.name.
    agent_id: str(attrs, ATTR.agentId),
    workload_id: workloadOf(attrs),
    audience: strList(attrs, ATTR.tokenAudience),
    scopes: strList(attrs, ATTR.tokenScopes),
    resources,
    expires_at: expires === undefined ? null : msToRfc3339(expires),
    max_session_s: maxSession ?? null,
    environment: environmentOf(attrs),
    revoked_reason: str(attrs, ATTR.tokenRevokedReason),
    caller: str(attrs, ATTR.serviceName),
    source,
    attributes: toStringMap(attrs),
  };
}

/**
 * Why the `token.resources` patterns of a grant cannot be stored, or undefined. Every later match
 * of a use against them costs in proportion to the pattern, so a pattern longer or with more
 * wildcards than core allows refuses the whole event (a grant stored without it would flag
 * every use of the token).
 */
function resourcesProblem(patterns: string[]): string | undefined {
  for (let i = 0; i < patterns.length; i++) {
    const problem = globProblem(patterns[i] as string);
    if (problem) return `token.resources[${i}] ${problem}`;
  }
  return undefined;
}

/** A `task_events` row, or a message saying why the event cannot be stored. */
export function taskEventRow(attrs: Attributes, base: Base, source: 'otlp' | 'json'): TaskEventRow | string {
  const event = str(attrs, ATTR.taskEvent);
  if (!(TASK_EVENTS as readonly string[]).includes(event)) {
    return `task.event must be one of ${TASK_EVENTS.join(', ')} (got ${JSON.stringify(attrToString(attrs[ATTR.taskEvent] ?? null)).slice(0, 80)})`;
  }
  const taskId = str(attrs, ATTR.taskId);
  if (!taskId) return `task.event ${event} needs task.id`;
  const deadline = timestampMs(attrs, ATTR.taskDeadline);
  const deadlineProblem = timeProblem(ATTR.taskDeadline, deadline);
  if (deadlineProblem) return deadlineProblem;
  return {
    ...base,
    event,
    task_id: taskId,
    agent_id: str(attrs, ATTR.agentId),
    intent: str(attrs, ATTR.taskIntent),
    tools: strList(attrs, ATTR.taskTools),
    deadline: deadline === undefined ? null : msToRfc3339(deadline),
    caller: str(attrs, ATTR.serviceName),
    source,
    attributes: toStringMap(attrs),
  };
}

function toStringMap(attrs: Attributes): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(attrs)) out[k] = attrToString(v);
  return out;
}

/** Applies the per-span limits in place; returns how many attributes were dropped or cut. */
export function limitAttributes(attrs: Attributes, options: Pick<NormalizeOptions, 'maxAttributes' | 'maxAttributeLength'>): number {
  let count = 0;
  const keys = Object.keys(attrs);
  for (const k of keys.slice(options.maxAttributes)) {
    delete attrs[k];
    count++;
  }
  for (const k of keys.slice(0, options.maxAttributes)) {
    const v = attrs[k];
    // Identifiers are cut at the length the API can look up (MAX_ID_LENGTH), whatever the limit of other values.
    const max = ID_ATTRIBUTES.has(k) ? Math.min(options.maxAttributeLength, MAX_ID_LENGTH) : options.maxAttributeLength;
    if (typeof v === 'string' && v.length > max) {
      attrs[k] = cutAt(v, max);
      count++;
    } else if (v !== null && typeof v === 'object' && JSON.stringify(v).length > options.maxAttributeLength) {
      attrs[k] = cutAt(JSON.stringify(v), options.maxAttributeLength);
      count++;
    }
  }
  return count;
}

/**
 * The first `max` UTF-16 units of `s`, one fewer when the cut would split a surrogate pair: half
 * a character is a lone surrogate, which the store refuses, failing every row batched with it.
 */
export function cutAt(s: string, max: number): string {
  if (s.length <= max) return s;
  const last = s.charCodeAt(max - 1);
  return s.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max);
}

function clampUInt8(n: number): number {
  return Number.isInteger(n) && n >= 0 && n <= 255 ? n : 0;
}

function clampUInt32(n: number): number {
  return Number.isInteger(n) && n >= 0 && n <= 4_294_967_295 ? n : 0;
}

/**
 * Why a time attribute (epoch ms from {@link timestampMs}) cannot be stored, or undefined. A time
 * outside the columns' range would fail the whole insert it is batched in, so it is refused here,
 * alone, with a reason the sender can act on.
 */
export function timeProblem(name: string, ms: number | undefined): string | undefined {
  if (ms === undefined) return undefined;
  if (!Number.isFinite(ms)) return `${name} must be an RFC 3339 time or Unix epoch seconds`;
  if (!isStorableMs(ms)) return `${name} must be a time between 1900 and 2262 (epoch seconds, not milliseconds)`;
  return undefined;
}
