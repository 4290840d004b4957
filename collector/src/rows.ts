import type { SpanRow, TaskEventRow, TokenEventRow } from '@intentwatch/core';

/** Rows as the collector writes them: the row types of core/src/schema. */
export type { SpanRow, TaskEventRow, TokenEventRow };

/** What one request contributes to each table. */
export interface RowBatch {
  spans: SpanRow[];
  tokenEvents: TokenEventRow[];
  taskEvents: TaskEventRow[];
}

export function emptyBatch(): RowBatch {
  return { spans: [], tokenEvents: [], taskEvents: [] };
}

export function batchSize(b: RowBatch): number {
  return b.spans.length + b.tokenEvents.length + b.taskEvents.length;
}
