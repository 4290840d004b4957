import type { Attributes } from '@intentwatch/core';
import { describe, expect, it } from 'vitest';
import { normalizeSpans } from './normalize.js';
import type { DecodedResourceSpans, DecodedSpan } from './otlp/model.js';

const options = { keepContextSpans: true, maxAttributes: 128, maxAttributeLength: 4096 };
const START = 1_795_600_800_000_000_000n; // 2026-11-25T10:00:00Z

function span(attributes: Attributes, over: Partial<DecodedSpan> = {}): DecodedSpan {
  return {
    traceId: 'ab'.repeat(16),
    spanId: 'cd'.repeat(8),
    parentSpanId: '',
    name: 'span name',
    kind: 3,
    startNanos: START,
    endNanos: START + 5_000_000n,
    statusCode: 0,
    attributes,
    droppedAttributes: 0,
    ...over,
  };
}

const request = (resource: Attributes, ...spans: DecodedSpan[]): DecodedResourceSpans[] => [
  { resource, scopes: [{ scopeName: 'scope', spans }] },
];

describe('normalizeSpans: token use', () => {
  it('fills the docs/conventions.md §1.1 fields, span attributes winning over resource ones', () => {
    const result = normalizeSpans(
      request(
        {
          'service.name': 'triage-agent-svc',
          'deployment.environment': 'staging',
          'token.id': 'resource-token',
          'service.peer.name': 'resource-peer',
        },
        span({
          'token.id': 'jti-1',
          'task.id': 'task-9',
          'gen_ai.agent.id': 'triage-bot',
          'workload.id': 'spiffe://acme/triage',
          'service.peer.name': 'github',
          'http.request.method': 'POST',
          'http.route': '/repos/{owner}/{repo}/issues',
          'url.path': '/repos/acme/api/issues',
          'token.scope': 'issues:write, repo:read',
        }),
      ),
      options,
    );
    expect(result.rejected).toEqual([]);
    expect(result.rows.spans).toHaveLength(1);
    expect(result.rows.spans[0]).toMatchObject({
      token_id: 'jti-1',
      task_id: 'task-9',
      agent_id: 'triage-bot',
      workload_id: 'spiffe://acme/triage',
      caller: 'triage-agent-svc',
      target: 'github',
      action: 'POST /repos/{owner}/{repo}/issues',
      environment: 'staging',
      scopes: ['issues:write', 'repo:read'],
      resource: '/repos/acme/api/issues',
      trace_id: 'ab'.repeat(16),
      span_id: 'cd'.repeat(8),
      kind: 3,
      scope_name: 'scope',
      resource_attributes: { 'service.name': 'triage-agent-svc', 'deployment.environment': 'staging' },
    });
    expect(result.rows.spans[0]?.attributes['token.scope']).toBe('issues:write, repo:read');
  });

  it('falls back to the resource service.name for the agent, and the tool for the action', () => {
    const result = normalizeSpans(
      request({ 'service.name': 'agent-svc' }, span({ 'token.id': 't', 'gen_ai.tool.name': 'search', 'url.full': 'https://api.x.io/q' })),
      options,
    );
    expect(result.rows.spans[0]).toMatchObject({
      agent_id: 'agent-svc',
      caller: 'agent-svc',
      action: 'search',
      tool: 'search',
      target: 'api.x.io',
    });
  });

  it('keeps spans without intentwatch attributes as context, or drops them when configured', () => {
    const kept = normalizeSpans(request({}, span({ 'http.request.method': 'GET' })), options);
    expect(kept.rows.spans).toHaveLength(1);
    expect(kept.rows.spans[0]?.token_id).toBe('');
    const dropped = normalizeSpans(request({}, span({ 'http.request.method': 'GET' }), span({ 'token.id': 't' })), {
      ...options,
      keepContextSpans: false,
    });
    expect(dropped.rows.spans.map((r) => r.token_id)).toEqual(['t']);
    expect(dropped.dropped).toBe(1);
  });

  it('replaces secret-looking values by their fingerprint', () => {
    const jwtLike = `ghp_${'a'.repeat(36)}`;
    const result = normalizeSpans(request({}, span({ 'token.id': 't', 'http.request.header.authorization': jwtLike })), options);
    expect(JSON.stringify(result.rows)).not.toContain(jwtLike);
    expect(result.secretsRedacted).toBe(1);
  });
});

describe('normalizeSpans: rejections', () => {
  it('rejects malformed spans one by one with a reason and keeps the rest', () => {
    const result = normalizeSpans(
      request(
        {},
        span({ 'token.id': 'ok-1' }),
        span({ 'token.id': 'bad-trace' }, { traceId: null }),
        span({ 'token.id': 'bad-span' }, { spanId: null }),
        span({ 'token.id': 'bad-parent' }, { parentSpanId: null }),
        span({ 'token.id': 'no-start' }, { startNanos: 0n }),
        span({ 'token.id': 'far-future' }, { startNanos: 9_300_000_000_000_000_000n }),
        span({ 'token.id': 'ok-2' }),
      ),
      options,
    );
    expect(result.rows.spans.map((r) => r.token_id)).toEqual(['ok-1', 'ok-2']);
    expect(result.rejected).toHaveLength(5);
    expect(result.rejected[0]).toMatch(/^span 1 .*traceId must be 16 bytes/);
    expect(result.rejected[1]).toMatch(/^span 2: spanId must be 8 bytes/);
    expect(result.rejected[2]).toMatch(/parentSpanId/);
    expect(result.rejected[3]).toMatch(/startTimeUnixNano is missing/);
    expect(result.rejected[4]).toMatch(/2262/);
  });

  it('stores a dropped-attributes count that fits its column', () => {
    const result = normalizeSpans(
      request({}, span({ 'token.id': 'a' }, { droppedAttributes: -1 }), span({ 'token.id': 'b' }, { droppedAttributes: 2.5 })),
      options,
    );
    expect(result.rows.spans.map((r) => r.dropped_attributes)).toEqual([0, 0]);
  });
});

describe('normalizeSpans: lifecycle events', () => {
  it('turns token.event spans into token_events rows; the grantee is gen_ai.agent.id, not the broker', () => {
    const result = normalizeSpans(
      request(
        { 'service.name': 'token-broker', 'deployment.environment.name': 'prod' },
        span({
          'token.event': 'issued',
          'token.id': 'tok-1',
          'task.id': 'task-1',
          'gen_ai.agent.id': 'triage-bot',
          'token.audience': ['github', 'jira'],
          'token.scopes': 'repo:read,issues:write',
          'token.resources': ['repos/acme/*'],
          'token.expires_at': '2026-11-25T11:00:00Z',
          'token.max_session_s': '7200',
        }),
        span({ 'token.event': 'exchanged', 'token.id': 'tok-2', 'token.parent_id': 'tok-1', 'gen_ai.agent.id': 'sub-agent' }),
        span({ 'token.event': 'revoked', 'token.id': 'tok-1', 'token.revoked_reason': 'task done' }),
        span({ 'token.event': 'renewed', 'token.id': 'tok-2', 'token.expires_at': '2026-11-25T12:00:00Z' }),
      ),
      options,
    );
    expect(result.rejected).toEqual([]);
    expect(result.rows.spans).toEqual([]);
    expect(result.rows.tokenEvents).toHaveLength(4);
    expect(result.rows.tokenEvents[0]).toMatchObject({
      event: 'issued',
      token_id: 'tok-1',
      task_id: 'task-1',
      agent_id: 'triage-bot',
      caller: 'token-broker',
      environment: 'prod',
      audience: ['github', 'jira'],
      scopes: ['repo:read', 'issues:write'],
      resources: ['repos/acme/*'],
      max_session_s: 7200,
      source: 'otlp',
    });
    expect(result.rows.tokenEvents[1]).toMatchObject({ event: 'exchanged', parent_id: 'tok-1', agent_id: 'sub-agent' });
    expect(result.rows.tokenEvents[2]).toMatchObject({ event: 'revoked', revoked_reason: 'task done', agent_id: '' });
    // A renewal extends the same token: its new expiry is what it carries.
    expect(result.rows.tokenEvents[3]).toMatchObject({ event: 'renewed', token_id: 'tok-2', expires_at: '2026-11-25T12:00:00.000Z' });
  });

  it('rejects lifecycle events that cannot be stored faithfully', () => {
    const result = normalizeSpans(
      request(
        {},
        span({ 'token.event': 'borrowed', 'token.id': 't' }),
        span({ 'token.event': 'issued' }),
        span({ 'token.event': 'refreshed', 'token.id': 't' }),
        span({ 'token.event': 'issued', 'token.id': 't', 'token.expires_at': 'soon' }),
        span({ 'token.event': 'issued', 'token.id': 't', 'token.expires_at': 1_795_600_800_000 }),
        span({ 'token.event': 'issued', 'token.id': 't', 'token.max_session_s': -5 }),
        span({ 'token.event': 'renewed', 'token.id': 't' }),
        span({ 'task.event': 'started' }),
        span({ 'task.event': 'started', 'task.id': 'x', 'task.deadline': '3000-01-01T00:00:00Z' }),
      ),
      options,
    );
    expect(result.rows.tokenEvents).toEqual([]);
    expect(result.rows.taskEvents).toEqual([]);
    expect(result.rejected).toEqual([
      expect.stringMatching(/^span 0 .*token.event must be one of issued, refreshed, exchanged, renewed, revoked/),
      expect.stringMatching(/^span 1 .*needs token.id/),
      expect.stringMatching(/^span 2 .*needs token.parent_id/),
      expect.stringMatching(/^span 3 .*token.expires_at must be an RFC 3339 time or Unix epoch seconds/),
      expect.stringMatching(/^span 4 .*token.expires_at .*between 1900 and 2262/),
      expect.stringMatching(/^span 5 .*token.max_session_s/),
      expect.stringMatching(/^span 6 .*token.event renewed needs token.expires_at/),
      expect.stringMatching(/^span 7 .*needs task.id/),
      expect.stringMatching(/^span 8 .*task.deadline .*between 1900 and 2262/),
    ]);
  });
});
