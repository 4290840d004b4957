import type { TableSpec } from '../store/table-spec.js';
import { columnList, type SchemaContext, type TableSchema, type UInt64 } from './table-schema.js';

/** A row of `usage_counts`: the uses of one token by one agent in one second of event time, from one insert. */
export interface UsageCountRow {
  agent_id: string;
  token_id: string;
  /** The second of event time, RFC 3339 (`2026-12-03T10:00:00Z`). */
  second: string;
  requests: UInt64;
  /** The distinct targets of these uses. */
  targets: string[];
  /** The earliest ingestion time of these uses. */
  ingested_from: string;
}

/**
 * `usage_counts`: per agent and token, the token uses of each second of event time — how many,
 * their distinct targets, their earliest ingestion time — written by the collector with the
 * spans they count, once those are committed. `usage_anomaly` sums the seconds of a bucket
 * instead of reading the bucket's spans again at every run: a few rows per token and second,
 * whatever the rate of uses (at 5,000 uses a second a one-minute bucket was 300,000 spans). An
 * agent's and a token's counts, and the token an agent used most (the agent that used a token
 * most), are sums over these rows.
 *
 * Seconds, not the detector's bucket: the bucket size is a setting and may change, and a second
 * divides every bucket. Rows of the same agent, token and second (from different inserts) are
 * merged by the engine in the background (sum, union of targets, min); readers aggregate anyway.
 * Sorted by agent and token, so that a run reads only its entities' seconds. Not partitioned
 * (event time is the sender's clock); rows past retention in event time are dropped, as
 * `usage_buckets`'.
 */
export const usageCountsV7 = (ctx: SchemaContext): TableSpec => ({
  name: 'usage_counts',
  columns: [
    'agent_id LowCardinality(String)',
    'token_id String',
    "second DateTime64(0, 'UTC')",
    'requests SimpleAggregateFunction(sum, UInt64)',
    'targets SimpleAggregateFunction(groupUniqArrayArray, Array(String))',
    "ingested_from SimpleAggregateFunction(min, DateTime64(3, 'UTC'))",
  ],
  indexes: ['INDEX idx_token token_id TYPE bloom_filter(0.01) GRANULARITY 1'],
  engine: 'AggregatingMergeTree',
  orderBy: '(agent_id, token_id, second)',
  ttl: `toDateTime(second) + INTERVAL ${ctx.retentionDays} DAY`,
  shardingKey: 'cityHash64(token_id)',
});

export const usageCounts: TableSchema<UsageCountRow> = {
  name: 'usage_counts',
  ddl: usageCountsV7,
  columns: columnList<UsageCountRow>()(['agent_id', 'token_id', 'second', 'requests', 'targets', 'ingested_from']),
};
