import type { TableSpec } from '../store/table-spec.js';
import { columnList, fixed, type TableSchema, type UInt64 } from './table-schema.js';

/** A row of `detector_state`: one version of a detector's watermark. */
export interface DetectorStateRow {
  detector: string;
  watermark: string;
  updated_at: string;
  version: UInt64;
}

/** `detector_state`: each detector's watermark over `ingested_at`, so a restart resumes. */
export const detectorStateTable: TableSpec = {
  name: 'detector_state',
  columns: ['detector LowCardinality(String)', "watermark DateTime64(3, 'UTC')", "updated_at DateTime64(3, 'UTC')", 'version UInt64'],
  engine: 'ReplacingMergeTree(version)',
  orderBy: 'detector',
  shardingKey: 'cityHash64(detector)',
};

export const detectorState: TableSchema<DetectorStateRow> = {
  name: 'detector_state',
  ddl: fixed(detectorStateTable),
  columns: columnList<DetectorStateRow>()(['detector', 'watermark', 'updated_at', 'version']),
};
