/** Rows as the collector writes them; keys are the columns of the core migrations. */

export interface SpanRow {
  time: string;
  end_time: string;
  ingested_at: string;
  trace_id: string;
  span_id: string;
  parent_span_id: string;
  name: string;
  kind: number;
  status_code: number;
  token_id: string;
  task_id: string;
  agent_id: string;
  workload_id: string;
  caller: string;
  target: string;
  action: string;
  environment: string;
  scopes: string[];
  /** The normal form grants are matched against (core `normalizeResource`). */
  resource: string;
  /** The resource as sent when it differs from `resource`, else ''. */
  resource_raw: string;
  tool: string;
  scope_name: string;
  attributes: Record<string, string>;
  resource_attributes: Record<string, string>;
  dropped_attributes: number;
}

export interface TokenEventRow {
  time: string;
  ingested_at: string;
  event: string;
  token_id: string;
  parent_id: string;
  task_id: string;
  agent_id: string;
  workload_id: string;
  audience: string[];
  scopes: string[];
  resources: string[];
  expires_at: string | null;
  max_session_s: number | null;
  environment: string;
  revoked_reason: string;
  caller: string;
  trace_id: string;
  span_id: string;
  source: 'otlp' | 'json';
  attributes: Record<string, string>;
}

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
  source: 'otlp' | 'json';
  attributes: Record<string, string>;
}

/** What one request contributes to each table. */
export interface RowBatch {
  spans: SpanRow[];
  tokenEvents: TokenEventRow[];
  taskEvents: TaskEventRow[];
}

export function emptyBatch(): RowBatch {
  return { spans: [], tokenEvents: [], taskEvents: [] };
}

export function batchSize(b: RowBatch): number {
  return b.spans.length + b.tokenEvents.length + b.taskEvents.length;
}
