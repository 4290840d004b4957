import type { TableSpec } from '../store/table-spec.js';

/**
 * A UInt64 as a row writes it: a number while it is a safe integer, else its decimal text.
 * Reads return it as text (64-bit integers are quoted in JSON, see `Store`).
 */
export type UInt64 = number | string;

/** What a table's DDL depends on. */
export interface SchemaContext {
  retentionDays: number;
}

/** Every key of T, each once: a column list that misses a field of the row does not compile. */
export type AllKeys<T, L extends readonly (keyof T)[]> =
  Exclude<keyof T, L[number]> extends never ? L : ['missing columns', Exclude<keyof T, L[number]>];

/** A column list checked against the row type T: `columnList<SpanRow>()(['time', …])`. */
export function columnList<T>() {
  return <const L extends readonly (keyof T & string)[]>(list: AllKeys<T, L>): readonly (keyof T & string)[] =>
    list as unknown as readonly (keyof T & string)[];
}

/**
 * One table in one place: its DDL as it stands after every migration, the row a writer
 * inserts, and that row's columns. The migrations that built the table keep their own SQL
 * (a migration that ran must never change meaning); the schema tests check that this DDL and
 * these columns are what the migrated engine reports.
 */
export interface TableSchema<Row> {
  readonly name: string;
  /** The table as the migrations leave it (on a cluster `createTableDdl` renders the Replicated + Distributed pair). */
  readonly ddl: (ctx: SchemaContext) => TableSpec;
  /** The columns a row writes, in the table's order: the keys of `Row`, each once. */
  readonly columns: readonly (keyof Row & string)[];
  /** Columns the engine computes (MATERIALIZED) and no writer sends. */
  readonly computed?: readonly string[];
}

/** A schema whose DDL does not depend on the context. */
export function fixed(spec: TableSpec): (ctx: SchemaContext) => TableSpec {
  return () => spec;
}
