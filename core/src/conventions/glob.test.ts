import { describe, expect, it } from 'vitest';
import { globToRegExp, matchesAnyGlob } from './glob.js';

const matches = (pattern: string, resource: string) => globToRegExp(pattern).test(resource);

describe('globToRegExp (token.resources patterns)', () => {
  it('lets * match within one path segment only', () => {
    expect(matches('repos/acme/*', 'repos/acme/api')).toBe(true);
    expect(matches('repos/acme/*', 'repos/acme/')).toBe(true);
    expect(matches('repos/acme/*', 'repos/acme/api/issues')).toBe(false);
    expect(matches('repos/*/issues', 'repos/acme/issues')).toBe(true);
    expect(matches('repos/*/issues', 'repos/acme/api/issues')).toBe(false);
    expect(matches('reports/*.csv', 'reports/q3.csv')).toBe(true);
    expect(matches('reports/*.csv', 'reports/2026/q3.csv')).toBe(false);
  });

  it('lets ** match across segments, including none', () => {
    expect(matches('buckets/logs/**', 'buckets/logs/2026/11/a.gz')).toBe(true);
    expect(matches('buckets/logs/**', 'buckets/logs')).toBe(true);
    expect(matches('buckets/logs/**', 'buckets/logsX')).toBe(false);
    expect(matches('repos/**/issues', 'repos/issues')).toBe(true);
    expect(matches('repos/**/issues', 'repos/acme/api/issues')).toBe(true);
    expect(matches('**', 'anything/at/all')).toBe(true);
  });

  it('matches everything else literally, regex characters included', () => {
    expect(matches('db/orders.v1', 'db/orders.v1')).toBe(true);
    expect(matches('db/orders.v1', 'db/ordersXv1')).toBe(false);
    expect(matches('a+b/(c)|[d]', 'a+b/(c)|[d]')).toBe(true);
    expect(matches('/repos/acme', '/repos/acme/')).toBe(false);
  });
});

describe('matchesAnyGlob', () => {
  it('is true when one pattern matches, and when there is no restriction', () => {
    expect(matchesAnyGlob('repos/acme/api', ['buckets/**', 'repos/acme/*'])).toBe(true);
    expect(matchesAnyGlob('repos/other/api', ['buckets/**', 'repos/acme/*'])).toBe(false);
    expect(matchesAnyGlob('anything', [])).toBe(true);
  });
});
