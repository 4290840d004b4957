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
}

/**
 * `usage_buckets`: per-entity (agent or token) request count and distinct targets per bucket of
 * event time, kept by `usage_anomaly` so that its trailing baseline is a small read, not a
 * re-aggregation of every span of the last hour at every run.
 *
 * This is the table as migration 2 created it; migration 3 adds {@link USAGE_BUCKETS_TOP_AGENT}.
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

export const usageBuckets: TableSchema<UsageBucketRow> = {
  name: 'usage_buckets',
  ddl: (ctx) => {
    const created = usageBucketsV2(ctx);
    return { ...created, columns: [...created.columns, USAGE_BUCKETS_TOP_AGENT] };
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
  ]),
};
