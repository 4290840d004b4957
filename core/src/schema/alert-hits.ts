import type { TableSpec } from '../store/table-spec.js';
import { columnList, fixed, type TableSchema } from './table-schema.js';

/** A row of `alert_hits`: one piece of evidence of an alert. */
export interface AlertHitRow {
  alert_id: string;
  evidence_key: string;
  trace_id: string;
  span_id: string;
  time: string;
  detected_at: string;
  token_id: string;
  agent_id: string;
  target: string;
  severity: string;
  reason: string;
}

/**
 * `alert_hits`: one row per piece of evidence (an offending span, or a lifecycle event) of an
 * alert. Keyed by (alert id, evidence key), so replaying a window inserts nothing new and an
 * alert's count is the number of distinct offending spans.
 */
export const alertHitsTable: TableSpec = {
  name: 'alert_hits',
  columns: [
    'alert_id String',
    'evidence_key String',
    'trace_id String',
    'span_id String',
    "time DateTime64(9, 'UTC')",
    "detected_at DateTime64(3, 'UTC')",
    'token_id String',
    'agent_id String',
    'target String',
    'severity LowCardinality(String)',
    'reason String',
  ],
  engine: 'ReplacingMergeTree',
  orderBy: '(alert_id, evidence_key)',
  shardingKey: 'cityHash64(alert_id)',
};

export const alertHits: TableSchema<AlertHitRow> = {
  name: 'alert_hits',
  ddl: fixed(alertHitsTable),
  columns: columnList<AlertHitRow>()([
    'alert_id',
    'evidence_key',
    'trace_id',
    'span_id',
    'time',
    'detected_at',
    'token_id',
    'agent_id',
    'target',
    'severity',
    'reason',
  ]),
};
