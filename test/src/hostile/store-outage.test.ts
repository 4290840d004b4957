import { rootLogger } from '@intentwatch/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sender, faultInjector, openStore, reconcile, startCollector, storedSpanIds, until } from './support.js';

// The collector in this process, over the real embedded store behind a fault injector: during
// sustained ingest the store refuses inserts, then stalls (senders time out and retry, rows pile
// up to the pending limit), then commits but loses its answer. Every span a sender saw
// acknowledged must be stored; with senders that retry until acknowledged, the stored set equals
// the acknowledged set (duplicates from retried requests are allowed: OTLP is at-least-once).

let t: Awaited<ReturnType<typeof openStore>>;

beforeAll(async () => {
  // Every refused batch is logged at warn; hundreds of expected lines would bury a real failure.
  rootLogger().level = 'silent';
  t = await openStore({ INTENTWATCH_MAX_PENDING_ROWS: '1000', INTENTWATCH_BATCH_MS: '20' });
});

afterAll(async () => {
  await t?.dispose();
});

describe('Collector when the store fails during sustained ingest', () => {
  it('acknowledges only committed spans: after refusals, stalls, lost answers and sender timeouts, stored equals acknowledged', async () => {
    const faults = faultInjector(t.store);
    const { collector, url } = await startCollector(faults.store, t.config);
    const sender = new Sender({ url, run: 'outage', spansPerRequest: 50, concurrency: 4, timeoutMs: 500 }).start();
    const progress = async (more: number) => {
      const from = sender.acknowledged.size;
      await until(`${more} more acknowledged spans`, () => sender.acknowledged.size >= from + more);
    };
    try {
      await progress(400);

      faults.set('refuse');
      await until('refused inserts answered 503', () => sender.count('503') >= 10);
      faults.set(undefined);
      await progress(400);

      faults.set('stall');
      await until('senders timing out and the collector refusing with 429', () => sender.count('timeout') >= 4 && sender.count('429') >= 1);
      faults.set(undefined);
      await progress(400);

      const before503 = sender.count('503');
      faults.set('lose-answer');
      await until('committed-but-unanswered inserts answered 503', () => sender.count('503') >= before503 + 5);
      faults.set(undefined);
      await progress(400);
    } finally {
      await sender.stop();
      await collector.close();
    }

    const result = reconcile(sender, await storedSpanIds(t.store, 'outage'));
    console.info('store outage:', JSON.stringify({ ...result, insertFaults: faults.insertFaults }));
    expect(result.lost).toBe(0);
    expect(result.unknown).toBe(0);
    expect(result.storedDistinct).toBe(result.acknowledged);
    expect(result.acknowledged).toBeGreaterThanOrEqual(1600);
    // The faults really happened, and some retried requests had been committed before their answer was lost.
    expect(faults.insertFaults.refused).toBeGreaterThan(0);
    expect(faults.insertFaults.stalled).toBeGreaterThan(0);
    expect(faults.insertFaults.lostAnswers).toBeGreaterThan(0);
    expect(result.duplicates).toBeGreaterThan(0);
  });

  it('answers 503 with Retry-After to every request while the store refuses, and 200 again once it is back', async () => {
    const faults = faultInjector(t.store);
    const { collector, url } = await startCollector(faults.store, t.config);
    const body = JSON.stringify({ resourceSpans: [] });
    try {
      faults.set('refuse');
      const sender = new Sender({ url, run: 'refused', spansPerRequest: 5, concurrency: 2 }).start();
      await until('ten refusals', () => sender.count('503') >= 10);
      sender.abandonNow();
      await sender.stop({ abandon: true });
      expect(sender.acknowledged.size).toBe(0);
      expect([...sender.outcomes.keys()]).toEqual(['503']);
      const res = await fetch(`${url}/v1/traces`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{}] }] }] }),
      });
      // A request whose every span is malformed needs no insert: it is answered without the store.
      expect(res.status).toBe(200);
      faults.set(undefined);
      expect((await fetch(`${url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).status).toBe(200);
      expect(await storedSpanIds(t.store, 'refused')).toEqual([]);
    } finally {
      await collector.close();
    }
  });
});
