import type { Grant } from '@intentwatch/core';
import { describe, expect, it } from 'vitest';
import { withinAudience } from './screen.js';

const grant = (audience: string[]): Grant => ({
  tokenId: 't',
  event: 'issued',
  time: '2026-01-01T00:00:00Z',
  parentId: '',
  taskId: '',
  agentId: '',
  workloadId: '',
  audience,
  scopes: [],
  resources: [],
  expiresAt: null,
  maxSessionS: null,
  environment: '',
  traceId: '',
  spanId: '',
});

describe('withinAudience (the in-memory twin of withinAudienceSql)', () => {
  it('admits a host, its subdomains and a URL entry by its host, case-insensitively', () => {
    const g = grant(['github.com', 'https://Jira.Example.org/rest', 'slack']);
    expect(['github.com', 'API.GitHub.com', 'a.b.github.com', 'jira.example.org', 'slack'].map((t) => withinAudience(t, g))).toEqual([
      true,
      true,
      true,
      true,
      true,
    ]);
  });

  it('refuses a look-alike that only ends with the name, and anything against an empty audience', () => {
    const g = grant(['github.com', '']);
    expect(withinAudience('evilgithub.com', g)).toBe(false);
    expect(withinAudience('github.com.evil.net', g)).toBe(false);
    expect(withinAudience('com', g)).toBe(false);
    expect(withinAudience('github.com', grant([]))).toBe(false);
  });

  it('finds the service among the thousands of entries of a large audience, and only it', () => {
    const g = grant(Array.from({ length: 8192 }, (_, i) => `svc-${String(i).padStart(5, '0')}.internal`));
    expect(withinAudience('api.svc-08191.internal', g)).toBe(true);
    expect(withinAudience('api.svc-09999.internal', g)).toBe(false);
  });
});
