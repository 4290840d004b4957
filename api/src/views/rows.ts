/**
 * Store rows of the signal tables and their API shapes. Every view selects the same columns
 * and maps them here, so a use or an event reads the same on every page.
 */
import type { SpanRow, Store, TokenEventRow as StoredTokenEvent } from '@intentwatch/core';
import type { TaskOut, TokenEventOut, UseOut } from '../contract/schemas.js';

export const GRANT_EVENTS = ['issued', 'refreshed', 'exchanged'] as const;
export const TASK_END_EVENTS = ['completed', 'failed', 'cancelled'] as const;

export const USE_COLUMNS =
  'time, trace_id, span_id, name, token_id, task_id, agent_id, workload_id, caller, target, action, environment, scopes, resource, tool, status_code';

/** A use as {@link USE_COLUMNS} reads it from `spans`. */
export type UseRow = Pick<
  SpanRow,
  | 'time'
  | 'trace_id'
  | 'span_id'
  | 'name'
  | 'token_id'
  | 'task_id'
  | 'agent_id'
  | 'workload_id'
  | 'caller'
  | 'target'
  | 'action'
  | 'environment'
  | 'scopes'
  | 'resource'
  | 'tool'
  | 'status_code'
>;

export function toUse(r: UseRow, alertIds: string[] = []): UseOut {
  return {
    time: r.time,
    traceId: r.trace_id,
    spanId: r.span_id,
    name: r.name,
    tokenId: r.token_id,
    taskId: r.task_id,
    agentId: r.agent_id,
    workloadId: r.workload_id,
    caller: r.caller,
    target: r.target,
    action: r.action,
    environment: r.environment,
    scopes: r.scopes,
    resource: r.resource,
    tool: r.tool,
    statusCode: Number(r.status_code),
    alertIds,
  };
}

export const TOKEN_EVENT_COLUMNS =
  'time, event, token_id, parent_id, task_id, agent_id, workload_id, audience, scopes, resources, expires_at, max_session_s, environment, revoked_reason, caller, source, trace_id, span_id';

/** An event as {@link TOKEN_EVENT_COLUMNS} reads it from `token_events`. */
export type TokenEventRow = Omit<StoredTokenEvent, 'ingested_at' | 'attributes'>;

export function toTokenEvent(r: TokenEventRow): TokenEventOut {
  return {
    event: r.event,
    time: r.time,
    tokenId: r.token_id,
    parentId: r.parent_id,
    taskId: r.task_id,
    agentId: r.agent_id,
    workloadId: r.workload_id,
    audience: r.audience,
    scopes: r.scopes,
    resources: r.resources,
    expiresAt: r.expires_at,
    maxSessionS: r.max_session_s === null ? null : Number(r.max_session_s),
    environment: r.environment,
    revokedReason: r.revoked_reason,
    caller: r.caller,
    source: r.source,
    traceId: r.trace_id,
    spanId: r.span_id,
  };
}

/** Every lifecycle event of `tokenIds`, oldest first, by token. */
export async function tokenEvents(store: Store, tokenIds: readonly string[]): Promise<Map<string, TokenEventOut[]>> {
  const out = new Map<string, TokenEventOut[]>();
  const ids = [...new Set(tokenIds)].filter(Boolean);
  if (ids.length === 0) return out;
  const rows = await store.query<TokenEventRow>(
    `SELECT ${TOKEN_EVENT_COLUMNS} FROM token_events WHERE token_id IN {ids:Array(String)}
     ORDER BY token_id, time, event LIMIT 200 BY token_id`,
    { ids },
  );
  for (const r of rows) {
    const list = out.get(r.token_id) ?? [];
    list.push(toTokenEvent(r));
    out.set(r.token_id, list);
  }
  return out;
}

/** A token's grant: its first issued/refreshed/exchanged event (a re-sent event changes nothing). */
export function grantOf(events: readonly TokenEventOut[] | undefined): TokenEventOut | null {
  return events?.find((e) => (GRANT_EVENTS as readonly string[]).includes(e.event)) ?? null;
}

export function revocationOf(events: readonly TokenEventOut[] | undefined): TokenEventOut | null {
  return events?.find((e) => e.event === 'revoked') ?? null;
}

/** Tasks by id: the plan from `started`, the first end event. */
export async function tasks(store: Store, taskIds: readonly string[]): Promise<Map<string, TaskOut>> {
  const out = new Map<string, TaskOut>();
  const ids = [...new Set(taskIds)].filter(Boolean);
  if (ids.length === 0) return out;
  const rows = await store.query<{
    task_id: string;
    agent_id: string;
    intent: string;
    tools: string[];
    deadline: string | null;
    started: number | string;
    started_at: string;
    ended: number | string;
    ended_at: string;
    end_event: string;
  }>(
    `SELECT task_id,
            argMinIf(agent_id, time, event = 'started') AS agent_id,
            argMinIf(intent, time, event = 'started') AS intent,
            argMinIf(tools, time, event = 'started') AS tools,
            argMinIf(deadline, time, event = 'started') AS deadline,
            countIf(event = 'started') > 0 AS started,
            minIf(time, event = 'started') AS started_at,
            countIf(event IN {ends:Array(String)}) > 0 AS ended,
            minIf(time, event IN {ends:Array(String)}) AS ended_at,
            argMinIf(event, time, event IN {ends:Array(String)}) AS end_event
     FROM task_events WHERE task_id IN {ids:Array(String)} GROUP BY task_id`,
    { ids, ends: [...TASK_END_EVENTS] },
  );
  for (const r of rows) {
    out.set(r.task_id, {
      taskId: r.task_id,
      agentId: r.agent_id,
      intent: r.intent,
      tools: r.tools,
      deadline: r.deadline,
      startedAt: Number(r.started) ? r.started_at : null,
      endedAt: Number(r.ended) ? r.ended_at : null,
      endEvent: Number(r.ended) ? r.end_event : null,
    });
  }
  return out;
}
