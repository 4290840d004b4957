import type { TableSpec } from '../store/table-spec.js';
import { columnList, fixed, type TableSchema } from './table-schema.js';

/** A row of `delivery_dead_letters`: a delivery that failed its last attempt. */
export interface DeliveryDeadLetterRow {
  webhook_id: string;
  policy_id: string;
  alert_id: string;
  attempts: number;
  last_http_status: number;
  last_error: string;
  payload: string;
  time: string;
}

/** `delivery_dead_letters`: deliveries that failed their last attempt, with the body, for replay by an operator. */
export const deliveryDeadLettersTable: TableSpec = {
  name: 'delivery_dead_letters',
  columns: [
    'webhook_id String',
    'policy_id LowCardinality(String)',
    'alert_id String',
    'attempts UInt16',
    'last_http_status UInt16',
    'last_error String',
    'payload String CODEC(ZSTD(1))',
    "time DateTime64(3, 'UTC')",
  ],
  engine: 'ReplacingMergeTree',
  orderBy: '(policy_id, webhook_id)',
  shardingKey: 'cityHash64(webhook_id)',
};

export const deliveryDeadLetters: TableSchema<DeliveryDeadLetterRow> = {
  name: 'delivery_dead_letters',
  ddl: fixed(deliveryDeadLettersTable),
  columns: columnList<DeliveryDeadLetterRow>()([
    'webhook_id',
    'policy_id',
    'alert_id',
    'attempts',
    'last_http_status',
    'last_error',
    'payload',
    'time',
  ]),
};
