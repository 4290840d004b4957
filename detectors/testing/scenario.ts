import type { Severity } from '@intentwatch/alerts';
import type { AttrInput, TimedSpan } from '@intentwatch/testkit';

/** An attribute value; a function is evaluated when the scenario is played, with its start time (epoch ms). */
export type { AttrInput };

/** One span of a scenario: attributes per docs/conventions.md §1, at `at` seconds after the scenario's start. */
export interface ScenarioSpan extends TimedSpan {
  at: number;
  name: string;
  attrs: Record<string, AttrInput>;
  /** Resource attributes (`service.name`, `deployment.environment.name`). */
  resource: Record<string, string>;
  /** Spans are delivered in batches by ascending `delivery` (default 0), the detector running after each. */
  delivery?: number;
  /** Send through `POST /v1/token-events` / `/v1/task-events` (JSON) instead of OTLP. */
  viaJson?: boolean;
}

export interface ExpectedAlert {
  tokenId: string;
  severity: Severity;
  /** Substrings the reason must contain (the token, the intent, the deviation). */
  reason: string[];
  /** Distinct offending spans, when the scenario pins it. */
  count?: number;
  /** The session root the alert is keyed by, when it is not the token itself. */
  rootTokenId?: string;
}

/** A named case for one detector: the spans, and whether (and what) it must alert. */
export interface Scenario {
  name: string;
  expect: 'alert' | 'silent';
  spans: ScenarioSpan[];
  /** For `expect: 'alert'`: every alert the detector must raise about this scenario's tokens, and no other. */
  alerts?: ExpectedAlert[];
  /**
   * The start is aligned down to a multiple of this many seconds of event time, for scenarios
   * whose spans must fall into known buckets (a burst that must not straddle two minutes).
   */
  alignStartS?: number;
}

interface Who {
  agent?: string;
  service?: string;
  env?: string;
  workload?: string;
}

const BROKER = { 'service.name': 'token-broker' };
const ORCHESTRATOR = { 'service.name': 'orchestrator' };

function grantAttrs(
  event: string,
  token: string,
  o: {
    parent?: string;
    task?: string;
    agent?: string;
    workload?: string;
    audience?: string[];
    scopes?: string[];
    resources?: string[];
    /** Seconds after the grant. */
    expiresIn?: number;
    maxSession?: number;
    env?: string;
  },
  at: number,
): Record<string, AttrInput> {
  const a: Record<string, AttrInput> = { 'token.event': event, 'token.id': token };
  if (o.parent) a['token.parent_id'] = o.parent;
  if (o.task) a['task.id'] = o.task;
  if (o.agent) a['gen_ai.agent.id'] = o.agent;
  if (o.workload) a['workload.id'] = o.workload;
  if (o.audience) a['token.audience'] = o.audience;
  if (o.scopes) a['token.scopes'] = o.scopes;
  if (o.resources) a['token.resources'] = o.resources;
  const expiresIn = o.expiresIn;
  if (expiresIn !== undefined) a['token.expires_at'] = (b) => new Date(b + (at + expiresIn) * 1000).toISOString();
  if (o.maxSession !== undefined) a['token.max_session_s'] = o.maxSession;
  if (o.env) a['deployment.environment.name'] = o.env;
  return a;
}

type GrantOptions = Parameters<typeof grantAttrs>[2] & { delivery?: number; viaJson?: boolean };

/**
 * Builders for scenario spans. Times are seconds after the scenario's start; absolute times
 * (expiry, deadline) are computed when the scenario is played, from its start.
 */
export const span = {
  issued(token: string, at: number, o: GrantOptions = {}): ScenarioSpan {
    return grant('issued', token, at, o);
  },

  refreshed(token: string, parent: string, at: number, o: GrantOptions = {}): ScenarioSpan {
    return grant('refreshed', token, at, { ...o, parent });
  },

  exchanged(token: string, parent: string, at: number, o: GrantOptions = {}): ScenarioSpan {
    return grant('exchanged', token, at, { ...o, parent });
  },

  /** A `renewed` event: the same token lives on until `expiresIn` seconds after the renewal. */
  renewed(token: string, at: number, o: { expiresIn: number; delivery?: number; viaJson?: boolean }): ScenarioSpan {
    const expiresIn = o.expiresIn;
    const attrs: Record<string, AttrInput> = {
      'token.event': 'renewed',
      'token.id': token,
      'token.expires_at': (b) => new Date(b + (at + expiresIn) * 1000).toISOString(),
    };
    return { at, name: 'token renewed', attrs, resource: BROKER, ...opt(o) };
  },

  revoked(token: string, at: number, o: { reason?: string; delivery?: number; viaJson?: boolean } = {}): ScenarioSpan {
    const attrs: Record<string, AttrInput> = { 'token.event': 'revoked', 'token.id': token };
    if (o.reason) attrs['token.revoked_reason'] = o.reason;
    return { at, name: 'token revoked', attrs, resource: BROKER, ...opt(o) };
  },

  started(
    task: string,
    at: number,
    o: { agent?: string; intent?: string; tools?: string[]; deadlineIn?: number; delivery?: number; viaJson?: boolean } = {},
  ): ScenarioSpan {
    const attrs: Record<string, AttrInput> = { 'task.event': 'started', 'task.id': task };
    if (o.agent) attrs['gen_ai.agent.id'] = o.agent;
    if (o.intent) attrs['task.intent'] = o.intent;
    if (o.tools) attrs['task.tools'] = o.tools;
    const deadlineIn = o.deadlineIn;
    if (deadlineIn !== undefined) attrs['task.deadline'] = (b) => new Date(b + (at + deadlineIn) * 1000).toISOString();
    return { at, name: 'task started', attrs, resource: ORCHESTRATOR, ...opt(o) };
  },

  ended(
    task: string,
    at: number,
    event: 'completed' | 'failed' | 'cancelled' = 'completed',
    o: { delivery?: number; viaJson?: boolean } = {},
  ): ScenarioSpan {
    return { at, name: `task ${event}`, attrs: { 'task.event': event, 'task.id': task }, resource: ORCHESTRATOR, ...opt(o) };
  },

  /** A token use: `target` is the service called (`service.peer.name`). */
  use(
    token: string,
    at: number,
    o: Who & { target: string; task?: string; scopes?: string[]; resource?: string; tool?: string; delivery?: number },
  ): ScenarioSpan {
    const attrs: Record<string, AttrInput> = { 'token.id': token, 'service.peer.name': o.target };
    if (o.task) attrs['task.id'] = o.task;
    if (o.agent) attrs['gen_ai.agent.id'] = o.agent;
    if (o.workload) attrs['workload.id'] = o.workload;
    if (o.scopes) attrs['token.scope'] = o.scopes;
    if (o.resource) attrs['token.resource'] = o.resource;
    if (o.tool) attrs['gen_ai.tool.name'] = o.tool;
    const resource: Record<string, string> = { 'service.name': o.service ?? `${o.agent ?? 'agent'}-svc` };
    if (o.env) resource['deployment.environment.name'] = o.env;
    return { at, name: o.tool ? `execute_tool ${o.tool}` : `call ${o.target}`, attrs, resource, ...opt(o) };
  },
};

/** A token use that is an MCP request (docs/conventions.md §1.6): `use` plus `mcp.method.name` (default `tools/call`). */
export function mcpUse(token: string, at: number, o: Parameters<typeof span.use>[2] & { method?: string; uri?: string }): ScenarioSpan {
  const { method = 'tools/call', uri, ...rest } = o;
  const s = span.use(token, at, rest);
  s.attrs['mcp.method.name'] = method;
  if (method === 'tools/call') s.attrs['gen_ai.operation.name'] = 'execute_tool';
  if (uri) s.attrs['mcp.resource.uri'] = uri;
  s.name = `${method} ${o.tool ?? uri ?? ''}`.trim();
  return s;
}

function grant(event: string, token: string, at: number, o: GrantOptions): ScenarioSpan {
  const { delivery, viaJson, ...rest } = o;
  return { at, name: `token ${event}`, attrs: grantAttrs(event, token, rest, at), resource: BROKER, ...opt({ delivery, viaJson }) };
}

function opt(o: { delivery?: number | undefined; viaJson?: boolean | undefined }): Pick<ScenarioSpan, 'delivery' | 'viaJson'> {
  const out: Pick<ScenarioSpan, 'delivery' | 'viaJson'> = {};
  if (o.delivery !== undefined) out.delivery = o.delivery;
  if (o.viaJson) out.viaJson = true;
  return out;
}

/** Every token and task id a scenario mentions. */
export function idsOf(scenario: Scenario): { tokens: string[]; tasks: string[] } {
  const tokens = new Set<string>();
  const tasks = new Set<string>();
  for (const s of scenario.spans) {
    for (const k of ['token.id', 'token.parent_id']) if (typeof s.attrs[k] === 'string') tokens.add(s.attrs[k] as string);
    if (typeof s.attrs['task.id'] === 'string') tasks.add(s.attrs['task.id'] as string);
  }
  return { tokens: [...tokens], tasks: [...tasks] };
}

/**
 * The same scenario with every token and task id suffixed — to replay it (e.g. shuffled) on the
 * same store without meeting its first run's alerts. Expectations are rewritten alike.
 */
export function withSuffix(scenario: Scenario, suffix: string): Scenario {
  const { tokens, tasks } = idsOf(scenario);
  const ids = [...tokens, ...tasks].sort((a, b) => b.length - a.length);
  const rename = (v: string) => (ids.includes(v) ? `${v}${suffix}` : v);
  const renameText = (text: string) => text.replace(new RegExp(ids.map(escapeRe).join('|'), 'g'), (m) => `${m}${suffix}`);
  return {
    ...scenario,
    name: `${scenario.name}${suffix}`,
    spans: scenario.spans.map((s) => {
      const attrs: Record<string, AttrInput> = {};
      for (const key of Object.keys(s.attrs)) {
        const v = s.attrs[key] as AttrInput;
        attrs[key] = ['token.id', 'token.parent_id', 'task.id'].includes(key) && typeof v === 'string' ? rename(v) : v;
      }
      return { ...s, attrs };
    }),
    ...(scenario.alerts
      ? {
          alerts: scenario.alerts.map((a) => ({
            ...a,
            tokenId: rename(a.tokenId),
            reason: a.reason.map(renameText),
            ...(a.rootTokenId ? { rootTokenId: rename(a.rootTokenId) } : {}),
          })),
        }
      : {}),
  };
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
