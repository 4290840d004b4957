import { createServer } from 'node:http';
import { Store } from '@intentwatch/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RpcStatus } from './otlp/proto.js';
import type { Collector } from './server.js';
import { collectorConfig, hex, otlpJson, postJson, postProtobuf, startCollector, toProtobuf } from '@intentwatch/testkit/collector';
import { openTestStore } from '@intentwatch/testkit';

// Its own file (and so its own process): it closes the store under a running collector.
let t: Awaited<ReturnType<typeof openTestStore>>;

beforeAll(async () => {
  t = await openTestStore({}, { serverFromEnv: true });
});

afterAll(async () => {
  await t?.dispose();
});

describe('Collector when the store is unavailable', () => {
  it('answers 503 with Retry-After and acknowledges nothing, in JSON and in protobuf', async () => {
    const { collector, url } = await startCollector(t.store);
    const traceId = hex(16);
    const body = otlpJson({}, [{ traceId, attributes: { 'token.id': 'lost?' } }]);
    try {
      await t.store.close();
      const json = await postJson(`${url}/v1/traces`, body);
      expect(json.status).toBe(503);
      expect(Number(json.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(json.json()).toMatchObject({
        error: { code: 'store_unavailable', message: expect.stringMatching(/nothing was stored, retry/) },
        code: 14,
      });

      const pb = await postProtobuf(`${url}/v1/traces`, toProtobuf(body));
      expect(pb.status).toBe(503);
      expect(pb.headers.get('retry-after')).toBeTruthy();
      expect(RpcStatus.toObject(RpcStatus.decode(pb.bytes))).toMatchObject({ code: 14 });

      const events = await postJson(`${url}/v1/token-events`, [{ 'token.event': 'revoked', 'token.id': 'lost?' }]);
      expect(events.status).toBe(503);
      expect(events.headers.get('retry-after')).toBeTruthy();
    } finally {
      await collector.close();
    }
    // The same data dir, opened again: the refused request left no row behind.
    t.store = await t.reopen();
    const rows = await t.store.query('SELECT count() AS c FROM spans WHERE trace_id = {t:String}', { t: traceId });
    expect(rows).toEqual([{ c: '0' }]);
  });

  it('answers 503 with Retry-After when the ClickHouse server stops answering', async () => {
    // Something that answers like a server while the store opens, then goes away.
    const server = createServer((_req, res) => res.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const remote = await Store.open({
      dataDir: t.dataDir,
      database: 'iw',
      clickhouse: { url: `http://127.0.0.1:${port}`, database: 'iw' },
    });
    await new Promise<void>((resolve) => server.close(() => resolve()));
    let collector: Collector | undefined;
    try {
      const started = await startCollector(remote, collectorConfig());
      collector = started.collector;
      const res = await postJson(`${started.url}/v1/traces`, otlpJson({}, [{ attributes: { 'token.id': 't' } }]));
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      expect(res.json().error.code).toBe('store_unavailable');
      expect(await remote.ping()).toBe(false);
    } finally {
      await collector?.close();
      await remote.close();
    }
  });
});
