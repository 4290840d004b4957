export { BatchWriter, type BatchWriterOptions } from './batch-writer.js';
export { Collector, type CollectorConfig } from './server.js';
export { eventsFromJson } from './json-events.js';
export { normalizeSpans, type NormalizeOptions, type NormalizeResult } from './normalize.js';
export { decodeJsonRequest, decodeJsonRequestYielding } from './otlp/decode-json.js';
export { decodeProtobufRequest } from './otlp/decode-protobuf.js';
export { readTraceRequest } from './otlp/protobuf-reader.js';
export { ExportTraceServiceRequest, ExportTraceServiceResponse } from './otlp/proto.js';
export type { RowBatch, SpanRow, TaskEventRow, TokenEventRow } from './rows.js';
export { ROW_FORMAT, TABLE_ENCODINGS, encodeNative, encodeRows, joinLines, type TableEncoding } from './row-serializer.js';
export { NativeEncodeError, NativeEncoder, nativeColumns, parseColumnDefinition, type NativeColumn } from './native-encoder.js';
export { LOG_SUMMARY_HEADER } from './routes/logs.js';
export {
  decodeLogsJson,
  ExportLogsServiceRequest,
  ExportLogsServiceResponse,
  logsRequestJson,
  MAX_LOG_RECORDS_PER_REQUEST,
  readLogsRequest,
} from './otlp/logs.js';
export { normalizeLogs, SOURCE_ATTRIBUTE, type LogsResult } from './sources/normalize-logs.js';
export { SOURCE_FORMATS } from './sources/registry.js';
export { DecodeBudget, LIMIT_VARIABLES, LimitExceededError } from './limits.js';
export { checkJsonLimits } from './json-limits.js';
export { readBody } from './body-reader.js';
export { normalizeInSlices } from './normalize-in-slices.js';
export { readTraceRequestYielding } from './otlp/protobuf-reader.js';
export {
  DEFAULT_COLLECTOR_SETTINGS,
  DEFAULT_INGEST_LIMITS,
  collectorSettings,
  collectorVariables,
  type CollectorSettings,
  type IngestLimits,
} from './settings.js';
export { UsageCounter, mergeUsageCounts, usageCountsOf } from './usage-counts.js';
