import type { TableSpec } from '../store/table-spec.js';
import { columnList, fixed, type TableSchema, type UInt64 } from './table-schema.js';

/** A row of `responder_policy_state`: one version of a policy's state. */
export interface ResponderPolicyStateRow {
  policy_id: string;
  state: string;
  reason: string;
  updated_by: string;
  updated_at: string;
  version: UInt64;
}

/** `responder_policy_state`: active, paused (circuit breaker) or disabled (endpoint gone), with the reason an admin reads. */
export const responderPolicyStateTable: TableSpec = {
  name: 'responder_policy_state',
  columns: [
    'policy_id String',
    'state LowCardinality(String)',
    'reason String',
    'updated_by String',
    "updated_at DateTime64(3, 'UTC')",
    'version UInt64',
  ],
  engine: 'ReplacingMergeTree(version)',
  orderBy: 'policy_id',
  shardingKey: 'cityHash64(policy_id)',
};

export const responderPolicyState: TableSchema<ResponderPolicyStateRow> = {
  name: 'responder_policy_state',
  ddl: fixed(responderPolicyStateTable),
  columns: columnList<ResponderPolicyStateRow>()(['policy_id', 'state', 'reason', 'updated_by', 'updated_at', 'version']),
};
