import { createHash } from 'node:crypto';
import { type Attributes, type HrTime, type SpanContext, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { type Resource, resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';

/**
 * The benchmark's traffic: a fleet of agents, each holding tokens granted for one task, and the
 * OTLP/protobuf requests their SDKs would send — encoded by the OpenTelemetry SDK's own
 * serializer, from spans shaped as docs/conventions.md §1 describes (token uses with the usual HTTP
 * client attributes, plus the agent and LLM spans around them as context). Everything is
 * derived from a seed, so a sender process and the raw-insert process build identical rows.
 */

/** The services agents call, the tool each is reached through, and the scopes it knows. */
const SERVICES = [
  {
    host: 'api.github.com',
    tool: 'github.get_file',
    scopes: ['repo:read', 'contents:read'],
    method: 'GET',
    route: '/repos/{owner}/{repo}/contents/{path}',
  },
  { host: 'slack.com', tool: 'slack.post_message', scopes: ['chat:write'], method: 'POST', route: '/api/chat.postMessage' },
  {
    host: 'storage.googleapis.com',
    tool: 'gcs.read_object',
    scopes: ['storage.objects.get'],
    method: 'GET',
    route: '/storage/v1/b/{bucket}/o/{object}',
  },
  { host: 'api.stripe.com', tool: 'stripe.list_charges', scopes: ['charges:read'], method: 'GET', route: '/v1/charges' },
  { host: 'jira.example.com', tool: 'jira.create_issue', scopes: ['write:jira-work'], method: 'POST', route: '/rest/api/3/issue' },
  { host: 'vault.internal', tool: 'vault.read_secret', scopes: ['secret:read'], method: 'GET', route: '/v1/secret/data/{path}' },
] as const;

/** Services no grant in the fleet names: uses against them are outside every audience. */
export const FOREIGN_SERVICE = { host: 'billing.internal', tool: 'billing.export', scope: 'billing:admin' } as const;

export interface Grant {
  tokenId: string;
  taskId: string;
  agentId: string;
  workloadId: string;
  /** Indexes into SERVICES. */
  services: number[];
  audience: string[];
  scopes: string[];
  resources: string[];
  tools: string[];
  repo: string;
}

export interface Agent {
  agentId: string;
  serviceName: string;
  environment: string;
  grants: Grant[];
  resource: Resource;
}

export interface FleetOptions {
  /** Makes every id of this fleet distinct from other fleets' (e.g. "ingest-0"). */
  prefix: string;
  agents: number;
  tokensPerAgent: number;
  seed: number;
  environment?: string;
}

/** A small, fast, seedable PRNG (mulberry32): the same seed gives the same traffic. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hex(random: () => number, bytes: number): string {
  let s = '';
  for (let i = 0; i < bytes; i++) {
    // A non-zero first byte: OTLP ids must not be all zeros.
    const b = i === 0 ? 1 + Math.floor(random() * 255) : Math.floor(random() * 256);
    s += b.toString(16).padStart(2, '0');
  }
  return s;
}

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

/** The token id a broker would report: `sha256:` + hex digest (docs/conventions.md §1.1). */
export function tokenIdFor(name: string): string {
  return `sha256:${createHash('sha256').update(name).digest('hex')}`;
}

export function makeGrant(random: () => number, agentId: string, name: string): Grant {
  const first = Math.floor(random() * SERVICES.length);
  const services = [first, (first + 1 + Math.floor(random() * (SERVICES.length - 1))) % SERVICES.length];
  const repo = `org/repo-${Math.floor(random() * 500)}`;
  return {
    tokenId: tokenIdFor(name),
    taskId: `task-${name}`,
    agentId,
    workloadId: `spiffe://bench.example/agent/${agentId}`,
    services,
    audience: services.map((i) => SERVICES[i]!.host),
    scopes: services.flatMap((i) => [...SERVICES[i]!.scopes]),
    resources: [`${repo}/**`],
    tools: services.map((i) => SERVICES[i]!.tool),
    repo,
  };
}

export function makeAgent(random: () => number, agentId: string, environment: string): Agent {
  return {
    agentId,
    serviceName: agentId,
    environment,
    grants: [],
    resource: resourceFromAttributes({
      'service.name': agentId,
      'service.version': '1.4.2',
      'service.instance.id': hex(random, 16),
      'deployment.environment.name': environment,
      'host.name': `worker-${Math.floor(random() * 40)}`,
      'process.pid': 1000 + Math.floor(random() * 60000),
      'process.runtime.name': 'nodejs',
      'telemetry.sdk.language': 'nodejs',
      'telemetry.sdk.name': 'opentelemetry',
      'telemetry.sdk.version': '2.12.0',
    }),
  };
}

export function makeFleet(options: FleetOptions): Agent[] {
  const random = rng(options.seed);
  const agents: Agent[] = [];
  for (let a = 0; a < options.agents; a++) {
    const agent = makeAgent(random, `agent-${options.prefix}-${a}`, options.environment ?? 'production');
    for (let t = 0; t < options.tokensPerAgent; t++) agent.grants.push(makeGrant(random, agent.agentId, `${options.prefix}/${a}/${t}`));
    agents.push(agent);
  }
  return agents;
}

const SCOPE = { name: '@intentwatch/bench', version: '1.0.0' };
const BROKER = resourceFromAttributes({ 'service.name': 'token-broker', 'deployment.environment.name': 'production' });
const ORCHESTRATOR = resourceFromAttributes({ 'service.name': 'orchestrator', 'deployment.environment.name': 'production' });

function hrTime(ms: number): HrTime {
  const s = Math.floor(ms / 1000);
  return [s, Math.round((ms - s * 1000) * 1e6)];
}

interface SpanInit {
  name: string;
  kind: SpanKind;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  startMs: number;
  durationMs: number;
  attributes: Attributes;
  resource: Resource;
  error?: boolean;
}

/** A finished span as the SDK hands it to its exporter. */
export function readableSpan(init: SpanInit): ReadableSpan {
  const context: SpanContext = { traceId: init.traceId, spanId: init.spanId, traceFlags: 1 };
  const parent: SpanContext | undefined = init.parentSpanId
    ? { traceId: init.traceId, spanId: init.parentSpanId, traceFlags: 1 }
    : undefined;
  return {
    name: init.name,
    kind: init.kind,
    spanContext: () => context,
    ...(parent ? { parentSpanContext: parent } : {}),
    startTime: hrTime(init.startMs),
    endTime: hrTime(init.startMs + init.durationMs),
    duration: hrTime(init.durationMs),
    status: { code: init.error ? SpanStatusCode.ERROR : SpanStatusCode.UNSET },
    attributes: init.attributes,
    links: [],
    events: [],
    ended: true,
    resource: init.resource,
    instrumentationScope: SCOPE,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}

/** What the SDK's OTLP/protobuf exporter would POST for these spans. */
export function encodeSpans(spans: ReadableSpan[]): Uint8Array {
  const body = ProtobufTraceSerializer.serializeRequest(spans);
  if (!body) throw new Error('the OTLP serializer returned nothing');
  return body;
}

function rfc3339(ms: number): string {
  return new Date(ms).toISOString();
}

/** The broker's `issued` span for a grant. */
export function issuedSpan(random: () => number, grant: Grant, environment: string, atMs: number, expiresInS = 3600): ReadableSpan {
  return readableSpan({
    name: 'token.issue',
    kind: SpanKind.SERVER,
    traceId: hex(random, 16),
    spanId: hex(random, 8),
    startMs: atMs,
    durationMs: 3,
    resource: BROKER,
    attributes: {
      'token.event': 'issued',
      'token.id': grant.tokenId,
      'task.id': grant.taskId,
      'gen_ai.agent.id': grant.agentId,
      'workload.id': grant.workloadId,
      'token.audience': grant.audience,
      'token.scopes': grant.scopes,
      'token.resources': grant.resources,
      'token.expires_at': rfc3339(atMs + expiresInS * 1000),
      'token.max_session_s': 4 * 3600,
      'deployment.environment.name': environment,
    },
  });
}

/** A lifecycle span of a token other than `issued` (`revoked`, `refreshed`, …). */
export function tokenEventSpan(random: () => number, grant: Grant, event: string, atMs: number, extra: Attributes = {}): ReadableSpan {
  return readableSpan({
    name: `token.${event}`,
    kind: SpanKind.SERVER,
    traceId: hex(random, 16),
    spanId: hex(random, 8),
    startMs: atMs,
    durationMs: 2,
    resource: BROKER,
    attributes: { 'token.event': event, 'token.id': grant.tokenId, 'task.id': grant.taskId, 'gen_ai.agent.id': grant.agentId, ...extra },
  });
}

/** The orchestrator's task span (`started` with intent and tools, or an end event). */
export function taskEventSpan(random: () => number, grant: Grant, event: string, atMs: number, deadlineInS = 4 * 3600): ReadableSpan {
  const attributes: Attributes =
    event === 'started'
      ? {
          'task.event': 'started',
          'task.id': grant.taskId,
          'gen_ai.agent.id': grant.agentId,
          'task.intent': `update the docs of ${grant.repo} and tell the team`,
          'task.tools': grant.tools,
          'task.deadline': rfc3339(atMs + deadlineInS * 1000),
        }
      : { 'task.event': event, 'task.id': grant.taskId };
  return readableSpan({
    name: `task.${event}`,
    kind: SpanKind.INTERNAL,
    traceId: hex(random, 16),
    spanId: hex(random, 8),
    startMs: atMs,
    durationMs: 1,
    resource: ORCHESTRATOR,
    attributes,
  });
}

/** Lifecycle requests that make a fleet's grants known: one `issued` and one task `started` per grant, 512 spans a request. */
export function lifecycleRequests(agents: Agent[], atMs: number, seed: number, spansPerRequest = 512): Uint8Array[] {
  const random = rng(seed);
  const spans: ReadableSpan[] = [];
  for (const agent of agents) {
    for (const g of agent.grants) {
      spans.push(taskEventSpan(random, g, 'started', atMs));
      spans.push(issuedSpan(random, g, agent.environment, atMs));
    }
  }
  const out: Uint8Array[] = [];
  for (let i = 0; i < spans.length; i += spansPerRequest) out.push(encodeSpans(spans.slice(i, i + spansPerRequest)));
  return out;
}

export interface UseOverrides {
  target?: { host: string; tool: string; scope: string };
  agentId?: string;
  environment?: string;
}

/** One token use within its grant (benign unless `overrides` say otherwise). */
export function useSpan(
  random: () => number,
  agent: Agent,
  grant: Grant,
  traceId: string,
  parentSpanId: string,
  startMs: number,
  overrides: UseOverrides = {},
): ReadableSpan {
  const service = SERVICES[pick(random, grant.services)]!;
  const target = overrides.target ?? { host: service.host, tool: service.tool, scope: pick(random, service.scopes) };
  const path = `${grant.repo}/src/file-${Math.floor(random() * 2000)}.ts`;
  return readableSpan({
    name: `${service.method} ${service.route}`,
    kind: SpanKind.CLIENT,
    traceId,
    spanId: hex(random, 8),
    parentSpanId,
    startMs,
    durationMs: 20 + Math.floor(random() * 300),
    resource: overrides.environment ? resourceWithEnvironment(agent, overrides.environment) : agent.resource,
    attributes: {
      'token.id': grant.tokenId,
      'task.id': grant.taskId,
      'gen_ai.agent.id': overrides.agentId ?? agent.agentId,
      'workload.id': overrides.agentId ? `spiffe://bench.example/agent/${overrides.agentId}` : grant.workloadId,
      'token.scope': target.scope,
      'token.resource': path,
      'gen_ai.tool.name': target.tool,
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.call.id': `call_${hex(random, 12)}`,
      'server.address': target.host,
      'server.port': 443,
      'url.full': `https://${target.host}/${path}`,
      'http.request.method': service.method,
      'http.route': service.route,
      'http.response.status_code': 200,
      'network.protocol.version': '1.1',
    },
  });
}

function resourceWithEnvironment(agent: Agent, environment: string): Resource {
  return resourceFromAttributes({ ...agent.resource.attributes, 'deployment.environment.name': environment });
}

/**
 * One agent turn: the agent span, an LLM call and three tool calls with the agent's tokens — five
 * spans, three of them token uses, as an instrumented agent framework emits them.
 */
export function agentTurn(random: () => number, agent: Agent, startMs: number): ReadableSpan[] {
  const traceId = hex(random, 16);
  const root = hex(random, 8);
  const grant = pick(random, agent.grants);
  const spans = [
    readableSpan({
      name: `invoke_agent ${agent.agentId}`,
      kind: SpanKind.INTERNAL,
      traceId,
      spanId: root,
      startMs,
      durationMs: 1500,
      resource: agent.resource,
      attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.id': agent.agentId, 'gen_ai.agent.name': 'docs-updater' },
    }),
    readableSpan({
      name: 'chat gpt-4o',
      kind: SpanKind.CLIENT,
      traceId,
      spanId: hex(random, 8),
      parentSpanId: root,
      startMs: startMs + 5,
      durationMs: 900,
      resource: agent.resource,
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': 'gpt-4o',
        'gen_ai.usage.input_tokens': 1200 + Math.floor(random() * 4000),
        'gen_ai.usage.output_tokens': 50 + Math.floor(random() * 500),
        'server.address': 'api.openai.com',
      },
    }),
  ];
  for (let i = 0; i < 3; i++) spans.push(useSpan(random, agent, grant, traceId, root, startMs + 910 + i * 150));
  return spans;
}

export interface UseRequestOptions {
  requests: number;
  spansPerRequest: number;
  seed: number;
  /** Start time of the first span; later spans follow a few ms apart. */
  startMs: number;
}

export interface EncodedRequest {
  body: Uint8Array;
  spans: number;
}

/**
 * Requests as the agents' BatchSpanProcessors export them: each holds `spansPerRequest` spans
 * of one agent (one resource), agents taking turns.
 */
export function useRequests(agents: Agent[], options: UseRequestOptions): EncodedRequest[] {
  const random = rng(options.seed);
  const out: EncodedRequest[] = [];
  let t = options.startMs;
  for (let r = 0; r < options.requests; r++) {
    const agent = agents[r % agents.length]!;
    const spans: ReadableSpan[] = [];
    while (spans.length < options.spansPerRequest) {
      for (const s of agentTurn(random, agent, t)) if (spans.length < options.spansPerRequest) spans.push(s);
      t += 2;
    }
    out.push({ body: encodeSpans(spans), spans: spans.length });
  }
  return out;
}

export { hex as randomHex, SERVICES };
