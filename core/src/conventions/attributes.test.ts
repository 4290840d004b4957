import { describe, expect, it } from 'vitest';
import {
  type Attributes,
  actionOf,
  agentOf,
  environmentOf,
  resourceOf,
  strList,
  targetService,
  timestampMs,
  wholeNumber,
  workloadOf,
} from './attributes.js';

describe('targetService (docs/conventions.md §1.1 target service)', () => {
  const all: Attributes = {
    'service.peer.name': 'github',
    'peer.service': 'legacy-peer',
    'server.address': 'api.example.com',
    'url.full': 'https://storage.example.net/bucket/key?x=1',
    'rpc.service': 'billing.Billing',
    'db.system.name': 'postgresql',
    'db.system': 'mysql',
  };
  const without = (...keys: string[]) => Object.fromEntries(Object.entries(all).filter(([k]) => !keys.includes(k)));

  it('takes the first present attribute in the documented order', () => {
    expect(targetService(all)).toBe('github');
    expect(targetService(without('service.peer.name'))).toBe('legacy-peer');
    expect(targetService(without('service.peer.name', 'peer.service'))).toBe('api.example.com');
    expect(targetService(without('service.peer.name', 'peer.service', 'server.address'))).toBe('storage.example.net');
    expect(targetService(without('service.peer.name', 'peer.service', 'server.address', 'url.full'))).toBe('billing.Billing');
    expect(targetService(without('service.peer.name', 'peer.service', 'server.address', 'url.full', 'rpc.service'))).toBe('postgresql');
    expect(targetService({ 'db.system': 'mysql' })).toBe('mysql');
  });

  it('uses the host of url.full, without port, user or path', () => {
    expect(targetService({ 'url.full': 'https://user:pw@api.github.com:8443/repos/acme/api' })).toBe('api.github.com');
  });

  it('skips a url.full that is not a URL and empty values', () => {
    expect(targetService({ 'service.peer.name': '  ', 'url.full': 'not a url', 'rpc.service': 'svc' })).toBe('svc');
    expect(targetService({})).toBe('');
  });
});

describe('actionOf (docs/conventions.md §1.1 action)', () => {
  it('prefers the tool name', () => {
    expect(actionOf({ 'gen_ai.tool.name': 'create_issue', 'http.request.method': 'POST', 'http.route': '/x' }, 'span')).toBe(
      'create_issue',
    );
  });

  it('is method and route, else method and url.path', () => {
    expect(actionOf({ 'http.request.method': 'GET', 'http.route': '/repos/{owner}/{repo}', 'url.path': '/repos/a/b' }, 'span')).toBe(
      'GET /repos/{owner}/{repo}',
    );
    expect(actionOf({ 'http.request.method': 'DELETE', 'url.path': '/buckets/logs' }, 'span')).toBe('DELETE /buckets/logs');
  });

  it('falls back to the span name, also when a method has neither route nor path', () => {
    expect(actionOf({}, 'SELECT orders')).toBe('SELECT orders');
    expect(actionOf({ 'http.request.method': 'GET' }, 'GET api.github.com')).toBe('GET api.github.com');
  });
});

describe('resourceOf (docs/conventions.md §1.1 token.resource)', () => {
  it('is token.resource, else url.path, else http.route', () => {
    expect(resourceOf({ 'token.resource': 'repos/acme/api', 'url.path': '/p', 'http.route': '/r' })).toBe('repos/acme/api');
    expect(resourceOf({ 'url.path': '/p', 'http.route': '/r' })).toBe('/p');
    expect(resourceOf({ 'http.route': '/r' })).toBe('/r');
    expect(resourceOf({})).toBe('');
  });

  it('is the MCP resource uri of a resources/read when no token.resource is given (docs/conventions.md §1.6)', () => {
    expect(resourceOf({ 'mcp.resource.uri': 'tickets://T-1', 'url.path': '/mcp' })).toBe('tickets://T-1');
    expect(resourceOf({ 'token.resource': 'tickets/T-1', 'mcp.resource.uri': 'tickets://T-1' })).toBe('tickets/T-1');
  });
});

describe('environmentOf, agentOf, workloadOf', () => {
  it('reads deployment.environment.name, else the legacy deployment.environment', () => {
    expect(environmentOf({ 'deployment.environment.name': 'prod', 'deployment.environment': 'old' })).toBe('prod');
    expect(environmentOf({ 'deployment.environment': 'staging' })).toBe('staging');
  });

  it('takes gen_ai.agent.id, falling back to service.name', () => {
    expect(agentOf({ 'gen_ai.agent.id': 'triage-bot', 'service.name': 'svc' })).toBe('triage-bot');
    expect(agentOf({ 'service.name': 'svc' })).toBe('svc');
  });

  it('reads workload.id with gen_ai.agent.identity.id as alias', () => {
    expect(workloadOf({ 'workload.id': 'spiffe://a', 'gen_ai.agent.identity.id': 'spiffe://b' })).toBe('spiffe://a');
    expect(workloadOf({ 'gen_ai.agent.identity.id': 'spiffe://b' })).toBe('spiffe://b');
  });
});

describe('strList (array attributes)', () => {
  it('accepts OTLP arrays and comma-separated strings alike', () => {
    expect(strList({ s: ['repo:read', 'issues:write'] }, 's')).toEqual(['repo:read', 'issues:write']);
    expect(strList({ s: 'repo:read, issues:write,,' }, 's')).toEqual(['repo:read', 'issues:write']);
    expect(strList({ s: 'repo:read' }, 's')).toEqual(['repo:read']);
  });

  it('drops empty entries and duplicates and keeps order', () => {
    expect(strList({ s: ['b', '', 'a', 'b', ' '] }, 's')).toEqual(['b', 'a']);
  });

  it('is empty when the attribute is absent or not a list', () => {
    expect(strList({}, 's')).toEqual([]);
    expect(strList({ s: true }, 's')).toEqual([]);
  });
});

describe('timestampMs (RFC 3339 or Unix epoch seconds)', () => {
  const at = (v: Attributes[string]) => timestampMs({ t: v }, 't');

  it('reads RFC 3339 with Z or an offset', () => {
    expect(at('2026-11-25T10:00:00Z')).toBe(Date.UTC(2026, 10, 25, 10));
    expect(at('2026-11-25T12:00:00+02:00')).toBe(Date.UTC(2026, 10, 25, 10));
    expect(at('2026-11-25T10:00:00.123456789Z')).toBe(Date.UTC(2026, 10, 25, 10, 0, 0, 123));
    expect(at('2026-11-25 10:00:00Z')).toBe(Date.UTC(2026, 10, 25, 10));
  });

  it('reads a time without offset as UTC, whatever the host time zone', () => {
    expect(at('2026-11-25T10:00:00')).toBe(Date.UTC(2026, 10, 25, 10));
  });

  it('reads epoch seconds as a number or a digit string', () => {
    expect(at(1_795_600_800)).toBe(1_795_600_800_000);
    expect(at(1_795_600_800.5)).toBe(1_795_600_800_500);
    expect(at('1795600800')).toBe(1_795_600_800_000);
  });

  it('is undefined when absent and NaN when unreadable', () => {
    expect(at(undefined as unknown as string)).toBeUndefined();
    expect(at('')).toBeUndefined();
    expect(at('tomorrow')).toBeNaN();
    expect(at('2026-13-45T10:00:00Z')).toBeNaN();
    expect(at(true)).toBeNaN();
  });
});

describe('wholeNumber', () => {
  it('reads numbers and digit strings, NaN for negatives and text', () => {
    expect(wholeNumber({ n: 3600 }, 'n')).toBe(3600);
    expect(wholeNumber({ n: '3600' }, 'n')).toBe(3600);
    expect(wholeNumber({}, 'n')).toBeUndefined();
    expect(wholeNumber({ n: -1 }, 'n')).toBeNaN();
    expect(wholeNumber({ n: 'an hour' }, 'n')).toBeNaN();
  });
});
