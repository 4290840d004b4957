import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { Store } from '@intentwatch/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Collector } from './server.js';
import { collectorConfig, hex, otlpJson, postJson, startCollector } from '@intentwatch/testkit/collector';
import { openTestStore } from '@intentwatch/testkit';

// The collector on the embedded store, end to end over HTTP: its rows go to the engine as Native
// blocks through a file (Store.insertNative).

let store: Store;
let dispose: () => Promise<void>;
let collector: Collector;
let base: string;

beforeAll(async () => {
  ({ store, dispose } = await openTestStore());
  // Requests arriving within 300 ms share one insert, so that one refused request is batched with others.
  ({ collector, url: base } = await startCollector(store, collectorConfig({ INTENTWATCH_BATCH_MS: '300' })));
});

afterAll(async () => {
  await collector?.close();
  await dispose?.();
});

const FILE_BASE = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
const insertFiles = () =>
  readdirSync(FILE_BASE)
    .filter((d) => d.startsWith(`intentwatch-insert-${process.pid}-`))
    .flatMap((d) => readdirSync(`${FILE_BASE}/${d}`));

const spansOf = (traceId: string) =>
  store.query<Record<string, unknown>>('SELECT * FROM spans WHERE trace_id = {t:String} ORDER BY span_id', { t: traceId });

describe('collector on the embedded store (Native inserts)', () => {
  it('stores spans with every field as sent, through a Native insert', async () => {
    expect(store.nativeInsert).toBe(true);
    const traceId = hex(16);
    const body = otlpJson({ 'service.name': 'agent-a', 'deployment.environment.name': 'production' }, [
      {
        traceId,
        start: 1_795_687_200_123_456_789n,
        end: 1_795_687_200_223_456_789n,
        attributes: { 'token.id': 'tok-1', 'token.scope': ['repo:read', 'a\n\nb'], 'url.path': '/x', quote: 'say "hi"\\ 🚀' },
      },
      { traceId, attributes: { 'token.id': 'tok-2' } },
    ]);
    expect((await postJson(`${base}/v1/traces`, body)).status).toBe(200);
    const rows = await spansOf(traceId);
    expect(rows).toHaveLength(2);
    expect(rows.find((r) => r.token_id === 'tok-1')).toMatchObject({
      time: '2026-11-26T10:00:00.123456789Z',
      end_time: '2026-11-26T10:00:00.223456789Z',
      caller: 'agent-a',
      environment: 'production',
      scopes: ['repo:read', 'a\n\nb'],
      attributes: expect.objectContaining({ quote: 'say "hi"\\ 🚀' }),
      resource_attributes: { 'service.name': 'agent-a', 'deployment.environment.name': 'production' },
    });
    expect(insertFiles()).toEqual([]);
  });

  it("stores the other requests of a batch the engine refused for one request's rows, and answers that one 400", async () => {
    // A rule of the table that one request breaks: the engine refuses the whole batch for it.
    await store.command("ALTER TABLE spans ADD CONSTRAINT no_poison CHECK name != 'poison'");
    try {
      const good = Array.from({ length: 4 }, () => hex(16));
      const badTrace = hex(16);
      const send = (traceId: string, name: string) =>
        postJson(`${base}/v1/traces`, otlpJson({ 'service.name': 'agent-b' }, [{ traceId, name, attributes: { 'token.id': 't' } }]));
      const answers = await Promise.all([...good.map((t) => send(t, 'fine')), send(badTrace, 'poison')]);
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 400]);
      expect(answers[4]?.json()).toMatchObject({ error: { code: 'rows_refused' } });
      expect(await Promise.all(good.map(async (t) => (await spansOf(t)).length))).toEqual([1, 1, 1, 1]);
      expect(await spansOf(badTrace)).toEqual([]);
      expect(insertFiles()).toEqual([]);
    } finally {
      await store.command('ALTER TABLE spans DROP CONSTRAINT no_poison');
    }
  });
});
