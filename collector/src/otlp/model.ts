import type { Attributes } from '@intentwatch/core';

/**
 * A span as the collector sees it after decoding either OTLP encoding. Ids are lower-case hex;
 * an id that was malformed is kept as `null` so that the span can be rejected with a reason.
 */
export interface DecodedSpan {
  traceId: string | null;
  spanId: string | null;
  parentSpanId: string | null;
  name: string;
  kind: number;
  startNanos: bigint;
  endNanos: bigint;
  statusCode: number;
  attributes: Attributes;
  droppedAttributes: number;
}

export interface DecodedScopeSpans {
  scopeName: string;
  spans: DecodedSpan[];
}

export interface DecodedResourceSpans {
  resource: Attributes;
  scopes: DecodedScopeSpans[];
}

/** Nesting deeper than this in attribute values is flattened to text. */
export const MAX_VALUE_DEPTH = 8;
