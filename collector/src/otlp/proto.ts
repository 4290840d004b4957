import protobuf from 'protobufjs';

/**
 * The messages of opentelemetry-proto's common/v1/common.proto and resource/v1/resource.proto that
 * every signal's request shares (the logs schema in logs.ts is built on them too).
 */
export const COMMON_MESSAGES = {
  KeyValue: { fields: { key: { type: 'string', id: 1 }, value: { type: 'AnyValue', id: 2 } } },
  AnyValue: {
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
  },
  ArrayValue: { fields: { values: { rule: 'repeated', type: 'AnyValue', id: 1 } } },
  KeyValueList: { fields: { values: { rule: 'repeated', type: 'KeyValue', id: 1 } } },
  Resource: {
    fields: {
      attributes: { rule: 'repeated', type: 'KeyValue', id: 1 },
      droppedAttributesCount: { type: 'uint32', id: 2 },
    },
  },
  InstrumentationScope: {
    fields: { name: { type: 'string', id: 1 }, version: { type: 'string', id: 2 } },
  },
};

/**
 * The OTLP trace messages the collector reads and writes, defined from the field numbers of
 * opentelemetry-proto (collector/trace/v1/trace_service.proto, trace/v1/trace.proto,
 * common/v1/common.proto, resource/v1/resource.proto). Span events and links are not declared:
 * the decoder skips them without building objects, since nothing here reads them.
 */
const messages = {
  ExportTraceServiceRequest: { fields: { resourceSpans: { rule: 'repeated', type: 'ResourceSpans', id: 1 } } },
  ExportTraceServiceResponse: { fields: { partialSuccess: { type: 'ExportTracePartialSuccess', id: 1 } } },
  ExportTracePartialSuccess: {
    fields: { rejectedSpans: { type: 'int64', id: 1 }, errorMessage: { type: 'string', id: 2 } },
  },
  Status: {
    fields: { code: { type: 'int32', id: 1 }, message: { type: 'string', id: 2 } },
  },
  ResourceSpans: {
    fields: {
      resource: { type: 'Resource', id: 1 },
      scopeSpans: { rule: 'repeated', type: 'ScopeSpans', id: 2 },
      schemaUrl: { type: 'string', id: 3 },
    },
  },
  ScopeSpans: {
    fields: {
      scope: { type: 'InstrumentationScope', id: 1 },
      spans: { rule: 'repeated', type: 'Span', id: 2 },
      schemaUrl: { type: 'string', id: 3 },
    },
  },
  Span: {
    fields: {
      traceId: { type: 'bytes', id: 1 },
      spanId: { type: 'bytes', id: 2 },
      traceState: { type: 'string', id: 3 },
      parentSpanId: { type: 'bytes', id: 4 },
      flags: { type: 'fixed32', id: 16 },
      name: { type: 'string', id: 5 },
      kind: { type: 'int32', id: 6 },
      startTimeUnixNano: { type: 'fixed64', id: 7 },
      endTimeUnixNano: { type: 'fixed64', id: 8 },
      attributes: { rule: 'repeated', type: 'KeyValue', id: 9 },
      droppedAttributesCount: { type: 'uint32', id: 10 },
      status: { type: 'SpanStatus', id: 15 },
    },
  },
  SpanStatus: { fields: { message: { type: 'string', id: 2 }, code: { type: 'int32', id: 3 } } },
  ...COMMON_MESSAGES,
};

/**
 * Strings are read leniently: an invalid UTF-8 sequence becomes U+FFFD instead of failing the
 * whole request. OpenTelemetry JS writes a lone surrogate (an attribute value cut by
 * `attributeValueLengthLimit` in the middle of an emoji, say) as such a sequence. Set on every
 * message, since each message of a JSON descriptor starts from the proto3 defaults.
 */
export const LENIENT_STRINGS = { features: { utf8_validation: 'NONE' } };

const descriptor = {
  nested: {
    otlp: { nested: Object.fromEntries(Object.entries(messages).map(([name, m]) => [name, { ...m, options: LENIENT_STRINGS }])) },
  },
};

const root = protobuf.Root.fromJSON(descriptor);

export const ExportTraceServiceRequest = root.lookupType('otlp.ExportTraceServiceRequest');
export const ExportTraceServiceResponse = root.lookupType('otlp.ExportTraceServiceResponse');
/** google.rpc.Status, the body of an OTLP/HTTP error answer. */
export const RpcStatus = root.lookupType('otlp.Status');
