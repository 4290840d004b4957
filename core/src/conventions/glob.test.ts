import { describe, expect, it } from 'vitest';
import {
  MAX_GLOB_LENGTH,
  MAX_GLOB_WILDCARDS,
  anyGlobMatcher,
  compileGlob,
  globProblem,
  globToClickHouseRegex,
  matchesAnyGlob,
  matchesGlob,
} from './glob.js';

const matches = (pattern: string, resource: string) => matchesGlob(pattern, resource);

describe('matchesGlob (token.resources patterns)', () => {
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

  it('reads a run of stars as the SQL form does: ** first, then *, and **/ before both', () => {
    expect(matches('a/***', 'a/b/c')).toBe(true);
    expect(matches('***/x', 'x')).toBe(true);
    expect(matches('***/x', 'a/b/x')).toBe(true);
    expect(matches('a**/**', 'a')).toBe(true);
    expect(matches('**', 'line\nbreak/and more')).toBe(true);
    expect(matches('*', 'é😀')).toBe(true);
  });

  it('answers a pattern built to make a backtracking regex explode, on a long resource', () => {
    const planted = `${'**a'.repeat(MAX_GLOB_WILDCARDS / 2)}!`;
    const resource = 'a'.repeat(4096);
    const g = compileGlob(planted);
    for (let i = 0; i < 50; i++) expect(matchesGlob(g, resource)).toBe(false);
    expect(matchesGlob(g, `${resource}!`)).toBe(true);
  });
});

describe('globToClickHouseRegex', () => {
  it('builds the RE2 expression of each element, escaping everything else', () => {
    expect(globToClickHouseRegex('buckets/logs/**')).toBe('^buckets/logs(?:/.*)?$');
    expect(globToClickHouseRegex('**/a*.b')).toBe('^(?:.*/)?a[^/]*\\.b$');
    expect(globToClickHouseRegex('a**b(c)')).toBe('^a.*b\\(c\\)$');
  });
});

describe('globProblem', () => {
  it('accepts ordinary patterns', () => {
    expect(globProblem('repos/acme/**')).toBeUndefined();
    expect(globProblem('x'.repeat(MAX_GLOB_LENGTH))).toBeUndefined();
  });

  it('refuses a pattern too long, with too many wildcards, or with a control character', () => {
    expect(globProblem('x'.repeat(MAX_GLOB_LENGTH + 1))).toBe(
      `is ${MAX_GLOB_LENGTH + 1} characters long; at most ${MAX_GLOB_LENGTH} are allowed`,
    );
    expect(globProblem('*'.repeat(MAX_GLOB_WILDCARDS + 1))).toBe(
      `has ${MAX_GLOB_WILDCARDS + 1} wildcards (*); at most ${MAX_GLOB_WILDCARDS} are allowed`,
    );
    expect(globProblem('a\u0000b')).toBe('contains a control character');
  });
});

describe('matchesAnyGlob', () => {
  it('is true when one pattern matches, and when there is no restriction', () => {
    expect(matchesAnyGlob('repos/acme/api', ['buckets/**', 'repos/acme/*'])).toBe(true);
    expect(matchesAnyGlob('repos/other/api', ['buckets/**', 'repos/acme/*'])).toBe(false);
    expect(matchesAnyGlob('anything', [])).toBe(true);
    expect(anyGlobMatcher(['a/*', 'b/**'])('b/c/d')).toBe(true);
  });
});
