import type { TableSpec } from '../store/table-spec.js';
import { columnList, fixed, type TableSchema } from './table-schema.js';

/** A row of `alert_events`: one entry of an alert's audit trail. */
export interface AlertEventRow {
  alert_id: string;
  event_id: string;
  time: string;
  actor: string;
  action: string;
  from_status: string;
  to_status: string;
  detail: string;
}

/**
 * `alert_events`: the audit trail of an alert — raised, reopened by new evidence, status and
 * assignee changes, notes — who, when, what. `event_id` is deterministic for detector events
 * (a replay writes the same row) and random for people's actions.
 */
export const alertEventsTable: TableSpec = {
  name: 'alert_events',
  columns: [
    'alert_id String',
    'event_id String',
    "time DateTime64(3, 'UTC')",
    'actor String',
    'action LowCardinality(String)',
    'from_status LowCardinality(String)',
    'to_status LowCardinality(String)',
    'detail String',
  ],
  engine: 'ReplacingMergeTree',
  orderBy: '(alert_id, event_id)',
  shardingKey: 'cityHash64(alert_id)',
};

export const alertEvents: TableSchema<AlertEventRow> = {
  name: 'alert_events',
  ddl: fixed(alertEventsTable),
  columns: columnList<AlertEventRow>()(['alert_id', 'event_id', 'time', 'actor', 'action', 'from_status', 'to_status', 'detail']),
};
