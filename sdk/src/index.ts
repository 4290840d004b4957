export { ATTR, type TimeInput } from './attributes.js';
export {
  type AgentTelemetry,
  type AgentTelemetryOptions,
  type InstrumentOptions,
  createAgentTracerProvider,
  ensureContextManager,
  startAgentTelemetry,
} from './agent-telemetry.js';
export {
  type TokenHeaderOptions,
  createHttpInstrumentation,
  createUndiciInstrumentation,
  httpInstrumentationConfig,
  tokenIdFromHeader,
  undiciHeader,
  undiciInstrumentationConfig,
} from './http-hooks.js';
export { type McpClientTelemetryOptions, instrumentMcpClientTransport } from './mcp-client.js';
export { MCP_TASK_META_KEY, TASK_BAGGAGE_KEY, type TokenClaims, unverifiedClaims } from './mcp-context.js';
export { type McpServerTelemetryOptions, instrumentMcpServerTransport } from './mcp-server.js';
export {
  SecretRedactingSpanProcessor,
  type SecretRedactingSpanProcessorOptions,
  redactAttributes,
} from './secret-redacting-span-processor.js';
export { FINGERPRINT_PREFIX, looksLikeSecret, redactText, tokenFingerprint } from './secrets.js';
export { type TaskEnd, TaskEvents, type TaskOutcome, type TaskStart } from './task-events.js';
export { type TaskInfo, currentTask, withTask } from './task-context.js';
export { TaskContextSpanProcessor } from './task-context-span-processor.js';
export { type DerivedGrant, type Grant, type Renewal, type Revocation, type TokenRef, TokenEvents } from './token-events.js';
export { type TokenUse, recordTokenUse, tokenUseAttributes } from './token-use.js';
