import type { TableSpec } from '../store/table-spec.js';
import { columnList, fixed, type TableSchema, type UInt64 } from './table-schema.js';

/** A row of `revocations`: one version of a revoke request's state. */
export interface RevocationRow {
  webhook_id: string;
  policy_id: string;
  dedup_key: string;
  alert_id: string;
  mode: string;
  token_id: string;
  session_root: string;
  tokens: string[];
  chain: string[];
  dry_run: number;
  requested_by: string;
  payload: string;
  status: string;
  attempts: number;
  last_error: string;
  created_at: string;
  updated_at: string;
  version: UInt64;
  /** The token this request revokes ('' on requests made before, and on other channels'). */
  token: string;
  /** How `token` stands to the alert's token. */
  relation: string;
}

/**
 * `revocations`: one logical row per revoke request (its `webhook_id`), the latest `version`
 * telling its state: queued, retrying, delivered, dead, held (a paused policy or its rate limit),
 * dry_run, refused (endpoint not allowed), disabled (endpoint answered 410), discarded. Sorted by
 * policy and dedup key (`token:<id>`: one request per token), so "has this token already been
 * revoked under this policy?" is a primary-key lookup. `payload` is the exact body sent on every
 * attempt (no secrets in it).
 *
 * This is the table as migration 20 created it; migration 21 adds {@link REVOCATIONS_TOKEN} and
 * {@link REVOCATIONS_RELATION}.
 */
export const revocationsV20: TableSpec = {
  name: 'revocations',
  columns: [
    'webhook_id String',
    'policy_id LowCardinality(String)',
    'dedup_key String',
    'alert_id String',
    'mode LowCardinality(String)',
    'token_id String',
    'session_root String',
    'tokens Array(String)',
    'chain Array(String)',
    'dry_run UInt8',
    'requested_by String',
    'payload String CODEC(ZSTD(1))',
    'status LowCardinality(String)',
    'attempts UInt16',
    'last_error String',
    "created_at DateTime64(3, 'UTC')",
    "updated_at DateTime64(3, 'UTC')",
    'version UInt64',
  ],
  indexes: [
    'INDEX idx_alert alert_id TYPE bloom_filter(0.01) GRANULARITY 1',
    'INDEX idx_webhook webhook_id TYPE bloom_filter(0.01) GRANULARITY 1',
    'INDEX idx_updated updated_at TYPE minmax GRANULARITY 1',
  ],
  engine: 'ReplacingMergeTree(version)',
  orderBy: '(policy_id, dedup_key, webhook_id)',
  shardingKey: 'cityHash64(policy_id, dedup_key)',
};

/** Migration 21: one revoke request per token (docs/conventions.md §2.3), the token it revokes. */
export const REVOCATIONS_TOKEN = "token String DEFAULT ''";
/** Migration 21: how the revoked token stands to the alert's token. */
export const REVOCATIONS_RELATION = "relation LowCardinality(String) DEFAULT ''";

export const revocations: TableSchema<RevocationRow> = {
  name: 'revocations',
  ddl: fixed({ ...revocationsV20, columns: [...revocationsV20.columns, REVOCATIONS_TOKEN, REVOCATIONS_RELATION] }),
  columns: columnList<RevocationRow>()([
    'webhook_id',
    'policy_id',
    'dedup_key',
    'alert_id',
    'mode',
    'token_id',
    'session_root',
    'tokens',
    'chain',
    'dry_run',
    'requested_by',
    'payload',
    'status',
    'attempts',
    'last_error',
    'created_at',
    'updated_at',
    'version',
    'token',
    'relation',
  ]),
};
