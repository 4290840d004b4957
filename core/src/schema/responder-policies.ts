import type { TableSpec } from '../store/table-spec.js';
import { columnList, fixed, type TableSchema, type UInt64 } from './table-schema.js';

/** A row of `responder_policies`: one version of a policy created through the API. */
export interface ResponderPolicyRow {
  id: string;
  /** The policy as JSON (secrets sealed). */
  body: string;
  /** 1 when this version deletes the policy. */
  deleted: number;
  updated_by: string;
  updated_at: string;
  version: UInt64;
}

/** `responder_policies`: revoke policies created through the API (a policy file's are not stored); latest `version` wins. */
export const responderPoliciesTable: TableSpec = {
  name: 'responder_policies',
  columns: ['id String', 'body String', 'deleted UInt8', 'updated_by String', "updated_at DateTime64(3, 'UTC')", 'version UInt64'],
  engine: 'ReplacingMergeTree(version)',
  orderBy: 'id',
  shardingKey: 'cityHash64(id)',
};

export const responderPolicies: TableSchema<ResponderPolicyRow> = {
  name: 'responder_policies',
  ddl: fixed(responderPoliciesTable),
  columns: columnList<ResponderPolicyRow>()(['id', 'body', 'deleted', 'updated_by', 'updated_at', 'version']),
};
