import type { SpanRow } from '@intentwatch/core';
import { describe, expect, it } from 'vitest';
import { mergeUsageCounts, usageCountsOf } from './usage-counts.js';

function use(token: string, agent: string, time: string, target: string, ingestedAt = '2026-12-03T10:00:05.000Z'): SpanRow {
  return { token_id: token, agent_id: agent, time, target, ingested_at: ingestedAt } as SpanRow;
}

const sorted = <T extends { token_id: string; second: string }>(rows: T[]) =>
  [...rows].sort((a, b) => (a.token_id + a.second < b.token_id + b.second ? -1 : 1));

describe('usageCountsOf', () => {
  it('counts the token uses of each agent, token and second, with their distinct targets and first ingestion', () => {
    const rows = usageCountsOf([
      use('tok-1', 'agent-a', '2026-12-03T10:00:00.100000000Z', 'gcs', '2026-12-03T10:00:05.300Z'),
      use('tok-1', 'agent-a', '2026-12-03T10:00:00.900000000Z', 'gcs', '2026-12-03T10:00:05.100Z'),
      use('tok-1', 'agent-a', '2026-12-03T10:00:00.950000000Z', 'bigquery'),
      use('tok-1', 'agent-a', '2026-12-03T10:00:01.000000000Z', 'gcs'),
      use('tok-2', '', '2026-12-03T10:00:00.500000000Z', 'iam'),
      // Not token uses: context spans.
      use('', 'agent-a', '2026-12-03T10:00:00.500000000Z', 'llm'),
    ]);
    expect(sorted(rows)).toEqual([
      {
        agent_id: 'agent-a',
        token_id: 'tok-1',
        second: '2026-12-03T10:00:00Z',
        requests: 3,
        targets: ['gcs', 'bigquery'],
        ingested_from: '2026-12-03T10:00:05.000Z',
      },
      {
        agent_id: 'agent-a',
        token_id: 'tok-1',
        second: '2026-12-03T10:00:01Z',
        requests: 1,
        targets: ['gcs'],
        ingested_from: '2026-12-03T10:00:05.000Z',
      },
      {
        agent_id: '',
        token_id: 'tok-2',
        second: '2026-12-03T10:00:00Z',
        requests: 1,
        targets: ['iam'],
        ingested_from: '2026-12-03T10:00:05.000Z',
      },
    ]);
  });

  it('leaves out uses dated before 1970 or after 2105, which no usage bucket holds', () => {
    expect(
      usageCountsOf([
        use('tok-1', 'agent-a', '2200-01-01T00:00:00.000000000Z', 'gcs'),
        use('tok-1', 'agent-a', '1969-12-31T23:59:59.000000000Z', 'gcs'),
        use('tok-1', 'agent-a', 'not a time', 'gcs'),
      ]),
    ).toEqual([]);
  });

  it('keeps agents and tokens apart whatever characters their names hold', () => {
    const rows = usageCountsOf([
      use('b', 'a', '2026-12-03T10:00:00.000000000Z', 'x'),
      use('', 'ab', '2026-12-03T10:00:00.000000000Z', 'x'),
      use('ab', '', '2026-12-03T10:00:00.000000000Z', 'x'),
      use('b\u00002026', 'a', '2026-12-03T10:00:00.000000000Z', 'x'),
    ]);
    expect(rows.map((r) => [r.agent_id, r.token_id, r.requests])).toEqual([
      ['a', 'b', 1],
      ['', 'ab', 1],
      ['a', 'b\u00002026', 1],
    ]);
  });
});

describe('mergeUsageCounts', () => {
  it('adds the rows of the same agent, token and second from several requests', () => {
    const a = usageCountsOf([use('tok-1', 'agent-a', '2026-12-03T10:00:00.100000000Z', 'gcs', '2026-12-03T10:00:06.000Z')]);
    const b = usageCountsOf([
      use('tok-1', 'agent-a', '2026-12-03T10:00:00.200000000Z', 'iam', '2026-12-03T10:00:05.000Z'),
      use('tok-9', 'agent-a', '2026-12-03T10:00:00.200000000Z', 'iam'),
    ]);
    expect(sorted(mergeUsageCounts([a, b]))).toEqual([
      {
        agent_id: 'agent-a',
        token_id: 'tok-1',
        second: '2026-12-03T10:00:00Z',
        requests: 2,
        targets: ['gcs', 'iam'],
        ingested_from: '2026-12-03T10:00:05.000Z',
      },
      {
        agent_id: 'agent-a',
        token_id: 'tok-9',
        second: '2026-12-03T10:00:00Z',
        requests: 1,
        targets: ['iam'],
        ingested_from: '2026-12-03T10:00:05.000Z',
      },
    ]);
  });
});
