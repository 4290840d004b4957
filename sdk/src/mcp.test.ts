import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { composeSettings, coreSettings } from '@intentwatch/core';
import { collectorSettings } from '@intentwatch/collector';
import { detectorSettings } from '@intentwatch/detectors';
import { type Alert, AlertStore } from '@intentwatch/alerts';
import { DETECTORS, DetectorRunner } from '@intentwatch/detectors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskEvents, TokenEvents, createAgentTracerProvider, instrumentMcpClientTransport, withTask } from './index.js';
import { type TestMcpServer, startTestMcpServer } from '../testing/mcp-servers.js';
import { type TestMonitor, startTestMonitor } from '@intentwatch/testkit/collector';

/** The settings these tests read: the core settings and those of the workspaces they start. */
const configuration = composeSettings(coreSettings, collectorSettings, detectorSettings);
const loadConfig = configuration.load;

/*
 * A helpdesk agent calls two MCP servers through the real @modelcontextprotocol/sdk client and
 * server over Streamable HTTP on loopback, with a bearer JWT issued for one of them. Both sides
 * report through the SDK to the real collector on an embedded store; the real detectors run on it.
 */

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
const SIGNATURE = randomBytes(48).toString('base64url');
const JTI = `tok-mcp-${randomBytes(4).toString('hex')}`;
const TOKEN = [
  b64({ alg: 'ES256', typ: 'JWT' }),
  b64({ sub: 'helpdesk-agent', jti: JTI, aud: 'mcp-tickets', scope: 'tickets:read tickets:write' }),
  SIGNATURE,
].join('.');
const TASK = `T-mcp-${randomBytes(3).toString('hex')}`;
const SECRET_ARGUMENT = `customer-${randomBytes(6).toString('hex')}@example.com`;

let monitor: TestMonitor;
let tickets: TestMcpServer;
let billing: TestMcpServer;
let providers: ReturnType<typeof createAgentTracerProvider>[];
let alerts: Alert[] = [];
let uses: Record<string, string>[] = [];

async function connect(url: string, serverName: string, tracer: ReturnType<typeof createAgentTracerProvider>): Promise<Client> {
  const transport = instrumentMcpClientTransport(
    new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${TOKEN}` } } }),
    { serverName, url, tracer: tracer.getTracer('helpdesk') },
  );
  const client = new Client({ name: 'helpdesk-agent', version: '1.0.0' });
  await client.connect(transport);
  return client;
}

beforeAll(async () => {
  monitor = await startTestMonitor();
  const make = (serviceName: string, agentId?: string) =>
    createAgentTracerProvider({
      serviceName,
      ...(agentId ? { agentId } : {}),
      environment: 'test',
      endpoint: monitor.endpoint,
      batch: { scheduledDelayMillis: 20 },
    });
  const [broker, orchestrator, agent, ticketsSide, billingSide] = [
    make('token-broker'),
    make('orchestrator'),
    make('helpdesk-agent', 'helpdesk-agent'),
    make('mcp-tickets'),
    make('mcp-billing'),
  ];
  providers = [broker, orchestrator, agent, ticketsSide, billingSide];
  tickets = await startTestMcpServer('mcp-tickets', ['tickets.search', 'tickets.get', 'tickets.export_all'], {
    serverName: 'mcp-tickets',
    tracer: ticketsSide.getTracer('mcp'),
  });
  billing = await startTestMcpServer('mcp-billing', ['billing.refund'], {
    serverName: 'mcp-billing',
    tracer: billingSide.getTracer('mcp'),
  });

  new TaskEvents(orchestrator.getTracer('t')).started({
    id: TASK,
    agentId: 'helpdesk-agent',
    intent: 'answer ticket 7',
    tools: ['tickets.search', 'tickets.get'],
  });
  new TokenEvents(broker.getTracer('t')).issued({
    token: TOKEN,
    agentId: 'helpdesk-agent',
    taskId: TASK,
    audience: ['mcp-tickets'],
    scopes: ['tickets:read', 'tickets:write'],
    expiresAt: Date.now() + 15 * 60_000,
  });

  const toTickets = await connect(tickets.url, 'mcp-tickets', agent);
  const toBilling = await connect(billing.url, 'mcp-billing', agent);
  await withTask({ id: TASK, agentId: 'helpdesk-agent' }, async () => {
    await toTickets.callTool({ name: 'tickets.search', arguments: { q: SECRET_ARGUMENT } });
    await toTickets.callTool({ name: 'tickets.get', arguments: { q: 'T-7' } });
    await toTickets.readResource({ uri: 'tickets://T-7' });
    // The misuse: a tool outside the task's plan, and the tickets token presented to billing.
    await toTickets.callTool({ name: 'tickets.export_all', arguments: {} });
    await toBilling.callTool({ name: 'billing.refund', arguments: { q: 'order 991' } });
  });
  await toTickets.close();
  await toBilling.close();
  await Promise.all(providers.map((p) => p.forceFlush()));

  const config = loadConfig({ INTENTWATCH_DETECT_LAG_MS: '200', INTENTWATCH_GRACE_MS: '2000' }, { dotenv: false });
  const store = new AlertStore(monitor.store);
  const runner = new DetectorRunner(monitor.store, config, store);
  const wanted = DETECTORS.filter((d) => d.id === 'scope_creep' || d.id === 'cross_service_reuse');
  const deadline = Date.now() + 30_000;
  do {
    for (const d of wanted) await runner.runOnce(d);
    alerts = (await store.list({ tokenId: JTI, limit: 100 })).alerts;
  } while (
    !(alerts.some((a) => a.detector === 'scope_creep') && alerts.some((a) => a.detector === 'cross_service_reuse')) &&
    Date.now() < deadline
  );
  uses = await monitor.store.query<Record<string, string>>(
    `SELECT name, kind, trace_id, span_id, parent_span_id, token_id, task_id, agent_id, target, action, resource, tool,
            scopes, attributes['mcp.method.name'] AS method, attributes['gen_ai.operation.name'] AS operation,
            attributes['server.address'] AS address, resource_attributes['service.name'] AS service
     FROM spans WHERE attributes['mcp.method.name'] != '' ORDER BY time`,
  );
}, 60_000);

afterAll(async () => {
  await Promise.all((providers ?? []).map((p) => p.shutdown()));
  await tickets?.close();
  await billing?.close();
  await monitor?.close();
});

describe('an MCP server and client instrumented with the SDK', () => {
  it('records each tool call on the server as a token use with the token fingerprint, task, agent, tool and scopes', () => {
    const call = uses.find((u) => u.service === 'mcp-tickets' && u.tool === 'tickets.get');
    expect(call).toMatchObject({
      name: 'tools/call tickets.get',
      token_id: JTI,
      task_id: TASK,
      agent_id: 'helpdesk-agent',
      target: 'mcp-tickets',
      action: 'tickets.get',
      method: 'tools/call',
      operation: 'execute_tool',
      address: '127.0.0.1',
    });
    expect(call?.scopes).toEqual(['tickets:read', 'tickets:write']);
  });

  it('records a resource read with its uri as the resource acted on', () => {
    const read = uses.find((u) => u.service === 'mcp-tickets' && u.method === 'resources/read');
    expect(read).toMatchObject({ resource: 'tickets://T-7', token_id: JTI, task_id: TASK });
  });

  it("makes the server's span a child of the client's span, through the trace context in _meta", () => {
    const server = uses.find((u) => u.service === 'mcp-tickets' && u.tool === 'tickets.search');
    const client = uses.find((u) => u.service === 'helpdesk-agent' && u.tool === 'tickets.search');
    expect(client?.task_id).toBe(TASK);
    expect(server?.trace_id).toBe(client?.trace_id);
    expect(server?.parent_span_id).toBe(client?.span_id);
  });

  it('raises scope_creep naming the MCP tool and server for a tool outside the task', () => {
    const found = alerts.filter((a) => a.detector === 'scope_creep');
    expect(found.map((a) => a.reason)).toEqual(
      expect.arrayContaining([expect.stringContaining('invoked MCP tool tickets.export_all on server mcp-tickets')]),
    );
    // The planned tools raise nothing.
    expect(found.filter((a) => /invoked MCP tool tickets\.(search|get) /.test(a.reason))).toEqual([]);
  });

  it('raises cross_service_reuse naming MCP and the server for a token presented to another MCP server', () => {
    const found = alerts.filter((a) => a.detector === 'cross_service_reuse');
    expect(found).toHaveLength(1);
    expect(found[0]?.target).toBe('mcp-billing');
    // The first request that presented the token to billing was the session's initialize.
    expect(found[0]?.reason).toContain('was used for MCP initialize on server mcp-billing by agent helpdesk-agent');
    expect(found[0]?.reason).toContain('mcp-billing is outside its audience [mcp-tickets]');
    expect(found[0]?.count).toBeGreaterThanOrEqual(2);
  });

  it('raises scope_creep naming the tool called on the other MCP server too', () => {
    expect(
      alerts.some((a) => a.detector === 'scope_creep' && a.reason.includes('invoked MCP tool billing.refund on server mcp-billing')),
    ).toBe(true);
  });

  it('keeps neither the token nor the tool arguments in any export or table', async () => {
    const stored = await monitor.storedText();
    const exported = monitor.exports.map((b) => b.toString('latin1')).join('\n');
    for (const text of [stored, exported]) {
      expect(text).not.toContain(SIGNATURE);
      expect(text).not.toContain(TOKEN.split('.')[1]);
      expect(text).not.toContain(SECRET_ARGUMENT);
    }
    expect(tickets.calls.map((c) => c.tool)).toEqual(['tickets.search', 'tickets.get', 'tickets.export_all']);
  });
});
