import { type CoreSettings, type SettingsOf, bool, defineSettings, keyList, port, positiveInt } from '@intentwatch/core';
import { z } from 'zod';

/**
 * The collector's settings: its port, ingest keys, batching and what one request may
 * contain. The ingest limits are enforced while a request is decoded (limits.ts): past any of
 * them the request is refused with 413. Their defaults are far above what an OpenTelemetry SDK
 * or Collector sends (a Collector batch is typically at most 8,192 spans; the SDK keeps 128
 * attributes a span), and low enough to bound what a hostile body costs: the maximal request
 * they allow decodes in about a second of CPU, yielding to the event loop as it goes (see
 * BENCHMARKS.md, hostile load).
 */
export const collectorVariables = z.object({
  /** Port of the OTLP/HTTP receiver and the event endpoints. @default 4318 */
  OTLP_PORT: port(4318),
  /** Keys a sender must present (Bearer or X-Intentwatch-Key); unset: the collector takes any sender. @default unset */
  INTENTWATCH_INGEST_KEYS: keyList,
  /** Rows per insert. @default 1000 */
  INTENTWATCH_BATCH_ROWS: positiveInt(1000),
  /** Longest wait before a partial batch is written. @default 200 */
  INTENTWATCH_BATCH_MS: positiveInt(200, 1),
  /** Rows waiting or being written past which new writes are refused with 429. @default 200000 */
  INTENTWATCH_MAX_PENDING_ROWS: positiveInt(200_000, 1000),
  /** Keep spans that are not token uses (the context of a use). @default true */
  INTENTWATCH_KEEP_CONTEXT_SPANS: bool(true),
  /** Attributes kept on one span, resource or event. @default 128 */
  INTENTWATCH_MAX_ATTRIBUTES: positiveInt(128),
  /** Characters kept of one attribute value. @default 4096 */
  INTENTWATCH_MAX_ATTRIBUTE_LENGTH: positiveInt(4096, 64),
  /** Spans per OTLP request, events per JSON event request. @default 65536 */
  INTENTWATCH_MAX_SPANS_PER_REQUEST: positiveInt(65_536),
  /** ResourceSpans plus ScopeSpans per request. @default 16384 */
  INTENTWATCH_MAX_RESOURCES_PER_REQUEST: positiveInt(16_384),
  /** Attributes read on one span, resource or event (INTENTWATCH_MAX_ATTRIBUTES of them are kept). @default 2048 */
  INTENTWATCH_MAX_DECODED_ATTRIBUTES: positiveInt(2048),
  /** Attributes plus every array and key-value list item nested in them, on one span, resource or event. @default 65536 */
  INTENTWATCH_MAX_VALUES_PER_SPAN: positiveInt(65_536),
  /** Items of one array or key-value list. @default 8192 */
  INTENTWATCH_MAX_ARRAY_ITEMS: positiveInt(8192),
  /** Length of one string, key or value (bytes in protobuf, characters in JSON). @default 1048576 */
  INTENTWATCH_MAX_STRING_LENGTH: positiveInt(1024 * 1024, 64),
  /** Nesting of attribute values (an array in an array is 2); past 8 levels values are stored as text. @default 32 */
  INTENTWATCH_MAX_NESTING_DEPTH: positiveInt(32),
});

export const collectorSettings = defineSettings(collectorVariables, (e, _core: CoreSettings) => ({
  otlpPort: e.OTLP_PORT,
  ...(e.INTENTWATCH_INGEST_KEYS ? { ingestKeys: e.INTENTWATCH_INGEST_KEYS } : {}),
  batchRows: e.INTENTWATCH_BATCH_ROWS,
  batchMs: e.INTENTWATCH_BATCH_MS,
  maxPendingRows: e.INTENTWATCH_MAX_PENDING_ROWS,
  keepContextSpans: e.INTENTWATCH_KEEP_CONTEXT_SPANS,
  maxAttributes: e.INTENTWATCH_MAX_ATTRIBUTES,
  maxAttributeLength: e.INTENTWATCH_MAX_ATTRIBUTE_LENGTH,
  /** What one ingest request may contain; past any of these it is refused with 413. */
  ingestLimits: {
    maxItemsPerRequest: e.INTENTWATCH_MAX_SPANS_PER_REQUEST,
    maxGroupsPerRequest: e.INTENTWATCH_MAX_RESOURCES_PER_REQUEST,
    maxAttributesPerItem: e.INTENTWATCH_MAX_DECODED_ATTRIBUTES,
    maxValuesPerItem: e.INTENTWATCH_MAX_VALUES_PER_SPAN,
    maxListItems: e.INTENTWATCH_MAX_ARRAY_ITEMS,
    maxStringLength: e.INTENTWATCH_MAX_STRING_LENGTH,
    maxDepth: e.INTENTWATCH_MAX_NESTING_DEPTH,
  },
}));

/** The collector's part of the configuration (see {@link collectorVariables}). */
export type CollectorSettings = SettingsOf<typeof collectorSettings>;

/** What one ingest request may contain, enforced while it is decoded (limits.ts). */
export type IngestLimits = CollectorSettings['ingestLimits'];

/** The collector's settings as nobody set them. */
export const DEFAULT_COLLECTOR_SETTINGS: Readonly<CollectorSettings> = Object.freeze(
  collectorSettings.resolve(collectorVariables.parse({}), {} as CoreSettings),
);

/** The ingest limits' defaults, from {@link collectorVariables}. */
export const DEFAULT_INGEST_LIMITS: Readonly<IngestLimits> = Object.freeze(DEFAULT_COLLECTOR_SETTINGS.ingestLimits);
