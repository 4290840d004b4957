import type { AttrValue, Attributes } from '@intentwatch/core';
import type { Long } from 'protobufjs';
import { ExportTraceServiceRequest } from './proto.js';
import { type DecodedResourceSpans, type DecodedSpan, MAX_VALUE_DEPTH } from './model.js';

export interface PbAnyValue {
  value?: string;
  stringValue?: string;
  boolValue?: boolean;
  intValue?: Long | number;
  doubleValue?: number;
  arrayValue?: { values?: PbAnyValue[] };
  kvlistValue?: { values?: PbKeyValue[] };
  bytesValue?: Uint8Array;
}
export interface PbKeyValue {
  key?: string;
  value?: PbAnyValue;
}
interface PbSpan {
  traceId?: Uint8Array;
  spanId?: Uint8Array;
  parentSpanId?: Uint8Array;
  name?: string;
  kind?: number;
  startTimeUnixNano?: Long | number;
  endTimeUnixNano?: Long | number;
  attributes?: PbKeyValue[];
  droppedAttributesCount?: number;
  status?: { code?: number };
}
interface PbRequest {
  resourceSpans?: {
    resource?: { attributes?: PbKeyValue[] };
    scopeSpans?: { scope?: { name?: string }; spans?: PbSpan[] }[];
  }[];
}

/** Decodes an OTLP/protobuf ExportTraceServiceRequest. Throws on a body that is not one. */
export function decodeProtobufRequest(body: Uint8Array): DecodedResourceSpans[] {
  const message = ExportTraceServiceRequest.decode(body) as unknown as PbRequest;
  return (message.resourceSpans ?? []).map((rs) => ({
    resource: keyValues(rs.resource?.attributes),
    scopes: (rs.scopeSpans ?? []).map((ss) => ({
      scopeName: ss.scope?.name ?? '',
      spans: (ss.spans ?? []).map(span),
    })),
  }));
}

function span(s: PbSpan): DecodedSpan {
  return {
    traceId: id(s.traceId, 16),
    spanId: id(s.spanId, 8),
    // A root span has no parent: an empty id, or (from some senders) the invalid all-zero one.
    parentSpanId: s.parentSpanId?.some((b) => b !== 0) ? id(s.parentSpanId, 8) : '',
    name: s.name ?? '',
    kind: s.kind ?? 0,
    startNanos: toBigInt(s.startTimeUnixNano),
    endNanos: toBigInt(s.endTimeUnixNano),
    statusCode: s.status?.code ?? 0,
    attributes: keyValues(s.attributes),
    droppedAttributes: s.droppedAttributesCount ?? 0,
  };
}

/** A byte id as lower-case hex, or null when it has the wrong length or is all zeros. */
function id(bytes: Uint8Array | undefined, length: number): string | null {
  if (!bytes || bytes.length !== length) return null;
  const hex = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
  return /^0+$/.test(hex) ? null : hex;
}

function toBigInt(v: Long | number | undefined): bigint {
  if (v === undefined) return 0n;
  if (typeof v === 'number') return BigInt(Math.trunc(v));
  return (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
}

export function keyValues(kvs: PbKeyValue[] | undefined, depth = 0): Attributes {
  const out: Attributes = {};
  if (!kvs) return out;
  for (const kv of kvs) {
    if (!kv.key) continue;
    out[kv.key] = anyValue(kv.value, depth);
  }
  return out;
}

export function anyValue(v: PbAnyValue | undefined, depth = 0): AttrValue {
  if (!v) return null;
  switch (v.value) {
    case 'stringValue':
      return v.stringValue ?? '';
    case 'boolValue':
      return v.boolValue ?? false;
    case 'intValue': {
      const i = v.intValue;
      if (i === undefined) return 0;
      if (typeof i === 'number') return i;
      const big = BigInt.asIntN(64, toBigInt(i));
      return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big.toString();
    }
    case 'doubleValue':
      return v.doubleValue ?? 0;
    case 'bytesValue':
      return Buffer.from(v.bytesValue ?? new Uint8Array()).toString('base64');
    case 'arrayValue':
      if (depth >= MAX_VALUE_DEPTH) return '[nested too deep]';
      return (v.arrayValue?.values ?? []).map((x) => anyValue(x, depth + 1));
    case 'kvlistValue':
      if (depth >= MAX_VALUE_DEPTH) return '{nested too deep}';
      return keyValues(v.kvlistValue?.values, depth + 1);
    default:
      return null;
  }
}
