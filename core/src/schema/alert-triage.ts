import type { TableSpec } from '../store/table-spec.js';
import { columnList, fixed, type TableSchema, type UInt64 } from './table-schema.js';

/** A row of `alert_triage`: one version of the analyst's side of an alert. */
export interface AlertTriageRow {
  alert_id: string;
  status: string;
  /** '' = nobody. */
  assignee: string;
  updated_by: string;
  updated_at: string;
  version: UInt64;
}

/** `alert_triage`: the analyst's side of an alert (latest `version` wins; `assignee` '' = nobody). */
export const alertTriageTable: TableSpec = {
  name: 'alert_triage',
  columns: [
    'alert_id String',
    'status LowCardinality(String)',
    "assignee String DEFAULT ''",
    'updated_by String',
    "updated_at DateTime64(3, 'UTC')",
    'version UInt64',
  ],
  engine: 'ReplacingMergeTree(version)',
  orderBy: 'alert_id',
  shardingKey: 'cityHash64(alert_id)',
};

export const alertTriage: TableSchema<AlertTriageRow> = {
  name: 'alert_triage',
  ddl: fixed(alertTriageTable),
  columns: columnList<AlertTriageRow>()(['alert_id', 'status', 'assignee', 'updated_by', 'updated_at', 'version']),
};
