import { HttpError, type Store, msToRfc3339 } from '@intentwatch/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchWriter } from './batch-writer.js';
import { type RowBatch, emptyBatch } from './rows.js';
import { hex } from '@intentwatch/testkit/collector';
import { openTestStore } from '@intentwatch/testkit';

let store: Store;
let dispose: () => Promise<void>;

beforeAll(async () => {
  ({ store, dispose } = await openTestStore({}, { serverFromEnv: true }));
});

afterAll(async () => {
  await dispose?.();
});

/** `n` minimal span rows of one trace. */
function spans(traceId: string, n: number): RowBatch {
  const batch = emptyBatch();
  const now = msToRfc3339(Date.now());
  for (let i = 0; i < n; i++) {
    batch.spans.push({ time: now, ingested_at: now, trace_id: traceId, span_id: String(i) } as RowBatch['spans'][number]);
  }
  return batch;
}

const stored = async (traceId: string) =>
  Number((await store.query<{ c: string }>('SELECT count() AS c FROM spans WHERE trace_id = {t:String}', { t: traceId }))[0]?.c);

describe('BatchWriter', () => {
  it('resolves each of many concurrent writes only once its own rows are committed', async () => {
    const writer = new BatchWriter(store, { batchRows: 1000, batchMs: 20 });
    const traces = Array.from({ length: 20 }, () => hex(16));
    const seen = await Promise.all(traces.map((traceId) => writer.write(spans(traceId, 50)).then(() => stored(traceId))));
    expect(seen).toEqual(traces.map(() => 50));
    expect(writer.pendingRows).toBe(0);
    await writer.close();
  });

  it("stores the other requests of a batch the store refused for one request's rows, and answers that one 400", async () => {
    const writer = new BatchWriter(store, { batchRows: 100_000, batchMs: 50 });
    const good = Array.from({ length: 5 }, () => hex(16));
    const badTrace = hex(16);
    const bad = spans(badTrace, 3);
    // A row the normaliser would never build: a time the store cannot parse.
    (bad.spans[1] as { time: string }).time = 'not a time';
    const results = await Promise.allSettled([...good.map((t) => writer.write(spans(t, 10))), writer.write(bad)]);
    expect(results.slice(0, 5).map((r) => r.status)).toEqual(Array(5).fill('fulfilled'));
    expect(await Promise.all(good.map(stored))).toEqual(Array(5).fill(10));
    const refused = results[5];
    expect(refused?.status).toBe('rejected');
    expect((refused as PromiseRejectedResult).reason).toMatchObject({ status: 400, code: 'rows_refused' });
    expect(await stored(badTrace)).toBe(0);
    await writer.close();
  });

  it('stores requests small and large batched together, and refuses 400 the large one whose values cannot be stored', async () => {
    const writer = new BatchWriter(store, { batchRows: 100_000, batchMs: 50 });
    const small = hex(16);
    const large = hex(16);
    const badTrace = hex(16);
    const bad = spans(badTrace, 600);
    (bad.spans[599] as { time: string }).time = 'not a time';
    const results = await Promise.allSettled([writer.write(spans(small, 5)), writer.write(spans(large, 2500)), writer.write(bad)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    expect((results[2] as PromiseRejectedResult).reason).toMatchObject({ status: 400, code: 'rows_refused' });
    expect([await stored(small), await stored(large), await stored(badTrace)]).toEqual([5, 2500, 0]);
    await writer.close();
  });

  it("commits a low-volume table's waiting rows with the next batch of a busy table, not after its own wait", async () => {
    // Without the ride-along the lifecycle event would wait out batchMs: ten minutes here.
    const writer = new BatchWriter(store, { batchRows: 10, batchMs: 600_000 });
    const token = `tok-${hex(8)}`;
    const event = emptyBatch();
    const now = msToRfc3339(Date.now());
    event.tokenEvents.push({ time: now, ingested_at: now, event: 'granted', token_id: token } as RowBatch['tokenEvents'][number]);
    let eventCommitted = false;
    const eventWrite = writer.write(event).then(() => {
      eventCommitted = true;
    });
    const traceId = hex(16);
    await writer.write(spans(traceId, 10));
    await eventWrite;
    expect(eventCommitted).toBe(true);
    expect(await stored(traceId)).toBe(10);
    const events = await store.query<{ c: string }>('SELECT count() AS c FROM token_events WHERE token_id = {t:String}', { t: token });
    expect(Number(events[0]?.c)).toBe(1);
    await writer.close();
  });

  it('counts the token uses of the spans it commits into usage_counts, and none of a request the store refused', async () => {
    const writer = new BatchWriter(store, { batchRows: 100_000, batchMs: 50 });
    const second = Math.floor(Date.now() / 1000) * 1000;
    const uses = (token: string, n: number, target: string): RowBatch => {
      const batch = spans(hex(16), n);
      for (const [i, row] of batch.spans.entries()) {
        Object.assign(row, { token_id: token, agent_id: 'agent-counted', target, time: msToRfc3339(second + i) });
      }
      return batch;
    };
    const good = `tok-${hex(8)}`;
    const refusedToken = `tok-${hex(8)}`;
    const bad = uses(refusedToken, 3, 'gcs');
    (bad.spans[1] as { time: string }).time = 'not a time';
    const results = await Promise.allSettled([writer.write(uses(good, 4, 'gcs')), writer.write(uses(good, 2, 'iam')), writer.write(bad)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    const counted = await store.query<{ token_id: string; requests: string; targets: string[] }>(
      `SELECT token_id, sum(requests) AS requests, arraySort(groupUniqArrayArray(targets)) AS targets FROM usage_counts
       WHERE token_id IN ({good:String}, {bad:String}) GROUP BY token_id`,
      { good, bad: refusedToken },
    );
    expect(counted).toEqual([{ token_id: good, requests: '6', targets: ['gcs', 'iam'] }]);
    await writer.close();
  });

  it('refuses with 429 and Retry-After while too many rows wait for the store', async () => {
    const writer = new BatchWriter(store, { batchRows: 100_000, batchMs: 50, maxPendingRows: 1000 });
    const traceId = hex(16);
    const first = writer.write(spans(traceId, 800));
    const refused = await writer.write(spans(traceId, 300)).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(HttpError);
    expect(refused).toMatchObject({ status: 429, headers: { 'Retry-After': '1' } });
    await first;
    expect(await stored(traceId)).toBe(800);
    await writer.close();
  });

  it('accepts one request larger than the pending limit when nothing waits, so that it is not refused forever', async () => {
    const writer = new BatchWriter(store, { batchRows: 100_000, batchMs: 20, maxPendingRows: 1000 });
    const traceId = hex(16);
    await writer.write(spans(traceId, 1500));
    expect(await stored(traceId)).toBe(1500);
    await writer.close();
  });

  it('flushes what waits on close and then refuses new writes with 503', async () => {
    const writer = new BatchWriter(store, { batchRows: 100_000, batchMs: 60_000 });
    const traceId = hex(16);
    const pending = writer.write(spans(traceId, 10));
    await writer.close();
    await pending;
    expect(await stored(traceId)).toBe(10);
    await expect(writer.write(spans(traceId, 1))).rejects.toMatchObject({ status: 503, code: 'shutting_down' });
  });
});
