import { randomUUID } from 'node:crypto';
import { type Server, createServer } from 'node:http';
import type { Tracer } from '@opentelemetry/api';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';
import { type McpServerTelemetryOptions, instrumentMcpServerTransport } from '../src/index.js';
import { listen } from '@intentwatch/testkit/collector';

/** An MCP server over Streamable HTTP on a loopback port, instrumented as its owner would. */
export interface TestMcpServer {
  url: string;
  /** Every tool handler call, with the task id the handler saw in its context. */
  calls: { tool: string; args: unknown }[];
  close(): Promise<void>;
}

/**
 * Starts an MCP server named `name` (stateful sessions, one transport per session) whose tools
 * answer with a line of text; `tools` are their names. Each session's transport goes through
 * `instrumentMcpServerTransport` with `telemetry`.
 */
export async function startTestMcpServer(
  name: string,
  tools: readonly string[],
  telemetry: McpServerTelemetryOptions & { tracer: Tracer },
): Promise<TestMcpServer> {
  const calls: { tool: string; args: unknown }[] = [];
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const newSession = async (): Promise<StreamableHTTPServerTransport> => {
    const mcp = new McpServer({ name, version: '1.0.0' });
    for (const tool of tools) {
      mcp.registerTool(tool, { description: `${tool} of ${name}`, inputSchema: { q: z.string().optional() } }, async (args) => {
        calls.push({ tool, args });
        return { content: [{ type: 'text', text: `${tool} done` }] };
      });
    }
    mcp.registerResource('ticket-7', 'tickets://T-7', { mimeType: 'text/plain' }, async (uri) => ({
      contents: [{ uri: uri.href, text: 'Ticket 7: refund request' }],
    }));
    const transport = instrumentMcpServerTransport(
      new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => {
          transports.set(id, transport);
        },
      }),
      telemetry,
    );
    transport.onclose = () => {
      if (transport.sessionId) transports.delete(transport.sessionId);
    };
    await mcp.connect(transport);
    return transport;
  };
  const http: Server = createServer((req, res) => {
    const session = req.headers['mcp-session-id'];
    const existing = typeof session === 'string' ? transports.get(session) : undefined;
    if (typeof session === 'string' && !existing) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"unknown session"}');
      return;
    }
    (existing ? Promise.resolve(existing) : newSession())
      .then((t) => t.handleRequest(req, res))
      .catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500).end(String(error));
      });
  });
  const port = await listen(http);
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    calls,
    async close() {
      await Promise.all([...transports.values()].map((t) => t.close()));
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
    },
  };
}
