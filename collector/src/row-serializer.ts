import { type InsertFormat, TABLES } from '@intentwatch/core';
import { NativeEncoder, nativeColumns } from './native-encoder.js';
import type { RowBatch } from './rows.js';

/**
 * Rows as the bytes the store parses: JSONCompactEachRow, one JSON array per row with the
 * columns in a fixed order. Encoding a row is one `JSON.stringify` of an array — no keys
 * repeated per row, no per-row object built by the client library — and a batch is the lines
 * joined, so the rows of many requests concatenate into one insert. Measured on the benchmark's
 * span rows this is the cheapest text encoding chDB accepts (see BENCHMARKS.md).
 *
 * A value that is `undefined` is written as null, which the store reads as the column's
 * default, exactly as a key left out of JSONEachRow would be.
 */

/**
 * The columns of each table, from core/src/schema: each list is checked at compile time against
 * the table's row type (every key once), so a row field without a column, or a column without a
 * field, does not compile.
 */
export const SPAN_COLUMNS: readonly string[] = TABLES.spans.columns;
export const TOKEN_EVENT_COLUMNS: readonly string[] = TABLES.token_events.columns;
export const TASK_EVENT_COLUMNS: readonly string[] = TABLES.task_events.columns;

export const ROW_FORMAT: InsertFormat = 'JSONCompactEachRow';

/**
 * A line encoder for one column list. Built with `new Function` so that each row is read with
 * fixed property accesses (monomorphic, inlined) instead of a loop over column names; the
 * names come from the constant lists above, never from input.
 */
function lineEncoder(cols: readonly string[]): (row: object) => string {
  for (const c of cols) if (!/^[a-z_]+$/.test(c)) throw new Error(`unexpected column name ${c}`);
  return new Function('r', `return JSON.stringify([${cols.map((c) => `r.${c}`).join(', ')}]);`) as (row: object) => string;
}

export interface TableEncoding {
  table: string;
  columns: readonly string[];
  line: (row: object) => string;
  /** The same rows as Native blocks, for the embedded store (see native-encoder.ts). */
  native: NativeEncoder;
}

/** A Native encoder for `columns` of a table, typed by the table's DDL (the types do not depend on the retention). */
function nativeEncoder(table: keyof typeof TABLES, columns: readonly string[]): NativeEncoder {
  return new NativeEncoder(nativeColumns(TABLES[table].ddl({ retentionDays: 1 }).columns, columns));
}

/** How the rows of `table` are encoded: as JSON lines and as Native blocks of the same columns. */
function encodingOf(table: keyof typeof TABLES, columns: readonly string[]): TableEncoding {
  return { table, columns, line: lineEncoder(columns), native: nativeEncoder(table, columns) };
}

/** How each kind of row of a {@link RowBatch} is stored. */
export const TABLE_ENCODINGS: { [K in keyof RowBatch]: TableEncoding } = {
  spans: encodingOf('spans', SPAN_COLUMNS),
  tokenEvents: encodingOf('token_events', TOKEN_EVENT_COLUMNS),
  taskEvents: encodingOf('task_events', TASK_EVENT_COLUMNS),
};

/** How `usage_counts` rows, which the writer derives from the spans it commits, are stored. */
export const USAGE_COUNT_ENCODING: TableEncoding = encodingOf('usage_counts', TABLES.usage_counts.columns);

/** The rows as JSONCompactEachRow lines (no trailing newline), one string per row. */
export function encodeRows(encoding: TableEncoding, rows: readonly object[]): string[] {
  const out = new Array<string>(rows.length);
  for (let i = 0; i < rows.length; i++) out[i] = encoding.line(rows[i]!);
  return out;
}

/**
 * The rows as Native blocks of at most `rowsPerBlock` rows each. Blocks concatenate: a stream of
 * them is one insert, so the blocks of many requests need no re-encoding to go together.
 */
export function encodeNative(encoding: TableEncoding, rows: readonly object[], rowsPerBlock = rows.length): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < rows.length; i += rowsPerBlock) out.push(encoding.native.encode(rows.slice(i, i + rowsPerBlock)));
  return out;
}

/** Lines from any number of requests as one insert body. */
export function joinLines(chunks: readonly string[][]): Buffer {
  let text = '';
  for (const lines of chunks) {
    for (const line of lines) text += `${line}\n`;
  }
  return Buffer.from(text, 'utf8');
}
