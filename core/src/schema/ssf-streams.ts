import type { TableSpec } from '../store/table-spec.js';
import { columnList, fixed, type TableSchema, type UInt64 } from './table-schema.js';

/** A row of `ssf_streams`: one version of a Shared Signals stream. */
export interface SsfStreamRow {
  stream_id: string;
  /** The stream (configuration, subjects, status) as JSON. */
  body: string;
  /** 1 when this version deletes the stream. */
  deleted: number;
  updated_by: string;
  updated_at: string;
  version: UInt64;
}

/** `ssf_streams`: Shared Signals event streams (configuration, subjects, status) as JSON; latest `version` wins. */
export const ssfStreamsTable: TableSpec = {
  name: 'ssf_streams',
  columns: ['stream_id String', 'body String', 'deleted UInt8', 'updated_by String', "updated_at DateTime64(3, 'UTC')", 'version UInt64'],
  engine: 'ReplacingMergeTree(version)',
  orderBy: 'stream_id',
  shardingKey: 'cityHash64(stream_id)',
};

export const ssfStreams: TableSchema<SsfStreamRow> = {
  name: 'ssf_streams',
  ddl: fixed(ssfStreamsTable),
  columns: columnList<SsfStreamRow>()(['stream_id', 'body', 'deleted', 'updated_by', 'updated_at', 'version']),
};
