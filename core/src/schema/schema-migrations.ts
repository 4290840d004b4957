import type { TableSpec } from '../store/table-spec.js';
import { columnList, fixed, type TableSchema } from './table-schema.js';

/** `schema_migrations`: one row per migration applied (latest `applied_at` wins). */
export interface SchemaMigrationRow {
  version: number;
  name: string;
  /** Defaults to the time of the insert. */
  applied_at?: string;
}

export const schemaMigrationsTable: TableSpec = {
  name: 'schema_migrations',
  columns: ['version UInt32', 'name String', "applied_at DateTime64(3, 'UTC') DEFAULT now64(3)"],
  engine: 'ReplacingMergeTree(applied_at)',
  orderBy: 'version',
  shardingKey: 'version',
};

export const schemaMigrations: TableSchema<SchemaMigrationRow> = {
  name: 'schema_migrations',
  ddl: fixed(schemaMigrationsTable),
  columns: columnList<SchemaMigrationRow>()(['version', 'name', 'applied_at']),
};
