import { type Attributes, type Span, SpanKind, SpanStatusCode, type Tracer, context, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ATTR } from './attributes.js';
import {
  MCP_ATTR,
  MCP_TASK_META_KEY,
  isRpcRequest,
  mcpMethodAttributes,
  mcpSpanName,
  metaOf,
  responseErrorType,
  responseId,
} from './mcp-context.js';
import { tokenFingerprint } from './secrets.js';
import { currentTask } from './task-context.js';
import { wrapClose, wrapOnMessage, wrapSend } from './transport-hooks.js';

/** Options of {@link instrumentMcpClientTransport}. */
export interface McpClientTelemetryOptions {
  /** The MCP server's name in token audiences, set as `service.peer.name`. Default: none. */
  serverName?: string;
  /** The server's URL, for `server.address` / `server.port`. Default: none. */
  url?: string | URL;
  /**
   * The bearer token the client presents (or a function that returns the current one). When
   * given, the client span is a token use too (`token.id` = its fingerprint) — for MCP servers
   * that do not report to intentwatch themselves. Leave it out when the server runs
   * `instrumentMcpServerTransport`: its span is the use, and each call would count twice.
   */
  token?: string | (() => string | undefined);
  /** Where the spans go. Default: the global tracer provider's tracer `@intentwatch/sdk`. */
  tracer?: Tracer;
}

const MAX_PENDING = 10_000;
const propagator = new W3CTraceContextPropagator();
const metaSetter = {
  set(carrier: Record<string, unknown>, key: string, value: string) {
    carrier[key] = value;
  },
};

/**
 * Makes an MCP client say, with every request it sends on `transport`, which task it is for and
 * which trace it belongs to, and records a CLIENT span `{method} {tool|prompt|uri}` per request
 * (`mcp.method.name`, `gen_ai.tool.name`, `gen_ai.operation.name=execute_tool`,
 * `mcp.resource.uri`, `task.id`, and `token.id` when `token` is given), ended by the response.
 *
 * The task (of `withTask`, active when the request is made) goes in
 * `params._meta["intentwatch/task.id"]`; the client span's W3C trace context goes in
 * `params._meta.traceparent` / `tracestate`, where `instrumentMcpServerTransport` reads both.
 * HTTP requests the transport makes run inside the client span.
 *
 * Call it before `client.connect(transport)` or after; it returns the transport.
 *
 * @example
 * const transport = instrumentMcpClientTransport(new StreamableHTTPClientTransport(url, { requestInit: { headers: { authorization: `Bearer ${token}` } } }), { serverName: 'mcp-tickets' });
 * await client.connect(transport);
 * await withTask({ id: 'T-42', agentId: 'helpdesk-agent' }, () => client.callTool({ name: 'tickets.search', arguments: { q: 'refund' } }));
 */
export function instrumentMcpClientTransport<T extends Transport>(transport: T, options: McpClientTelemetryOptions = {}): T {
  const tracer = options.tracer ?? trace.getTracer('@intentwatch/sdk');
  const pending = new Map<string, Span>();
  const url = options.url === undefined ? undefined : new URL(options.url);

  wrapSend(transport, (message, send) => {
    if (!isRpcRequest(message)) return send(message);
    const { attributes, target } = mcpMethodAttributes(message);
    const all: Attributes = { ...attributes };
    const task = currentTask();
    if (task) {
      all[ATTR.taskId] = task.id;
      if (task.agentId) all[ATTR.agentId] = task.agentId;
    }
    const token = typeof options.token === 'function' ? options.token() : options.token;
    if (token) all[ATTR.tokenId] = tokenFingerprint(token);
    if (options.serverName) all[ATTR.servicePeerName] = options.serverName;
    if (url) {
      all[MCP_ATTR.serverAddress] = url.hostname;
      all[MCP_ATTR.serverPort] = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    }
    if (transport.sessionId) all[MCP_ATTR.sessionId] = transport.sessionId;
    const span = tracer.startSpan(mcpSpanName(message.method, target), { kind: SpanKind.CLIENT, attributes: all });
    const active = trace.setSpan(context.active(), span);
    const meta: Record<string, unknown> = { ...metaOf(message) };
    if (task) meta[MCP_TASK_META_KEY] = task.id;
    propagator.inject(active, meta, metaSetter);
    const key = `${typeof message.id}:${message.id}`;
    pending.set(key, span);
    if (pending.size > MAX_PENDING) {
      const [oldest, stale] = pending.entries().next().value as [string, Span];
      stale.end();
      pending.delete(oldest);
    }
    const sent = { ...message, params: { ...message.params, _meta: meta } };
    return context
      .with(active, () => send(sent))
      .catch((error: unknown) => {
        pending.delete(key);
        span.setAttribute(MCP_ATTR.errorType, error instanceof Error ? error.name : '_OTHER');
        span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
        throw error;
      });
  });

  wrapOnMessage(transport, (handler) => (message, extra) => {
    const id = responseId(message);
    if (id !== undefined) {
      const key = `${typeof id}:${id}`;
      const span = pending.get(key);
      if (span) {
        pending.delete(key);
        const errorType = responseErrorType(message);
        if (errorType) {
          span.setAttribute(MCP_ATTR.errorType, errorType);
          span.setStatus({ code: SpanStatusCode.ERROR });
        }
        span.end();
      }
    }
    return handler(message, extra);
  });

  wrapClose(transport, () => {
    for (const span of pending.values()) span.end();
    pending.clear();
  });
  return transport;
}
