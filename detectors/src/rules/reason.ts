import type { Row } from '../define-detector.js';
/**
 * Building blocks of alert reasons: one sentence that names the token, the intent it was
 * issued for, and the deviation — e.g. "token tok-1 issued to agent triage-bot for task T-9
 * with audience [github] was used against slack by agent triage-bot".
 */

export function list(items: readonly string[]): string {
  return `[${items.join(', ')}]`;
}

export interface IntentWords {
  tokenId: string;
  /** issued, refreshed or exchanged; empty when no grant is known. */
  event?: string;
  grantee?: string;
  taskId?: string;
  audience?: readonly string[];
  scopes?: readonly string[];
  environment?: string;
}

/** "token tok-1 issued to agent triage-bot for task T-9 with audience [github]" (parts present only when known). */
export function intentPhrase(i: IntentWords, show: { audience?: boolean; scopes?: boolean; environment?: boolean } = {}): string {
  let s = `token ${i.tokenId}`;
  if (i.event) s += ` ${i.event}`;
  if (i.grantee) s += ` to agent ${i.grantee}`;
  if (i.taskId) s += ` for task ${i.taskId}`;
  const withParts: string[] = [];
  if (show.audience && i.audience?.length) withParts.push(`audience ${list(i.audience)}`);
  if (show.scopes && i.scopes?.length) withParts.push(`scopes ${list(i.scopes)}`);
  if (withParts.length) s += ` with ${withParts.join(' and ')}`;
  if (show.environment && i.environment) s += ` in environment ${i.environment}`;
  return s;
}

/** The agent that presented a token, for a reason: "agent x" or "an unnamed caller". */
export function agentPhrase(agentId: string): string {
  return agentId ? `agent ${agentId}` : 'an unnamed caller';
}

/** "2026-11-25T10:00:05Z" from the store's RFC 3339 with nanoseconds (seconds are enough to act on). */
export function shortTime(value: string | null | undefined): string {
  if (!value) return '?';
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z') : value;
}

/** Whole seconds between two RFC 3339 times, for "42 s after". */
export function secondsBetween(from: string, to: string): number {
  return Math.round((Date.parse(to) - Date.parse(from)) / 1000);
}

/**
 * What an MCP use did, when the use carries `mcp.method.name` (docs/conventions.md §1.6): "MCP tool
 * refund on server mcp-billing", "MCP resources/read of tickets://T-1 on server mcp-tickets";
 * undefined for any other use.
 */
export function mcpPhrase(use: { mcpMethod?: string; tool?: string; resource?: string; target?: string }): string | undefined {
  if (!use.mcpMethod) return undefined;
  const what = use.tool ? `MCP tool ${use.tool}` : `MCP ${use.mcpMethod}${use.resource ? ` of ${use.resource}` : ''}`;
  return `${what} on server ${use.target || 'an unnamed server'}`;
}

/**
 * The evidence of a lifecycle event's finding, with what it happened to: the event's span, or —
 * for an event posted as JSON, which has no span — `token_event:<token>:<what>` as its key.
 */
export function eventEvidence(r: Row, what: string): { traceId: string; spanId: string; time: string; key?: string } {
  return { traceId: r.trace_id, spanId: r.span_id, time: r.time, ...(r.span_id ? {} : { key: `token_event:${r.token_id}:${what}` }) };
}
