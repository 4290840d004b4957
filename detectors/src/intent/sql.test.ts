import { globToClickHouseRegex, matchesGlob } from '@intentwatch/core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestStore, openTestStore } from '@intentwatch/testkit';
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

  it('matches exactly what the JavaScript matcher (matchesGlob) matches, for any pattern and path', async () => {
    const piece = fc.constantFrom('a', 'b', '/', '*', '**', '**/', '/**', '.', '-', '+', '(', '[', '\\', '$', '?', '{', '|', 'é', '😀');
    const pattern = fc.array(piece, { maxLength: 10 }).map((p) => p.join(''));
    const path = fc
      .array(fc.constantFrom('a', 'b', '/', '//', '.', '-', '+', '(', '[', '\\', '$', 'ab/', '\n', 'é', '😀', '*'), { maxLength: 12 })
      .map((p) => p.join(''));
    const runs = Number(process.env.FUZZ_RUNS ?? 3000);
    const pairs = fc.sample(fc.tuple(pattern, path), { numRuns: runs, seed: Number(process.env.FUZZ_SEED ?? 42) });
    const sql = await matchInSql(pairs);
    const mismatches = pairs.filter(([p, s], i) => matchesGlob(p, s) !== sql[i]);
    expect(mismatches).toEqual([]);
    // The expression built in JavaScript (for reading, and for queries with a constant pattern) is the same.
    const built = pairs.slice(0, 500);
    const [row] = await t.store.query<{ same: number }>(
      `SELECT arrayAll((p, re) -> ${globRegexSql('p')} = re, {patterns:Array(String)}, {res:Array(String)}) AS same`,
      { patterns: built.map((b) => b[0]), res: built.map((b) => globToClickHouseRegex(b[0])) },
    );
    expect(Number(row?.same)).toBe(1);
  });

  it('finds a mismatch when there is one (the comparison can fail)', async () => {
    const [m] = await matchInSql([['a/*', 'a/b/c']]);
    expect(m).toBe(false);
    expect(matchesGlob('a/**', 'a/b/c')).not.toBe(m);
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
