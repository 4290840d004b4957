import type { TableSpec } from '../store/table-spec.js';
import { columnList, fixed, type TableSchema, type UInt64 } from './table-schema.js';

/** A row of `suppressions`: one version of an analyst's mute. */
export interface SuppressionRow {
  id: string;
  detector: string;
  scope: string;
  value: string;
  reason: string;
  author: string;
  created_at: string;
  expires_at: string;
  deleted_at: string | null;
  deleted_by: string;
  version: UInt64;
}

/**
 * `suppressions`: analysts' mutes of a detector for one token, agent, target or environment, with
 * a reason, an author and an expiry. Muted detections are still recorded and counted; the API
 * keeps them out of the open queue while the suppression is active. Rows are versions (latest
 * wins), so lifting a suppression early is a new version with `deleted_at` set, and the history
 * of who muted what stays readable.
 */
export const suppressionsTable: TableSpec = {
  name: 'suppressions',
  columns: [
    'id String',
    'detector LowCardinality(String)',
    'scope LowCardinality(String)',
    'value String',
    'reason String',
    'author String',
    "created_at DateTime64(3, 'UTC')",
    "expires_at DateTime64(3, 'UTC')",
    "deleted_at Nullable(DateTime64(3, 'UTC'))",
    "deleted_by String DEFAULT ''",
    'version UInt64',
  ],
  engine: 'ReplacingMergeTree(version)',
  orderBy: 'id',
  shardingKey: 'cityHash64(id)',
};

export const suppressions: TableSchema<SuppressionRow> = {
  name: 'suppressions',
  ddl: fixed(suppressionsTable),
  columns: columnList<SuppressionRow>()([
    'id',
    'detector',
    'scope',
    'value',
    'reason',
    'author',
    'created_at',
    'expires_at',
    'deleted_at',
    'deleted_by',
    'version',
  ]),
};
