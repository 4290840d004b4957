import { globToRegExp } from '@intentwatch/core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestStore, openTestStore } from '../test-support/store.js';
import { globRegexSql } from './sql.js';

describe('globRegexSql', () => {
  let t: TestStore;
  beforeAll(async () => {
    t = await openTestStore();
  });
  afterAll(async () => t?.dispose());

  /** Matches every (pattern, path) pair in ClickHouse, in one query. */
  const matchInSql = async (pairs: [string, string][]) =>
    (
      await t.store.query<{ m: number }>(
        `SELECT match(pair.2, ${globRegexSql('pair.1')}) AS m FROM (SELECT arrayJoin(arrayZip({patterns:Array(String)}, {paths:Array(String)})) AS pair)`,
        { patterns: pairs.map((p) => p[0]), paths: pairs.map((p) => p[1]) },
      )
    ).map((r) => Boolean(Number(r.m)));

  it('matches exactly what globToRegExp matches, for any pattern and path', async () => {
    const piece = fc.constantFrom('a', 'b', '/', '*', '**', '.', '-', '+', '(', '[', '\\', '$');
    const pattern = fc.array(piece, { maxLength: 8 }).map((p) => p.join(''));
    const path = fc
      .array(fc.constantFrom('a', 'b', '/', '.', '-', '+', '(', '[', '\\', '$', 'ab/'), { maxLength: 10 })
      .map((p) => p.join(''));
    const pairs = fc.sample(fc.tuple(pattern, path), { numRuns: 3000, seed: 42 });
    const sql = await matchInSql(pairs);
    const mismatches = pairs.filter(([p, s], i) => globToRegExp(p).test(s) !== sql[i]);
    expect(mismatches).toEqual([]);
  });

  it('follows the conventions: * within a segment, ** across segments, /** also matching none', async () => {
    const cases: [string, string, boolean][] = [
      ['repos/acme/*', 'repos/acme/api', true],
      ['repos/acme/*', 'repos/acme/api/issues', false],
      ['buckets/logs/**', 'buckets/logs', true],
      ['buckets/logs/**', 'buckets/logs/2026/11/a.gz', true],
      ['**/secrets.tf', 'secrets.tf', true],
      ['a.b', 'axb', false],
    ];
    expect(await matchInSql(cases.map(([p, s]) => [p, s]))).toEqual(cases.map((c) => c[2]));
  });
});
