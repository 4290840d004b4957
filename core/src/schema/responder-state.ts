import type { TableSpec } from '../store/table-spec.js';
import { columnList, fixed, type TableSchema, type UInt64 } from './table-schema.js';

/** A row of `responder_state`: one version of a named watermark or claim. */
export interface ResponderStateRow {
  name: string;
  watermark: UInt64;
  updated_at: string;
  version: UInt64;
}

/** `responder_state`: the responder's watermark over `alerts.version`, so a restart resumes. */
export const responderStateTable: TableSpec = {
  name: 'responder_state',
  columns: ['name LowCardinality(String)', 'watermark UInt64', "updated_at DateTime64(3, 'UTC')", 'version UInt64'],
  engine: 'ReplacingMergeTree(version)',
  orderBy: 'name',
  shardingKey: 'cityHash64(name)',
};

export const responderState: TableSchema<ResponderStateRow> = {
  name: 'responder_state',
  ddl: fixed(responderStateTable),
  columns: columnList<ResponderStateRow>()(['name', 'watermark', 'updated_at', 'version']),
};
