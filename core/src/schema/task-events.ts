import type { TableSpec } from '../store/table-spec.js';
import { columnList, fixed, type TableSchema } from './table-schema.js';

/** A row of `task_events`, as the collector writes it. */
export interface TaskEventRow {
  time: string;
  ingested_at: string;
  event: string;
  task_id: string;
  agent_id: string;
  intent: string;
  tools: string[];
  deadline: string | null;
  caller: string;
  trace_id: string;
  span_id: string;
  /** How the event arrived: `otlp` or `json` from the collector. */
  source: string;
  attributes: Record<string, string>;
}

/** `task_events`: task lifecycle from the orchestrator (docs/conventions.md §1.3), sorted by task. */
export const taskEventsTable: TableSpec = {
  name: 'task_events',
  columns: [
    "time DateTime64(9, 'UTC')",
    "ingested_at DateTime64(3, 'UTC')",
    'event LowCardinality(String)',
    'task_id String',
    'agent_id LowCardinality(String)',
    'intent String',
    'tools Array(String)',
    "deadline Nullable(DateTime64(3, 'UTC'))",
    'caller LowCardinality(String)',
    'trace_id String',
    'span_id String',
    'source LowCardinality(String)',
    'attributes Map(LowCardinality(String), String) CODEC(ZSTD(1))',
  ],
  indexes: ['INDEX idx_ingested ingested_at TYPE minmax GRANULARITY 1'],
  engine: 'MergeTree',
  orderBy: '(task_id, time, event)',
  shardingKey: 'cityHash64(task_id)',
};

export const taskEvents: TableSchema<TaskEventRow> = {
  name: 'task_events',
  ddl: fixed(taskEventsTable),
  columns: columnList<TaskEventRow>()([
    'time',
    'ingested_at',
    'event',
    'task_id',
    'agent_id',
    'intent',
    'tools',
    'deadline',
    'caller',
    'trace_id',
    'span_id',
    'source',
    'attributes',
  ]),
};
