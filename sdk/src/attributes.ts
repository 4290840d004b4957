/** Attribute names of docs/conventions.md §1, as the SDK writes them. */
export const ATTR = {
  tokenId: 'token.id',
  taskId: 'task.id',
  agentId: 'gen_ai.agent.id',
  workloadId: 'workload.id',
  tokenScope: 'token.scope',
  tokenResource: 'token.resource',
  toolName: 'gen_ai.tool.name',
  tokenEvent: 'token.event',
  tokenAudience: 'token.audience',
  tokenScopes: 'token.scopes',
  tokenResources: 'token.resources',
  tokenExpiresAt: 'token.expires_at',
  tokenMaxSession: 'token.max_session_s',
  tokenParentId: 'token.parent_id',
  tokenRevokedReason: 'token.revoked_reason',
  taskEvent: 'task.event',
  taskIntent: 'task.intent',
  taskTools: 'task.tools',
  taskDeadline: 'task.deadline',
  servicePeerName: 'service.peer.name',
  serviceName: 'service.name',
  environment: 'deployment.environment.name',
} as const;

/** A time as the SDK accepts it: a Date or epoch milliseconds. */
export type TimeInput = Date | number;

export function toMillis(t: TimeInput): number {
  return t instanceof Date ? t.getTime() : t;
}

/** RFC 3339 text of a time, as docs/conventions.md §1 timestamps are written. */
export function rfc3339(t: TimeInput): string {
  return new Date(toMillis(t)).toISOString();
}
