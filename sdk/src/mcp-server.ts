import { type Attributes, type Context, type Span, SpanKind, SpanStatusCode, type Tracer, context, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ATTR } from './attributes.js';
import {
  MCP_ATTR,
  type RpcRequestLike,
  bearerToken,
  isRpcRequest,
  mcpMethodAttributes,
  mcpSpanName,
  metaOf,
  responseErrorType,
  responseId,
  taskIdOf,
  unverifiedClaims,
} from './mcp-context.js';
import { redactText, tokenFingerprint } from './secrets.js';
import { withTask } from './task-context.js';
import { wrapClose, wrapOnMessage, wrapSend } from './transport-hooks.js';

/** Options of {@link instrumentMcpServerTransport}. */
export interface McpServerTelemetryOptions {
  /**
   * The name this MCP server has in token audiences (`token.audience` of the broker's grants):
   * set as `service.peer.name`, the target of every use. Default: none, and the target is
   * `server.address`, the host the client addressed (the `Host` header).
   */
  serverName?: string;
  /** Where the spans go. Default: the global tracer provider's tracer `@intentwatch/sdk`. */
  tracer?: Tracer;
  /**
   * Record the arguments of `tools/call` as `gen_ai.tool.call.arguments` (JSON, cut to 1024
   * characters, secret-looking values replaced by their fingerprint). They may hold personal or
   * business data: off by default. Tool results are never recorded.
   */
  dangerouslyRecordToolArguments?: boolean;
}

/** Requests awaiting their response per transport; beyond this the oldest span is ended unanswered. */
const MAX_PENDING = 10_000;
const MAX_ARGUMENTS_LENGTH = 1024;

const propagator = new W3CTraceContextPropagator();
/** Longest `traceparent` / `tracestate` handed to the propagator (W3C: 55 and 512 characters are enough). */
const MAX_TRACEPARENT_LENGTH = 128;
const MAX_TRACESTATE_LENGTH = 1024;
const carrierGetter = {
  keys: (carrier: Record<string, string>) => Object.keys(carrier),
  get: (carrier: Record<string, string>, key: string) => carrier[key],
};

/**
 * Makes every request an MCP server receives on `transport` a token use of docs/conventions.md §1.6:
 * a SERVER span `{method} {tool|prompt|uri}` with the fingerprint of the presented bearer token
 * (`token.id`; the token itself is never recorded), the task the client names (`task.id`, from
 * `_meta["intentwatch/task.id"]` or W3C baggage `task.id`), the agent, the scopes the token
 * asserts (`token.scope`), `mcp.method.name`, `gen_ai.tool.name` with
 * `gen_ai.operation.name=execute_tool`, `mcp.resource.uri`, `server.address`/`server.port` and,
 * with `serverName`, `service.peer.name`. The span is a child of the client's span when the
 * request carries W3C trace context (`_meta.traceparent`, else the HTTP `traceparent` header);
 * the request handler runs inside it and inside the task, so the server's own spans follow.
 *
 * The agent (`gen_ai.agent.id`) is, first present: the token's RFC 8693 actor (`act.sub`), its
 * `sub`, its `client_id` — claims decoded, not verified: verifying is the server's own auth
 * middleware's job — then the `clientId` of `authInfo` that middleware set, then the `name` the
 * client declared in `initialize` (`clientInfo`, remembered per transport, i.e. per session).
 *
 * Call it on the transport before or after `server.connect(transport)`; it returns the transport.
 * Works with `StreamableHTTPServerTransport` (stateful or stateless) and its web-standard sibling.
 *
 * @example
 * const transport = instrumentMcpServerTransport(new StreamableHTTPServerTransport({ sessionIdGenerator: undefined }), { serverName: 'mcp-tickets' });
 * await server.connect(transport);
 * app.post('/mcp', (req, res) => transport.handleRequest(req, res, req.body));
 */
export function instrumentMcpServerTransport<T extends Transport>(transport: T, options: McpServerTelemetryOptions = {}): T {
  const tracer = options.tracer ?? trace.getTracer('@intentwatch/sdk');
  const pending = new Map<string, Span>();
  let declaredClient: string | undefined;

  wrapOnMessage(transport, (handler) => (message, extra) => {
    if (!isRpcRequest(message)) return handler(message, extra);
    if (message.method === 'initialize') declaredClient = clientName(message) ?? declaredClient;
    const headers = extra?.requestInfo?.headers ?? {};
    const parent = parentContext(message, headers);
    const { span, taskId } = startServerSpan(tracer, message, {
      headers,
      url: extra?.requestInfo?.url,
      authInfo: extra?.authInfo,
      declaredClient,
      sessionId: transport.sessionId,
      options,
      parent,
    });
    track(pending, message.id, span);
    const active = trace.setSpan(parent, span);
    return context.with(active, () => (taskId ? withTask({ id: taskId }, () => handler(message, extra)) : handler(message, extra)));
  });

  wrapSend(transport, (message, send) => {
    const id = responseId(message);
    if (id !== undefined) {
      const span = pending.get(key(id));
      if (span) {
        pending.delete(key(id));
        const errorType = responseErrorType(message);
        if (errorType) {
          span.setAttribute(MCP_ATTR.errorType, errorType);
          span.setStatus({ code: SpanStatusCode.ERROR });
        }
        span.end();
      }
    }
    return send(message);
  });

  wrapClose(transport, () => {
    for (const span of pending.values()) span.end();
    pending.clear();
  });
  return transport;
}

interface RequestFacts {
  headers: Record<string, string | string[] | undefined>;
  url: URL | undefined;
  authInfo: AuthInfo | undefined;
  declaredClient: string | undefined;
  sessionId: string | undefined;
  options: McpServerTelemetryOptions;
  parent: Context;
}

function startServerSpan(tracer: Tracer, request: RpcRequestLike, facts: RequestFacts): { span: Span; taskId: string | undefined } {
  const { attributes, target } = mcpMethodAttributes(request);
  const token = bearerToken(facts.headers.authorization) ?? facts.authInfo?.token;
  const claims = token ? unverifiedClaims(token) : {};
  const taskId = taskIdOf(metaOf(request), headerText(facts.headers.baggage));
  const agentId = claims.actor ?? claims.sub ?? claims.clientId ?? facts.authInfo?.clientId ?? facts.declaredClient;
  const scopes = claims.scopes ?? (facts.authInfo?.scopes.length ? facts.authInfo.scopes : undefined);
  const all: Attributes = { ...attributes };
  if (token) all[ATTR.tokenId] = tokenFingerprint(token);
  if (taskId) all[ATTR.taskId] = taskId;
  if (agentId) all[ATTR.agentId] = agentId;
  if (scopes) all[ATTR.tokenScope] = scopes;
  if (facts.options.serverName) all[ATTR.servicePeerName] = facts.options.serverName;
  if (facts.url) {
    all[MCP_ATTR.serverAddress] = facts.url.hostname;
    const port = Number(facts.url.port || (facts.url.protocol === 'https:' ? 443 : 80));
    if (Number.isFinite(port)) all[MCP_ATTR.serverPort] = port;
  }
  if (facts.sessionId) all[MCP_ATTR.sessionId] = facts.sessionId;
  const protocolVersion = headerText(facts.headers['mcp-protocol-version']);
  if (protocolVersion) all[MCP_ATTR.protocolVersion] = protocolVersion.slice(0, 64);
  all['network.protocol.name'] = 'http';
  all['network.transport'] = 'tcp';
  if (facts.options.dangerouslyRecordToolArguments && request.method === 'tools/call' && request.params?.arguments !== undefined) {
    all[MCP_ATTR.toolArguments] = redactText(JSON.stringify(request.params.arguments).slice(0, MAX_ARGUMENTS_LENGTH)).text;
  }
  const span = tracer.startSpan(mcpSpanName(request.method, target), { kind: SpanKind.SERVER, attributes: all }, facts.parent);
  return { span, taskId };
}

/**
 * The client's span context from `_meta.traceparent`/`tracestate`; else the active span (the
 * HTTP server span of `@opentelemetry/instrumentation-http`, when the server runs it); else the
 * HTTP `traceparent` header.
 */
function parentContext(request: RpcRequestLike, headers: Record<string, string | string[] | undefined>): Context {
  const meta = metaOf(request);
  const active = context.active();
  if (typeof meta?.traceparent === 'string')
    return propagator.extract(active, traceCarrier(meta.traceparent, meta.tracestate), carrierGetter);
  if (trace.getSpan(active)) return active;
  return propagator.extract(active, traceCarrier(headerText(headers.traceparent), headerText(headers.tracestate)), carrierGetter);
}

/** Trace context of bounded length only: what a sender puts there is not ours to parse at any size. */
function traceCarrier(traceparent: unknown, tracestate: unknown): Record<string, string> {
  const carrier: Record<string, string> = {};
  if (typeof traceparent === 'string' && traceparent.length <= MAX_TRACEPARENT_LENGTH) carrier.traceparent = traceparent;
  if (typeof tracestate === 'string' && tracestate.length <= MAX_TRACESTATE_LENGTH) carrier.tracestate = tracestate;
  return carrier;
}

function clientName(request: RpcRequestLike): string | undefined {
  const info = request.params?.clientInfo as { name?: unknown } | undefined;
  return typeof info?.name === 'string' && info.name.length > 0 && info.name.length <= 256 ? info.name : undefined;
}

function headerText(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

const key = (id: string | number) => `${typeof id}:${id}`;

function track(pending: Map<string, Span>, id: string | number, span: Span): void {
  pending.get(key(id))?.end();
  pending.set(key(id), span);
  if (pending.size > MAX_PENDING) {
    const [oldest, stale] = pending.entries().next().value as [string, Span];
    stale.end();
    pending.delete(oldest);
  }
}
