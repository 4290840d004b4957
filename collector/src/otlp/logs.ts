import { DEFAULT_INGEST_LIMITS, type IngestLimits } from '../settings.js';
import type { AttrValue, Attributes } from '@intentwatch/core';
import protobuf from 'protobufjs';
import { checkJsonLimits } from '../json-limits.js';
import { DecodeBudget, LimitExceededError } from '../limits.js';
import { parseJson } from '../well-formed.js';
import { JsonShapeError, anyValue as jsonAnyValue, keyValues as jsonKeyValues } from './decode-json.js';
import { type PbAnyValue, type PbKeyValue, anyValue as pbAnyValue, keyValues as pbKeyValues } from './decode-protobuf.js';
import { TooManyLogRecords, checkLogsProtobufLimits } from './logs-limits.js';
import { COMMON_MESSAGES, LENIENT_STRINGS } from './proto.js';

/**
 * OTLP logs (`POST /v1/logs`): ExportLogsServiceRequest in protobuf or JSON, decoded into the
 * few fields the audit-log mapping reads. Field numbers from opentelemetry-proto
 * (collector/logs/v1/logs_service.proto, logs/v1/logs.proto): ResourceLogs{resource=1,
 * scope_logs=2}, ScopeLogs{scope=1, log_records=2}, LogRecord{time_unix_nano=1 (fixed64),
 * severity_number=2, severity_text=3, body=5, attributes=6, dropped_attributes_count=7,
 * flags=8, trace_id=9, span_id=10, observed_time_unix_nano=11 (fixed64), event_name=12};
 * ExportLogsPartialSuccess{rejected_log_records=1 (int64), error_message=2}.
 */

/** A log record as the collector sees it after decoding either encoding. */
export interface DecodedLogRecord {
  /** The record's time, else its observed time, else 0n. */
  timeNanos: bigint;
  body: AttrValue;
  attributes: Attributes;
}

export interface DecodedResourceLogs {
  resource: Attributes;
  records: DecodedLogRecord[];
}

/** Thrown when a request holds more log records than one request may. */
export class TooManyRecordsError extends Error {
  constructor(readonly limit: number) {
    super(`the request holds more than ${limit} log records; send smaller batches`);
  }
}

/** Log records decoded per request at most (the body size limit applies too). */
export const MAX_LOG_RECORDS_PER_REQUEST = 10_000;

const messages = {
  ExportLogsServiceRequest: { fields: { resourceLogs: { rule: 'repeated', type: 'ResourceLogs', id: 1 } } },
  ExportLogsServiceResponse: { fields: { partialSuccess: { type: 'ExportLogsPartialSuccess', id: 1 } } },
  ExportLogsPartialSuccess: {
    fields: { rejectedLogRecords: { type: 'int64', id: 1 }, errorMessage: { type: 'string', id: 2 } },
  },
  ResourceLogs: {
    fields: {
      resource: { type: 'Resource', id: 1 },
      scopeLogs: { rule: 'repeated', type: 'ScopeLogs', id: 2 },
      schemaUrl: { type: 'string', id: 3 },
    },
  },
  ScopeLogs: {
    fields: {
      scope: { type: 'InstrumentationScope', id: 1 },
      logRecords: { rule: 'repeated', type: 'LogRecord', id: 2 },
      schemaUrl: { type: 'string', id: 3 },
    },
  },
  LogRecord: {
    fields: {
      timeUnixNano: { type: 'fixed64', id: 1 },
      severityNumber: { type: 'int32', id: 2 },
      severityText: { type: 'string', id: 3 },
      body: { type: 'AnyValue', id: 5 },
      attributes: { rule: 'repeated', type: 'KeyValue', id: 6 },
      droppedAttributesCount: { type: 'uint32', id: 7 },
      flags: { type: 'fixed32', id: 8 },
      traceId: { type: 'bytes', id: 9 },
      spanId: { type: 'bytes', id: 10 },
      observedTimeUnixNano: { type: 'fixed64', id: 11 },
      eventName: { type: 'string', id: 12 },
    },
  },
  ...COMMON_MESSAGES,
};

const root = protobuf.Root.fromJSON({
  nested: {
    otlplogs: { nested: Object.fromEntries(Object.entries(messages).map(([name, m]) => [name, { ...m, options: LENIENT_STRINGS }])) },
  },
});

export const ExportLogsServiceRequest = root.lookupType('otlplogs.ExportLogsServiceRequest');
export const ExportLogsServiceResponse = root.lookupType('otlplogs.ExportLogsServiceResponse');

interface LongLike {
  high: number;
  low: number;
}
interface PbLogRecord {
  timeUnixNano?: LongLike | number;
  observedTimeUnixNano?: LongLike | number;
  body?: PbAnyValue;
  attributes?: PbKeyValue[];
}
interface PbRequest {
  resourceLogs?: { resource?: { attributes?: PbKeyValue[] }; scopeLogs?: { logRecords?: PbLogRecord[] }[] }[];
}

/**
 * Decodes an OTLP/protobuf ExportLogsServiceRequest. The ingest limits are checked on the wire
 * first ({@link checkLogsProtobufLimits}), so nothing is built for a request past one. Throws on
 * bytes that are not one, a LimitExceededError past a limit, and {@link TooManyRecordsError} past
 * `maxRecords`.
 */
export function readLogsRequest(
  body: Uint8Array,
  maxRecords = MAX_LOG_RECORDS_PER_REQUEST,
  limits: IngestLimits = DEFAULT_INGEST_LIMITS,
): DecodedResourceLogs[] {
  try {
    checkLogsProtobufLimits(body, limits, maxRecords);
  } catch (e) {
    if (e instanceof TooManyLogRecords) throw new TooManyRecordsError(maxRecords);
    throw e;
  }
  const message = ExportLogsServiceRequest.decode(body) as unknown as PbRequest;
  return (message.resourceLogs ?? []).map((rl) => {
    const records: DecodedLogRecord[] = [];
    for (const sl of rl.scopeLogs ?? []) {
      for (const lr of sl.logRecords ?? []) {
        const time = toBigInt(lr.timeUnixNano);
        records.push({
          timeNanos: time > 0n ? time : toBigInt(lr.observedTimeUnixNano),
          body: pbAnyValue(lr.body),
          attributes: pbKeyValues(lr.attributes),
        });
      }
    }
    return { resource: pbKeyValues(rl.resource?.attributes), records };
  });
}

function toBigInt(v: LongLike | number | undefined): bigint {
  if (v === undefined) return 0n;
  if (typeof v === 'number') return BigInt(Math.trunc(v));
  return (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
}

const BIG_NUMBER_KEYS = /"(timeUnixNano|observedTimeUnixNano|intValue)"(\s*):(\s*)(-?\d+)(?=\s*[,}\]])/g;

/**
 * Parses an OTLP/JSON ExportLogsServiceRequest. The text is checked against the ingest limits
 * before it is parsed (`checkJsonLimits(…, 'logs')`: a record's body is bounded by the request's
 * size and the nesting limit, not the string length limit) and the values as they are decoded,
 * as for traces. Throws {@link JsonShapeError} on another shape, a LimitExceededError past a
 * limit and {@link TooManyRecordsError} past `maxRecords`.
 */
export function decodeLogsJson(
  text: string,
  maxRecords = MAX_LOG_RECORDS_PER_REQUEST,
  limits: IngestLimits = DEFAULT_INGEST_LIMITS,
): DecodedResourceLogs[] {
  try {
    checkJsonLimits(text, { ...limits, maxItemsPerRequest: maxRecords }, 'logs');
  } catch (e) {
    // The records bound is the collector's own, not the spans limit's variable.
    if (e instanceof LimitExceededError && e.limit === 'maxItemsPerRequest') throw new TooManyRecordsError(maxRecords);
    throw e;
  }
  const parsed: unknown = parseJson(text.replace(BIG_NUMBER_KEYS, '"$1"$2:$3"$4"'));
  if (!isObject(parsed)) throw new JsonShapeError('the body must be a JSON object with a "resourceLogs" array');
  const resourceLogs = parsed.resourceLogs ?? parsed.resource_logs ?? [];
  if (!Array.isArray(resourceLogs)) throw new JsonShapeError('"resourceLogs" must be an array');
  const budget = new DecodeBudget(limits, 'log records');
  let count = 0;
  return resourceLogs.map((rl, i) => {
    if (!isObject(rl)) throw new JsonShapeError(`resourceLogs[${i}] must be an object`);
    const resource = isObject(rl.resource) ? rl.resource : {};
    const scopeLogs = rl.scopeLogs ?? rl.scope_logs ?? [];
    if (!Array.isArray(scopeLogs)) throw new JsonShapeError(`resourceLogs[${i}].scopeLogs must be an array`);
    const records: DecodedLogRecord[] = [];
    scopeLogs.forEach((sl, j) => {
      if (!isObject(sl)) throw new JsonShapeError(`resourceLogs[${i}].scopeLogs[${j}] must be an object`);
      const logRecords = sl.logRecords ?? sl.log_records ?? [];
      if (!Array.isArray(logRecords)) throw new JsonShapeError(`resourceLogs[${i}].scopeLogs[${j}].logRecords must be an array`);
      for (const lr of logRecords) {
        if (++count > maxRecords) throw new TooManyRecordsError(maxRecords);
        const o = isObject(lr) ? lr : {};
        const time = nanos(o.timeUnixNano ?? o.time_unix_nano);
        budget.startItem();
        records.push({
          timeNanos: time > 0n ? time : nanos(o.observedTimeUnixNano ?? o.observed_time_unix_nano),
          body: jsonAnyValue(o.body, 0, budget),
          attributes: jsonKeyValues(o.attributes, 0, budget),
        });
      }
    });
    budget.startItem();
    return { resource: jsonKeyValues(resource.attributes, 0, budget), records };
  });
}

function nanos(v: unknown): bigint {
  if (typeof v === 'string' && /^\d{1,20}$/.test(v)) return BigInt(v);
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return BigInt(Math.trunc(v));
  return 0n;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * An OTLP/JSON ExportLogsServiceRequest carrying each record as the body (its JSON text) of one
 * log record, under one resource with `resource` as string attributes: what an OpenTelemetry
 * Collector's filelog receiver sends for a file of JSON lines.
 */
export function logsRequestJson(records: readonly unknown[], resource: Record<string, string>, nowMs = Date.now()): string {
  const observed = String(BigInt(Math.trunc(nowMs)) * 1_000_000n);
  return JSON.stringify({
    resourceLogs: [
      {
        resource: { attributes: Object.entries(resource).map(([key, value]) => ({ key, value: { stringValue: value } })) },
        scopeLogs: [
          {
            scope: { name: 'intentwatch.import' },
            logRecords: records.map((r) => ({ observedTimeUnixNano: observed, body: { stringValue: JSON.stringify(r) } })),
          },
        ],
      },
    ],
  });
}
