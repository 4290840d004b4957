import type { TableSpec } from '../store/table-spec.js';
import { columnList, fixed, type TableSchema, type UInt64 } from './table-schema.js';

/** A row of `alerts`: one version of an alert's detection fields. */
export interface AlertRow {
  id: string;
  detector: string;
  severity: string;
  title: string;
  reason: string;
  dedup_key: string;
  token_id: string;
  root_token_id: string;
  agent_id: string;
  task_id: string;
  caller: string;
  target: string;
  environment: string;
  frameworks: string[];
  first_seen: string;
  last_seen: string;
  hit_count: UInt64;
  created_at: string;
  updated_at: string;
  version: UInt64;
}

/**
 * `alerts`: detection state, one logical row per alert id (a hash of its dedup key). Every
 * update by a detector is a new row with a higher `version`; readers take the latest version
 * (`LIMIT 1 BY id` / argMax), never `FINAL` on large scans. Only detection fields live here —
 * triage (status, assignee, notes) is in `alert_triage` / `alert_events`, so that a
 * re-detection can never overwrite an analyst's decision. The sort key is the immutable id;
 * `first_seen`/`last_seen` change and so stay out of it.
 */
export const alertsTable: TableSpec = {
  name: 'alerts',
  columns: [
    'id String',
    'detector LowCardinality(String)',
    'severity LowCardinality(String)',
    'title String',
    'reason String',
    'dedup_key String',
    'token_id String',
    'root_token_id String',
    'agent_id String',
    'task_id String',
    'caller String',
    'target String',
    'environment String',
    'frameworks Array(LowCardinality(String))',
    "first_seen DateTime64(9, 'UTC')",
    "last_seen DateTime64(9, 'UTC')",
    'hit_count UInt64',
    "created_at DateTime64(3, 'UTC')",
    "updated_at DateTime64(3, 'UTC')",
    'version UInt64',
  ],
  engine: 'ReplacingMergeTree(version)',
  orderBy: 'id',
  shardingKey: 'cityHash64(id)',
};

export const alerts: TableSchema<AlertRow> = {
  name: 'alerts',
  ddl: fixed(alertsTable),
  columns: columnList<AlertRow>()([
    'id',
    'detector',
    'severity',
    'title',
    'reason',
    'dedup_key',
    'token_id',
    'root_token_id',
    'agent_id',
    'task_id',
    'caller',
    'target',
    'environment',
    'frameworks',
    'first_seen',
    'last_seen',
    'hit_count',
    'created_at',
    'updated_at',
    'version',
  ]),
};
