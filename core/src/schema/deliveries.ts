import type { TableSpec } from '../store/table-spec.js';
import { columnList, fixed, type TableSchema } from './table-schema.js';

/** A row of `deliveries`: one webhook attempt. */
export interface DeliveryRow {
  alert_id: string;
  webhook_id: string;
  policy_id: string;
  attempt: number;
  status: string;
  http_status: number;
  latency_ms: number;
  error: string;
  endpoint: string;
  dry_run: number;
  next_attempt_at: string | null;
  time: string;
}

/** `deliveries`: every webhook attempt — status, HTTP status, latency, error — the audit trail shown on the alert. */
export const deliveriesTable: TableSpec = {
  name: 'deliveries',
  columns: [
    'alert_id String',
    'webhook_id String',
    'policy_id LowCardinality(String)',
    'attempt UInt16',
    'status LowCardinality(String)',
    'http_status UInt16',
    'latency_ms UInt32',
    'error String',
    'endpoint String',
    'dry_run UInt8',
    "next_attempt_at Nullable(DateTime64(3, 'UTC'))",
    "time DateTime64(3, 'UTC')",
  ],
  indexes: ['INDEX idx_webhook webhook_id TYPE bloom_filter(0.01) GRANULARITY 1'],
  engine: 'MergeTree',
  orderBy: '(alert_id, webhook_id, attempt, time)',
  shardingKey: 'cityHash64(alert_id)',
};

export const deliveries: TableSchema<DeliveryRow> = {
  name: 'deliveries',
  ddl: fixed(deliveriesTable),
  columns: columnList<DeliveryRow>()([
    'alert_id',
    'webhook_id',
    'policy_id',
    'attempt',
    'status',
    'http_status',
    'latency_ms',
    'error',
    'endpoint',
    'dry_run',
    'next_attempt_at',
    'time',
  ]),
};
