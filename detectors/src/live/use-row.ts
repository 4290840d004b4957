import type { SpanRow } from '@intentwatch/core';
import type { Row } from '../define-detector.js';

/**
 * A committed use as the detectors' SQL reads it from `spans` (`usesSql`): the same columns, so
 * that a detector's row → finding code can judge a use live. `mcp_method` is the column the
 * table materialises from the `mcp.method.name` attribute.
 */
export function useRow(use: SpanRow): Row {
  return {
    time: use.time,
    ingested_at: use.ingested_at,
    trace_id: use.trace_id,
    span_id: use.span_id,
    token_id: use.token_id,
    task_id: use.task_id,
    agent_id: use.agent_id,
    workload_id: use.workload_id,
    caller: use.caller,
    target: use.target,
    action: use.action,
    environment: use.environment,
    scopes: use.scopes,
    resource: use.resource,
    resource_raw: use.resource_raw,
    tool: use.tool,
    mcp_method: use.attributes['mcp.method.name'] ?? '',
  };
}
