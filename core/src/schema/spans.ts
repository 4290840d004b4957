import type { TableSpec } from '../store/table-spec.js';
import { columnList, type SchemaContext, type TableSchema } from './table-schema.js';

/** A row of `spans`, as the collector writes it. */
export interface SpanRow {
  time: string;
  end_time: string;
  ingested_at: string;
  trace_id: string;
  span_id: string;
  parent_span_id: string;
  name: string;
  kind: number;
  status_code: number;
  token_id: string;
  task_id: string;
  agent_id: string;
  workload_id: string;
  caller: string;
  target: string;
  action: string;
  environment: string;
  scopes: string[];
  /** The normal form grants are matched against (core `normalizeResource`). */
  resource: string;
  tool: string;
  scope_name: string;
  attributes: Record<string, string>;
  resource_attributes: Record<string, string>;
  dropped_attributes: number;
  /** The resource as sent when it differs from `resource`, else ''. */
  resource_raw: string;
}

/**
 * `spans`: one row per span; token uses carry `token_id`, other spans are kept as context.
 *
 * Sort key: `ingested_at` first. The detectors' hot query is "what arrived since my watermark",
 * and with ingestion time leading the primary index narrows every run to the new rows alone,
 * so a run costs O(new rows) whatever the history (docs/design.md, targets). Look-ups by token,
 * agent, task or trace go through bloom-filter skip indexes; `time` has a min-max index because
 * event time tracks ingestion time closely for live traffic. Partitions are days of ingestion
 * (set by the collector, so a sender's clock cannot create thousands of partitions), which also
 * makes TTL drop whole parts.
 *
 * This is the table as migration 1 created it; later migrations add {@link SPANS_MCP_METHOD}
 * and {@link SPANS_RESOURCE_RAW}.
 */
export const spansV1 = (ctx: SchemaContext): TableSpec => ({
  name: 'spans',
  columns: [
    "time DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1))",
    "end_time DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1))",
    "ingested_at DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1))",
    'trace_id String',
    'span_id String',
    'parent_span_id String',
    'name String',
    'kind UInt8',
    'status_code UInt8',
    'token_id String',
    'task_id String',
    'agent_id LowCardinality(String)',
    'workload_id String',
    'caller LowCardinality(String)',
    'target LowCardinality(String)',
    'action String',
    'environment LowCardinality(String)',
    'scopes Array(LowCardinality(String))',
    'resource String',
    'tool LowCardinality(String)',
    'scope_name LowCardinality(String)',
    'attributes Map(LowCardinality(String), String) CODEC(ZSTD(1))',
    'resource_attributes Map(LowCardinality(String), String) CODEC(ZSTD(1))',
    'dropped_attributes UInt32',
  ],
  indexes: [
    'INDEX idx_time time TYPE minmax GRANULARITY 1',
    'INDEX idx_token token_id TYPE bloom_filter(0.01) GRANULARITY 2',
    'INDEX idx_agent agent_id TYPE bloom_filter(0.01) GRANULARITY 2',
    'INDEX idx_task task_id TYPE bloom_filter(0.01) GRANULARITY 2',
    'INDEX idx_trace trace_id TYPE bloom_filter(0.01) GRANULARITY 2',
  ],
  engine: 'MergeTree',
  partitionBy: 'toYYYYMMDD(ingested_at)',
  orderBy: '(ingested_at, token_id, trace_id, span_id)',
  ttl: `toDateTime(ingested_at) + INTERVAL ${ctx.retentionDays} DAY`,
  // Keeps a token's uses on one shard, so token timelines and per-token detection stay local.
  shardingKey: 'cityHash64(token_id)',
});

/**
 * Migration 4. An MCP use (docs/conventions.md §1.6) is named as one in alert reasons. Its
 * method is taken from the attribute map once, at insert: detectors then read a near-empty
 * LowCardinality column instead of the whole map (measured: the map read made a window query
 * several times slower). Parts written before this version compute it from the map when read.
 */
export const SPANS_MCP_METHOD = "mcp_method LowCardinality(String) MATERIALIZED attributes['mcp.method.name']";

/**
 * Migration 5. The resource as sent, beside the normal form in `resource` that grants are
 * matched against ('' when normalising changed nothing; see core/src/conventions/resource.ts).
 */
export const SPANS_RESOURCE_RAW = "resource_raw String DEFAULT ''";

export const spans: TableSchema<SpanRow> = {
  name: 'spans',
  ddl: (ctx) => {
    const created = spansV1(ctx);
    return { ...created, columns: [...created.columns, SPANS_MCP_METHOD, SPANS_RESOURCE_RAW] };
  },
  columns: columnList<SpanRow>()([
    'time',
    'end_time',
    'ingested_at',
    'trace_id',
    'span_id',
    'parent_span_id',
    'name',
    'kind',
    'status_code',
    'token_id',
    'task_id',
    'agent_id',
    'workload_id',
    'caller',
    'target',
    'action',
    'environment',
    'scopes',
    'resource',
    'tool',
    'scope_name',
    'attributes',
    'resource_attributes',
    'dropped_attributes',
    'resource_raw',
  ]),
  computed: ['mcp_method'],
};
