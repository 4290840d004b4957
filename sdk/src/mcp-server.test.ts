import { createHash, randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MCP_TASK_META_KEY, createAgentTracerProvider, instrumentMcpClientTransport, withTask } from './index.js';
import { type TestMcpServer, startTestMcpServer } from '../testing/mcp-servers.js';

/*
 * What instrumentMcpServerTransport records for requests made through the real MCP client over
 * Streamable HTTP on loopback: which agent, which task, which token — decided from what the
 * request presents. Spans are read from an in-memory exporter behind the SDK's usual processors.
 */

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
const jwt = (claims: object) => [b64({ alg: 'ES256', typ: 'JWT' }), b64(claims), randomBytes(32).toString('base64url')].join('.');
const GITHUB_TOKEN = `ghp_${randomBytes(18).toString('hex')}`;

const exporter = new InMemorySpanExporter();
const provider = createAgentTracerProvider({ serviceName: 'mcp-tickets', exporter, batch: { scheduledDelayMillis: 10 } });
let plain: TestMcpServer;
let recording: TestMcpServer;

async function call(
  server: TestMcpServer,
  token: string,
  request: { name: string; arguments?: Record<string, unknown>; _meta?: Record<string, unknown> },
  headers: Record<string, string> = {},
): Promise<ReadableSpan> {
  const client = new Client({ name: 'declared-client', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers: { authorization: `Bearer ${token}`, ...headers } } }),
  );
  await client.callTool(request);
  await client.close();
  await provider.forceFlush();
  // The latest span of that tool: a test may call it more than once.
  const span = exporter
    .getFinishedSpans()
    .filter((s) => s.attributes['gen_ai.tool.name'] === request.name)
    .at(-1);
  if (!span) throw new Error(`no span for ${request.name}`);
  return span;
}

beforeAll(async () => {
  const tracer = provider.getTracer('mcp');
  plain = await startTestMcpServer('mcp-tickets', ['tickets.get'], { serverName: 'mcp-tickets', tracer });
  recording = await startTestMcpServer('mcp-tickets', ['tickets.search'], {
    serverName: 'mcp-tickets',
    tracer,
    dangerouslyRecordToolArguments: true,
  });
});

beforeEach(() => exporter.reset());

afterAll(async () => {
  await plain?.close();
  await recording?.close();
  await provider.shutdown();
});

describe('instrumentMcpServerTransport', () => {
  it("names the agent by the token's RFC 8693 actor before its subject", async () => {
    const span = await call(plain, jwt({ jti: 'tok-act', sub: 'user-alice', act: { sub: 'helpdesk-agent' }, client_id: 'app' }), {
      name: 'tickets.get',
    });
    expect(span.attributes).toMatchObject({ 'token.id': 'tok-act', 'gen_ai.agent.id': 'helpdesk-agent' });
  });

  it('names the agent by client_id when the token has no actor or subject', async () => {
    const span = await call(plain, jwt({ jti: 'tok-cid', client_id: 'billing-bot' }), { name: 'tickets.get' });
    expect(span.attributes['gen_ai.agent.id']).toBe('billing-bot');
  });

  it('names the agent by the clientInfo of initialize for an opaque token, whose id is its sha256', async () => {
    const opaque = `opaque-${randomBytes(16).toString('hex')}`;
    const span = await call(plain, opaque, { name: 'tickets.get' });
    expect(span.attributes['gen_ai.agent.id']).toBe('declared-client');
    expect(span.attributes['token.id']).toBe(`sha256:${createHash('sha256').update(opaque).digest('hex')}`);
    expect(span.attributes['token.scope']).toBeUndefined();
  });

  it('takes the task from _meta, else from the W3C baggage header', async () => {
    const fromMeta = await call(plain, jwt({ jti: 'tok-t1', sub: 'a' }), { name: 'tickets.get', _meta: { [MCP_TASK_META_KEY]: 'T-meta' } });
    expect(fromMeta.attributes['task.id']).toBe('T-meta');
    const fromBaggage = await call(
      plain,
      jwt({ jti: 'tok-t2', sub: 'a' }),
      { name: 'tickets.get' },
      { baggage: 'tenant=acme,task.id=T-bag%2D1' },
    );
    expect(fromBaggage.attributes['task.id']).toBe('T-bag-1');
  });

  it('ignores a task id longer than 256 characters', async () => {
    const span = await call(plain, jwt({ jti: 'tok-long', sub: 'a' }), {
      name: 'tickets.get',
      _meta: { [MCP_TASK_META_KEY]: 'T'.repeat(257) },
    });
    expect(span.attributes['task.id']).toBeUndefined();
  });

  it('records the scopes the token asserts, the method, the target and the server address', async () => {
    const span = await call(plain, jwt({ jti: 'tok-scp', sub: 'a', scp: ['tickets:read', 'tickets:write'] }), { name: 'tickets.get' });
    expect(span.name).toBe('tools/call tickets.get');
    expect(span.attributes).toMatchObject({
      'token.scope': ['tickets:read', 'tickets:write'],
      'mcp.method.name': 'tools/call',
      'gen_ai.operation.name': 'execute_tool',
      'service.peer.name': 'mcp-tickets',
      'server.address': '127.0.0.1',
    });
  });

  it('records no tool arguments by default', async () => {
    const span = await call(plain, jwt({ jti: 'tok-args', sub: 'a' }), { name: 'tickets.get', arguments: { q: 'Jane Doe' } });
    expect(JSON.stringify(span.attributes)).not.toContain('Jane Doe');
    expect(span.attributes['gen_ai.tool.call.arguments']).toBeUndefined();
  });

  it('records tool arguments when the owner opts in, with secrets replaced by their fingerprint', async () => {
    const span = await call(recording, jwt({ jti: 'tok-args2', sub: 'a' }), {
      name: 'tickets.search',
      arguments: { q: `key ${GITHUB_TOKEN}` },
    });
    const args = String(span.attributes['gen_ai.tool.call.arguments']);
    expect(args).toContain('"q"');
    expect(args).not.toContain(GITHUB_TOKEN);
    expect(args).toContain('sha256:');
  });

  it('never records the bearer token', async () => {
    const token = jwt({ jti: 'tok-never', sub: 'a' });
    const span = await call(plain, token, { name: 'tickets.get' });
    const all = exporter.getFinishedSpans().map((s) => JSON.stringify({ name: s.name, attributes: s.attributes, events: s.events }));
    expect(all.join('\n')).not.toContain(token.split('.')[2]);
    expect(span.attributes['token.id']).toBe('tok-never');
  });

  it('marks a call the server answered as an error (an unknown tool) as failed', async () => {
    const client = new Client({ name: 'declared-client', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(plain.url), {
        requestInit: { headers: { authorization: `Bearer ${jwt({ jti: 't', sub: 'a' })}` } },
      }),
    );
    await client.callTool({ name: 'tickets.nope' }).catch(() => undefined);
    await client.close();
    await provider.forceFlush();
    const span = exporter.getFinishedSpans().find((s) => s.attributes['gen_ai.tool.name'] === 'tickets.nope');
    expect(span?.status.code).toBe(2);
    expect(span?.attributes['error.type']).toBeDefined();
  });

  it('cuts a megabyte method name and still answers a hostile request with oversized trace context', async () => {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      authorization: `Bearer ${jwt({ jti: 'tok-hostile', sub: 'a' })}`,
    };
    const init = await fetch(plain.url, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
      }),
    });
    await init.text();
    const session = init.headers.get('mcp-session-id') ?? '';
    const hostile = await fetch(plain.url, {
      method: 'POST',
      headers: { ...headers, 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 2,
        method: 'x'.repeat(1_000_000),
        params: { _meta: { traceparent: `00-${'a'.repeat(500_000)}`, tracestate: 'k=v,'.repeat(200_000) } },
      }),
    });
    expect(await hostile.text()).toContain('-32601'); // method not found: the server still answers
    await provider.forceFlush();
    const span = exporter
      .getFinishedSpans()
      .find((s) => s.attributes['token.id'] === 'tok-hostile' && s.attributes['jsonrpc.request.id'] === '2');
    expect(span?.name).toBe('x'.repeat(128));
    expect(span?.attributes['mcp.method.name']).toBe('x'.repeat(128));
    expect(span?.parentSpanContext).toBeUndefined();
    expect(span?.status.code).toBe(2);
  });

  it('with the client hook given the token, makes the client span a token use too and carries the task to the server', async () => {
    const token = jwt({ jti: 'tok-client', sub: 'helpdesk-agent' });
    const client = new Client({ name: 'declared-client', version: '1.0.0' });
    await client.connect(
      instrumentMcpClientTransport(
        new StreamableHTTPClientTransport(new URL(plain.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }),
        { serverName: 'mcp-tickets', url: plain.url, token, tracer: provider.getTracer('client') },
      ),
    );
    await withTask({ id: 'T-client', agentId: 'helpdesk-agent' }, () => client.callTool({ name: 'tickets.get' }));
    await client.close();
    await provider.forceFlush();
    const spans = exporter.getFinishedSpans().filter((s) => s.attributes['gen_ai.tool.name'] === 'tickets.get');
    const clientSpan = spans.find((s) => s.kind === SpanKind.CLIENT);
    const serverSpan = spans.find((s) => s.kind === SpanKind.SERVER);
    expect(clientSpan?.attributes).toMatchObject({
      'token.id': 'tok-client',
      'task.id': 'T-client',
      'gen_ai.agent.id': 'helpdesk-agent',
      'service.peer.name': 'mcp-tickets',
      'server.address': '127.0.0.1',
    });
    expect(serverSpan?.attributes['task.id']).toBe('T-client');
    expect(serverSpan?.parentSpanContext?.spanId).toBe(clientSpan?.spanContext().spanId);
  });
});
