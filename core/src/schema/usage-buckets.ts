import type { TableSpec } from '../store/table-spec.js';
import { columnList, type SchemaContext, type TableSchema, type UInt64 } from './table-schema.js';

/** A row of `usage_buckets`: one version of an entity's counts in one bucket. */
export interface UsageBucketRow {
  entity_kind: string;
  entity: string;
  bucket_s: number;
  bucket: string;
  requests: UInt64;
  targets: UInt64;
  top_token: string;
  version: UInt64;
  top_agent: string;
  ingested_from: string;
}

/**
 * `usage_buckets`: per-entity (agent or token) request count and distinct targets per bucket of
 * event time, kept by `usage_anomaly` so that its trailing baseline is a small read, not a
 * re-aggregation of every span of the last hour at every run.
 *
 * This is the table as migration 2 created it; migration 3 adds {@link USAGE_BUCKETS_TOP_AGENT},
 * migration 6 {@link USAGE_BUCKETS_INGESTED_FROM}.
 */
export const usageBucketsV2 = (ctx: SchemaContext): TableSpec => ({
  name: 'usage_buckets',
  columns: [
    'entity_kind LowCardinality(String)',
    'entity String',
    'bucket_s UInt32',
    "bucket DateTime('UTC')",
    'requests UInt64',
    'targets UInt64',
    'top_token String',
    'version UInt64',
  ],
  engine: 'ReplacingMergeTree(version)',
  orderBy: '(entity_kind, entity, bucket_s, bucket)',
  ttl: `bucket + INTERVAL ${ctx.retentionDays} DAY`,
  shardingKey: 'cityHash64(entity)',
});

/**
 * Migration 3. A token's bucket names the agent that used it most, so that a token's burst that
 * is its agent's burst is reported once, also when the bucket is re-scored from this table.
 */
export const USAGE_BUCKETS_TOP_AGENT = "top_agent String DEFAULT ''";

/**
 * Migration 6. The earliest ingestion time of the bucket's spans: a recount reads `spans` from
 * there (its sorting key starts with `ingested_at`), not every part whose event times overlap
 * the bucket. Rows written before it read 1970: the recount then reads every ingestion time.
 */
export const USAGE_BUCKETS_INGESTED_FROM = "ingested_from DateTime64(3, 'UTC') DEFAULT 0";

export const usageBuckets: TableSchema<UsageBucketRow> = {
  name: 'usage_buckets',
  ddl: (ctx) => {
    const created = usageBucketsV2(ctx);
    return { ...created, columns: [...created.columns, USAGE_BUCKETS_TOP_AGENT, USAGE_BUCKETS_INGESTED_FROM] };
  },
  columns: columnList<UsageBucketRow>()([
    'entity_kind',
    'entity',
    'bucket_s',
    'bucket',
    'requests',
    'targets',
    'top_token',
    'version',
    'top_agent',
    'ingested_from',
  ]),
};
