import { createHash } from 'node:crypto';
import { type AttrValue, type Attributes, str } from '@intentwatch/core';
import { type NormalizeOptions, normalizeSpans } from '../normalize.js';
import { type DecodedResourceLogs, MAX_LOG_RECORDS_PER_REQUEST, TooManyRecordsError } from '../otlp/logs.js';
import type { DecodedSpan } from '../otlp/model.js';
import { emptyBatch, type RowBatch } from '../rows.js';
import { parseJson } from '../well-formed.js';
import { SOURCE_FORMATS, formatById, recogniseFormat } from './registry.js';
import { isObject, type MappedEvent, type SourceFormat, type SourceRecord } from './types.js';

/** The resource attribute that names a log's format (docs/conventions.md §1.5). */
export const SOURCE_ATTRIBUTE = 'intentwatch.source';

export interface LogsResult {
  rows: RowBatch;
  /** One message per rejected record (unknown format, malformed, or an event that cannot be stored). */
  rejected: string[];
  /** Records read. */
  records: number;
  /** Lifecycle events and uses made. */
  events: number;
  /** Records of a known format that say nothing about a token, by reason. */
  skipped: Record<string, number>;
  secretsRedacted: number;
  truncated: number;
}

/**
 * Turns OTLP log records whose bodies are identity systems' audit records into the same rows as
 * spans: each record is mapped by its format (the resource's `intentwatch.source`, or recognised
 * from its shape) to lifecycle events and uses, which go through the span normaliser as spans
 * would, with ids derived from the record's own id so that a resent record names the same span.
 * Every raw credential in the record is replaced by its fingerprint before it is read. A record
 * that cannot be mapped is rejected with a reason; the others are unaffected. Throws
 * {@link TooManyRecordsError} past `maxRecords` (the elements of a CloudTrail file count one by one).
 */
export function normalizeLogs(
  resourceLogs: DecodedResourceLogs[],
  options: NormalizeOptions,
  now = Date.now(),
  maxRecords = MAX_LOG_RECORDS_PER_REQUEST,
): LogsResult {
  const result: LogsResult = { rows: emptyBatch(), rejected: [], records: 0, events: 0, skipped: {}, secretsRedacted: 0, truncated: 0 };
  for (const rl of resourceLogs) {
    const named = str(rl.resource, SOURCE_ATTRIBUTE);
    const namedFormat = named ? formatById(named) : undefined;
    const environment = str(rl.resource, 'deployment.environment.name') || str(rl.resource, 'deployment.environment');
    // A CloudTrail log file tailed whole (`{"Records": [...]}`, one line) is one log record: each
    // of its records counts as one.
    const bodies = rl.records.flatMap((record) => {
      const body = recordOf(record.body);
      return typeof body !== 'string' && Array.isArray(body.Records) ? (body.Records as unknown[]).map(asRecord) : [body];
    });
    for (const body of bodies) {
      const at = result.records++;
      if (result.records > maxRecords) throw new TooManyRecordsError(maxRecords);
      const reject = (message: string) => result.rejected.push(`record ${at}: ${message}`);
      if (named && !namedFormat) {
        reject(unknownFormatMessage(named));
        continue;
      }
      if (typeof body === 'string') {
        reject(body);
        continue;
      }
      const format: SourceFormat | undefined = namedFormat ?? recogniseFormat(body);
      if (!format) {
        reject(
          `the body is not a record of a known format (${SOURCE_FORMATS.map((f) => f.id).join(', ')}); name it with the resource attribute ${SOURCE_ATTRIBUTE}`,
        );
        continue;
      }
      const mapping = format.map(body);
      if ('error' in mapping) {
        reject(`${format.id}: ${mapping.error}`);
        continue;
      }
      if ('skip' in mapping) {
        result.skipped[mapping.skip] = (result.skipped[mapping.skip] ?? 0) + 1;
        continue;
      }
      const rows = eventsToRows(format.id, mapping.id, mapping.events, environment, options, now);
      if (rows.rejected.length) {
        reject(`${format.id} ${mapping.id}: ${rows.rejected.join('; ')}`);
        continue;
      }
      result.secretsRedacted += rows.secretsRedacted;
      result.truncated += rows.truncated;
      result.events += mapping.events.length;
      result.rows.spans.push(...rows.rows.spans);
      result.rows.tokenEvents.push(...rows.rows.tokenEvents);
      result.rows.taskEvents.push(...rows.rows.taskEvents);
    }
  }
  return result;
}

function unknownFormatMessage(named: string): string {
  return `${SOURCE_ATTRIBUTE} ${JSON.stringify(named.slice(0, 60))} is not a format this collector maps; known: ${SOURCE_FORMATS.map((f) => f.id).join(', ')}`;
}

/** The record a log body holds: a JSON object, as a string or as an OTLP key-value list. */
function recordOf(body: AttrValue): SourceRecord | string {
  if (isObject(body)) return body;
  if (typeof body !== 'string') return 'the body must be the source record: a JSON object, as a string or a key-value list';
  let parsed: unknown;
  try {
    parsed = parseJson(body);
  } catch (e) {
    return `the body is not JSON: ${(e as Error).message.slice(0, 120)}`;
  }
  if (!isObject(parsed)) return 'the body must be a JSON object';
  // Not copied or walked: mappings read fixed paths only, so a deeply nested record costs nothing more.
  return parsed as SourceRecord;
}

function asRecord(v: unknown): SourceRecord | string {
  return isObject(v) ? (v as SourceRecord) : 'each element of "Records" must be a JSON object';
}

function hexHash(text: string, hexLength: number): string {
  return createHash('sha256').update(text).digest('hex').slice(0, hexLength);
}

function eventsToRows(format: string, id: string, events: MappedEvent[], environment: string, options: NormalizeOptions, now: number) {
  const seed = `${format}:${id}`;
  const traceId = hexHash(seed, 32);
  const spans: DecodedSpan[] = events.map((e, i) => {
    const nanos = BigInt(Math.trunc(e.timeMs)) * 1_000_000n;
    const attrs: Attributes = { ...e.attrs, [SOURCE_ATTRIBUTE]: format };
    if (environment && attrs['deployment.environment.name'] === undefined) attrs['deployment.environment.name'] = environment;
    return {
      traceId,
      spanId: hexHash(`${seed}:${i}`, 16),
      parentSpanId: '',
      name: e.name,
      kind: 0,
      startNanos: nanos,
      endNanos: nanos,
      statusCode: 0,
      attributes: attrs,
      droppedAttributes: 0,
    };
  });
  // One resource per event: its service.name is the caller of a use, the issuing system of a grant.
  return normalizeSpans(
    events.map((e, i) => ({
      resource: { 'service.name': e.serviceName },
      scopes: [{ scopeName: format, spans: [spans[i] as DecodedSpan] }],
    })),
    { ...options, keepContextSpans: true },
    now,
  );
}
