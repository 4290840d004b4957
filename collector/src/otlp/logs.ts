import type { AttrValue, Attributes } from '@intentwatch/core';
import protobuf from 'protobufjs';
import { parseJson } from '../well-formed.js';
import { JsonShapeError } from './decode-json.js';
import { MAX_VALUE_DEPTH } from './model.js';

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

const ANY_VALUE = {
  oneofs: {
    value: { oneof: ['stringValue', 'boolValue', 'intValue', 'doubleValue', 'arrayValue', 'kvlistValue', 'bytesValue'] },
  },
  fields: {
    stringValue: { type: 'string', id: 1 },
    boolValue: { type: 'bool', id: 2 },
    intValue: { type: 'int64', id: 3 },
    doubleValue: { type: 'double', id: 4 },
    arrayValue: { type: 'ArrayValue', id: 5 },
    kvlistValue: { type: 'KeyValueList', id: 6 },
    bytesValue: { type: 'bytes', id: 7 },
  },
};

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
  Resource: { fields: { attributes: { rule: 'repeated', type: 'KeyValue', id: 1 }, droppedAttributesCount: { type: 'uint32', id: 2 } } },
  ScopeLogs: {
    fields: {
      scope: { type: 'InstrumentationScope', id: 1 },
      logRecords: { rule: 'repeated', type: 'LogRecord', id: 2 },
      schemaUrl: { type: 'string', id: 3 },
    },
  },
  InstrumentationScope: { fields: { name: { type: 'string', id: 1 }, version: { type: 'string', id: 2 } } },
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
  KeyValue: { fields: { key: { type: 'string', id: 1 }, value: { type: 'AnyValue', id: 2 } } },
  AnyValue: ANY_VALUE,
  ArrayValue: { fields: { values: { rule: 'repeated', type: 'AnyValue', id: 1 } } },
  KeyValueList: { fields: { values: { rule: 'repeated', type: 'KeyValue', id: 1 } } },
};

const LENIENT_STRINGS = { features: { utf8_validation: 'NONE' } };
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
interface PbAnyValue {
  value?: string;
  stringValue?: string;
  boolValue?: boolean;
  intValue?: LongLike | number;
  doubleValue?: number;
  arrayValue?: { values?: PbAnyValue[] };
  kvlistValue?: { values?: PbKeyValue[] };
  bytesValue?: Uint8Array;
}
interface PbKeyValue {
  key?: string;
  value?: PbAnyValue;
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
 * Decodes an OTLP/protobuf ExportLogsServiceRequest. Throws on bytes that are not one, and
 * {@link TooManyRecordsError} past `maxRecords`.
 */
export function readLogsRequest(body: Uint8Array, maxRecords = MAX_LOG_RECORDS_PER_REQUEST): DecodedResourceLogs[] {
  const message = ExportLogsServiceRequest.decode(body) as unknown as PbRequest;
  let count = 0;
  return (message.resourceLogs ?? []).map((rl) => {
    const records: DecodedLogRecord[] = [];
    for (const sl of rl.scopeLogs ?? []) {
      for (const lr of sl.logRecords ?? []) {
        if (++count > maxRecords) throw new TooManyRecordsError(maxRecords);
        const time = toBigInt(lr.timeUnixNano);
        records.push({
          timeNanos: time > 0n ? time : toBigInt(lr.observedTimeUnixNano),
          body: pbValue(lr.body, 0),
          attributes: pbKeyValues(lr.attributes, 0),
        });
      }
    }
    return { resource: pbKeyValues(rl.resource?.attributes, 0), records };
  });
}

function toBigInt(v: LongLike | number | undefined): bigint {
  if (v === undefined) return 0n;
  if (typeof v === 'number') return BigInt(Math.trunc(v));
  return (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
}

function pbKeyValues(kvs: PbKeyValue[] | undefined, depth: number): Attributes {
  const out: Attributes = {};
  for (const kv of kvs ?? []) if (kv.key) out[kv.key] = pbValue(kv.value, depth);
  return out;
}

function pbValue(v: PbAnyValue | undefined, depth: number): AttrValue {
  if (!v) return null;
  switch (v.value) {
    case 'stringValue':
      return v.stringValue ?? '';
    case 'boolValue':
      return v.boolValue ?? false;
    case 'intValue': {
      const big = BigInt.asIntN(64, toBigInt(v.intValue));
      return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big.toString();
    }
    case 'doubleValue':
      return v.doubleValue ?? 0;
    case 'bytesValue':
      return Buffer.from(v.bytesValue ?? new Uint8Array()).toString('base64');
    case 'arrayValue':
      if (depth >= MAX_VALUE_DEPTH) return '[nested too deep]';
      return (v.arrayValue?.values ?? []).map((x) => pbValue(x, depth + 1));
    case 'kvlistValue':
      if (depth >= MAX_VALUE_DEPTH) return '{nested too deep}';
      return pbKeyValues(v.kvlistValue?.values, depth + 1);
    default:
      return null;
  }
}

const BIG_NUMBER_KEYS = /"(timeUnixNano|observedTimeUnixNano|intValue)"(\s*):(\s*)(-?\d+)(?=\s*[,}\]])/g;

/**
 * Parses an OTLP/JSON ExportLogsServiceRequest. Throws {@link JsonShapeError} on another shape and
 * {@link TooManyRecordsError} past `maxRecords`.
 */
export function decodeLogsJson(text: string, maxRecords = MAX_LOG_RECORDS_PER_REQUEST): DecodedResourceLogs[] {
  const parsed: unknown = parseJson(text.replace(BIG_NUMBER_KEYS, '"$1"$2:$3"$4"'));
  if (!isObject(parsed)) throw new JsonShapeError('the body must be a JSON object with a "resourceLogs" array');
  const resourceLogs = parsed.resourceLogs ?? parsed.resource_logs ?? [];
  if (!Array.isArray(resourceLogs)) throw new JsonShapeError('"resourceLogs" must be an array');
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
        records.push({
          timeNanos: time > 0n ? time : nanos(o.observedTimeUnixNano ?? o.observed_time_unix_nano),
          body: jsonValue(o.body, 0),
          attributes: jsonKeyValues(o.attributes, 0),
        });
      }
    });
    return { resource: jsonKeyValues(resource.attributes, 0), records };
  });
}

function nanos(v: unknown): bigint {
  if (typeof v === 'string' && /^\d{1,20}$/.test(v)) return BigInt(v);
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return BigInt(Math.trunc(v));
  return 0n;
}

function jsonKeyValues(list: unknown, depth: number): Attributes {
  const out: Attributes = {};
  if (!Array.isArray(list)) return out;
  for (const kv of list) {
    if (!isObject(kv) || typeof kv.key !== 'string' || kv.key === '') continue;
    out[kv.key] = jsonValue(kv.value, depth);
  }
  return out;
}

function jsonValue(v: unknown, depth: number): AttrValue {
  if (!isObject(v)) return null;
  if (typeof v.stringValue === 'string') return v.stringValue;
  if (typeof v.boolValue === 'boolean') return v.boolValue;
  if (v.intValue !== undefined) {
    const s = String(v.intValue);
    if (!/^-?\d+$/.test(s)) return null;
    const n = Number(s);
    return Number.isSafeInteger(n) ? n : s;
  }
  if (v.doubleValue !== undefined) {
    const n = Number(v.doubleValue);
    return Number.isFinite(n) ? n : String(v.doubleValue);
  }
  if (typeof v.bytesValue === 'string') return v.bytesValue;
  if (isObject(v.arrayValue)) {
    if (depth >= MAX_VALUE_DEPTH) return '[nested too deep]';
    const values = Array.isArray(v.arrayValue.values) ? v.arrayValue.values : [];
    return values.map((x) => jsonValue(x, depth + 1));
  }
  if (isObject(v.kvlistValue)) {
    if (depth >= MAX_VALUE_DEPTH) return '{nested too deep}';
    return jsonKeyValues(v.kvlistValue.values, depth + 1);
  }
  return null;
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
