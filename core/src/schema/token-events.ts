import type { TableSpec } from '../store/table-spec.js';
import { columnList, fixed, type TableSchema } from './table-schema.js';

/** A row of `token_events`, as the collector writes it. */
export interface TokenEventRow {
  time: string;
  ingested_at: string;
  event: string;
  token_id: string;
  parent_id: string;
  task_id: string;
  agent_id: string;
  workload_id: string;
  audience: string[];
  scopes: string[];
  resources: string[];
  expires_at: string | null;
  max_session_s: number | null;
  environment: string;
  revoked_reason: string;
  caller: string;
  trace_id: string;
  span_id: string;
  /** How the event arrived: `otlp` or `json` from the collector. */
  source: string;
  attributes: Record<string, string>;
}

/**
 * `token_events`: grants and revocations (docs/conventions.md §1.2). Small and read by every
 * detector run, always by token, so it is sorted by token then time. No TTL: a long-lived grant
 * must outlive the retention of the uses it explains.
 */
export const tokenEventsTable: TableSpec = {
  name: 'token_events',
  columns: [
    "time DateTime64(9, 'UTC')",
    "ingested_at DateTime64(3, 'UTC')",
    'event LowCardinality(String)',
    'token_id String',
    'parent_id String',
    'task_id String',
    'agent_id LowCardinality(String)',
    'workload_id String',
    'audience Array(String)',
    'scopes Array(String)',
    'resources Array(String)',
    "expires_at Nullable(DateTime64(3, 'UTC'))",
    'max_session_s Nullable(UInt32)',
    'environment LowCardinality(String)',
    'revoked_reason String',
    'caller LowCardinality(String)',
    'trace_id String',
    'span_id String',
    'source LowCardinality(String)',
    'attributes Map(LowCardinality(String), String) CODEC(ZSTD(1))',
  ],
  indexes: ['INDEX idx_ingested ingested_at TYPE minmax GRANULARITY 1', 'INDEX idx_parent parent_id TYPE bloom_filter(0.01) GRANULARITY 1'],
  engine: 'MergeTree',
  orderBy: '(token_id, time, event)',
  shardingKey: 'cityHash64(token_id)',
};

export const tokenEvents: TableSchema<TokenEventRow> = {
  name: 'token_events',
  ddl: fixed(tokenEventsTable),
  columns: columnList<TokenEventRow>()([
    'time',
    'ingested_at',
    'event',
    'token_id',
    'parent_id',
    'task_id',
    'agent_id',
    'workload_id',
    'audience',
    'scopes',
    'resources',
    'expires_at',
    'max_session_s',
    'environment',
    'revoked_reason',
    'caller',
    'trace_id',
    'span_id',
    'source',
    'attributes',
  ]),
};
