import { msToRfc3339 } from '@intentwatch/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROW_FORMAT, TABLE_ENCODINGS, encodeRows, joinLines } from './row-serializer.js';
import type { SpanRow, TokenEventRow } from './rows.js';
import { hex } from '@intentwatch/testkit/collector';
import { type TestStore, openTestStore } from '@intentwatch/testkit';

let t: TestStore;

beforeAll(async () => {
  t = await openTestStore({}, { serverFromEnv: true });
});

afterAll(async () => {
  await t?.dispose();
});

function spanRow(traceId: string, over: Partial<SpanRow> = {}): SpanRow {
  const at = msToRfc3339(Date.UTC(2026, 10, 25, 10, 0, 0, 123));
  return {
    time: '2026-11-25T10:00:00.123456789Z',
    end_time: '2026-11-25T10:00:00.2Z',
    ingested_at: at,
    trace_id: traceId,
    span_id: hex(8),
    parent_span_id: '',
    name: 'GET /repos/{owner}/{repo}',
    kind: 3,
    status_code: 2,
    token_id: 'sha256:abc',
    task_id: 'task-1',
    agent_id: 'agent-a',
    workload_id: 'spiffe://x/agent-a',
    caller: 'agent-a',
    target: 'api.github.com',
    action: 'github.get_file',
    environment: 'production',
    scopes: ['repo:read', 'contents:read'],
    resource: 'org/repo/src/a.ts',
    resource_raw: '',
    tool: 'github.get_file',
    scope_name: 'bench',
    attributes: { 'token.id': 'sha256:abc', 'quote"and\\back': 'line\nbreak\ttab \u2028 ünïcode 🚀' },
    resource_attributes: { 'service.name': 'agent-a' },
    dropped_attributes: 4,
    ...over,
  };
}

async function insert<K extends keyof typeof TABLE_ENCODINGS>(key: K, rows: object[]): Promise<void> {
  const e = TABLE_ENCODINGS[key];
  await t.store.insertFormatted(e.table, e.columns, ROW_FORMAT, joinLines([encodeRows(e, rows)]));
}

describe('row serializer', () => {
  it('names only columns that exist in the tables it writes', async () => {
    for (const e of Object.values(TABLE_ENCODINGS)) {
      const rows = await t.store.query<{ name: string }>(
        'SELECT name FROM system.columns WHERE database = currentDatabase() AND table = {t:String}',
        {
          t: e.table,
        },
      );
      expect(rows.map((r) => r.name)).toEqual(expect.arrayContaining([...e.columns]));
    }
  });

  it('stores span rows exactly, including maps, arrays and text that JSON must escape', async () => {
    const traceId = hex(16);
    const row = spanRow(traceId);
    await insert('spans', [row]);
    const [back] = await t.store.query<Record<string, unknown>>(
      `SELECT * EXCEPT (ingested_at, time, end_time), toUnixTimestamp64Nano(time) AS t_ns, end_time FROM spans WHERE trace_id = {t:String}`,
      { t: traceId },
    );
    const { time: _t, end_time: _e, ingested_at: _i, ...rest } = row;
    expect(back).toMatchObject({ ...rest, t_ns: '1795600800123456789', end_time: '2026-11-25T10:00:00.200000000Z' });
  });

  it('writes the rows of several requests as one insert', async () => {
    const traceId = hex(16);
    const e = TABLE_ENCODINGS.spans;
    const body = joinLines([encodeRows(e, [spanRow(traceId), spanRow(traceId)]), encodeRows(e, [spanRow(traceId)])]);
    await t.store.insertFormatted(e.table, e.columns, ROW_FORMAT, body);
    const [c] = await t.store.query<{ c: string }>('SELECT count() AS c FROM spans WHERE trace_id = {t:String}', { t: traceId });
    expect(c?.c).toBe('3');
  });

  it('gives a missing value its column default and keeps null in Nullable columns', async () => {
    const traceId = hex(16);
    await insert('spans', [{ time: '2026-11-25T10:00:00Z', ingested_at: '2026-11-25T10:00:00Z', trace_id: traceId, span_id: hex(8) }]);
    const [span] = await t.store.query<Record<string, unknown>>(
      'SELECT token_id, scopes, attributes, kind FROM spans WHERE trace_id = {t:String}',
      {
        t: traceId,
      },
    );
    expect(span).toEqual({ token_id: '', scopes: [], attributes: {}, kind: 0 });

    const tokenId = `tok-${hex(8)}`;
    const event: Partial<TokenEventRow> = {
      time: '2026-11-25T10:00:00Z',
      ingested_at: '2026-11-25T10:00:00Z',
      event: 'issued',
      token_id: tokenId,
      expires_at: null,
      max_session_s: null,
      audience: ['a', 'b'],
    };
    await insert('tokenEvents', [event]);
    const [back] = await t.store.query<Record<string, unknown>>(
      'SELECT expires_at, max_session_s, audience, source FROM token_events WHERE token_id = {t:String}',
      { t: tokenId },
    );
    expect(back).toEqual({ expires_at: null, max_session_s: null, audience: ['a', 'b'], source: '' });
  });

  it('fails the whole insert, storing nothing, when a row does not fit its columns', async () => {
    const traceId = hex(16);
    const bad = { ...spanRow(traceId), kind: 'not a number' as unknown as number };
    await expect(insert('spans', [spanRow(traceId), bad])).rejects.toMatchObject({ name: 'StoreError' });
    const [c] = await t.store.query<{ c: string }>('SELECT count() AS c FROM spans WHERE trace_id = {t:String}', { t: traceId });
    expect(c?.c).toBe('0');
  });
});
