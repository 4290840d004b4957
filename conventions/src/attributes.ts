/**
 * The attribute names of docs/conventions.md §1 — the one map agents (the SDK) and the monitor
 * (core's readers, the collector) both use, so that a name cannot drift between the side that
 * writes a span and the side that reads it.
 */
export const ATTR = {
  // §1.1 every token use
  tokenId: 'token.id',
  taskId: 'task.id',
  agentId: 'gen_ai.agent.id',
  workloadId: 'workload.id',
  /** Read as the workload when `workload.id` is absent. */
  workloadIdAlias: 'gen_ai.agent.identity.id',
  tokenScope: 'token.scope',
  tokenResource: 'token.resource',
  toolName: 'gen_ai.tool.name',
  servicePeerName: 'service.peer.name',
  serviceName: 'service.name',
  environment: 'deployment.environment.name',
  /** Read as the environment when `deployment.environment.name` is absent. */
  environmentLegacy: 'deployment.environment',
  // §1.2 token lifecycle
  tokenEvent: 'token.event',
  tokenAudience: 'token.audience',
  tokenScopes: 'token.scopes',
  tokenResources: 'token.resources',
  tokenExpiresAt: 'token.expires_at',
  tokenMaxSession: 'token.max_session_s',
  tokenParentId: 'token.parent_id',
  tokenRevokedReason: 'token.revoked_reason',
  /** The issuer the token's `jti` belongs to (names it as a `jwt_id` subject in Shared Signals). */
  tokenIssuer: 'token.issuer',
  // §1.3 task lifecycle
  taskEvent: 'task.event',
  taskIntent: 'task.intent',
  taskTools: 'task.tools',
  taskDeadline: 'task.deadline',
  // §1.5 audit-log sources
  source: 'intentwatch.source',
  // §1.6 MCP
  mcpMethodName: 'mcp.method.name',
  mcpResourceUri: 'mcp.resource.uri',
  mcpSessionId: 'mcp.session.id',
  mcpProtocolVersion: 'mcp.protocol.version',
} as const;

export type AttributeName = (typeof ATTR)[keyof typeof ATTR];

/** The lifecycle events of §1.2 and §1.3. */
export const TOKEN_EVENTS = ['issued', 'refreshed', 'exchanged', 'renewed', 'revoked'] as const;
export type TokenEventKind = (typeof TOKEN_EVENTS)[number];
export const TASK_EVENTS = ['started', 'completed', 'failed', 'cancelled'] as const;
export type TaskEventKind = (typeof TASK_EVENTS)[number];
