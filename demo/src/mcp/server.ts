import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { Tracer } from '@opentelemetry/api';
import { instrumentMcpServerTransport } from '@intentwatch/sdk';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

/** A tool of a demo MCP server: its name and the line of text it answers. */
export interface DemoTool {
  name: string;
  description: string;
  answer: (input: { id?: string | undefined; text?: string | undefined }) => string;
}

/** A running demo MCP server. */
export interface DemoMcpServer {
  name: string;
  /** Its Streamable HTTP endpoint, `http://127.0.0.1:<port>/mcp`. */
  url: string;
  close(): Promise<void>;
}

/**
 * An MCP server as its owner would run it: `McpServer` on the Streamable HTTP transport (a
 * session per client), on `node:http` at 127.0.0.1 on a free port, with each session's transport
 * passed through the SDK's `instrumentMcpServerTransport` so that every request is reported as a
 * token use against `name`. The demo's services verify nothing: the broker's JWTs are not signed.
 */
export async function startDemoMcpServer(name: string, tools: readonly DemoTool[], tracer: Tracer): Promise<DemoMcpServer> {
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const open = async (): Promise<StreamableHTTPServerTransport> => {
    const mcp = new McpServer({ name, version: '1.0.0' });
    for (const tool of tools) {
      mcp.registerTool(
        tool.name,
        { description: tool.description, inputSchema: { id: z.string().optional(), text: z.string().optional() } },
        async (input) => ({ content: [{ type: 'text', text: tool.answer(input) }] }),
      );
    }
    const transport = instrumentMcpServerTransport(
      new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => {
          sessions.set(id, transport);
        },
      }),
      { serverName: name, tracer },
    );
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    await mcp.connect(transport);
    return transport;
  };
  const http = createServer((req, res) => {
    const session = req.headers['mcp-session-id'];
    const known = typeof session === 'string' ? sessions.get(session) : undefined;
    if (typeof session === 'string' && !known) {
      res
        .writeHead(404, { 'content-type': 'application/json' })
        .end('{"jsonrpc":"2.0","error":{"code":-32001,"message":"Session not found"},"id":null}');
      return;
    }
    (known ? Promise.resolve(known) : open())
      .then((transport) => transport.handleRequest(req, res))
      .catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
      });
  });
  const port = await new Promise<number>((resolve, reject) => {
    http.once('error', reject);
    http.listen(0, '127.0.0.1', () => {
      const address = http.address();
      resolve(typeof address === 'object' && address ? address.port : 0);
    });
  });
  return {
    name,
    url: `http://127.0.0.1:${port}/mcp`,
    async close() {
      await Promise.all([...sessions.values()].map((t) => t.close()));
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
    },
  };
}
