import { type IncomingMessage, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Store } from '@intentwatch/core';
import { loadConfig } from '@intentwatch/cli';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

interface Received {
  query: string;
  settings: URLSearchParams;
}

/**
 * A ClickHouse server as the HTTP interface shows it to a client: every statement is answered
 * 200, and what each request asked for (its SQL and its settings, which travel as URL
 * parameters) is recorded. No ClickHouse server can run on the test machine; the client, its
 * HTTP requests and the settings it puts on the wire are the real ones.
 */
async function clickhouseInterface(): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://clickhouse');
      const query = url.searchParams.get('query') ?? Buffer.concat(chunks).toString('utf8');
      received.push({ query, settings: url.searchParams });
      res.setHeader('X-ClickHouse-Summary', '{"written_rows":"0"}');
      res.end(req.method === 'GET' ? 'Ok.\n' : '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received, server };
}

const open = (url: string, cluster?: string) =>
  Store.open(
    loadConfig(
      { CLICKHOUSE_URL: url, CLICKHOUSE_DATABASE: 'iw_cluster_test', ...(cluster ? { CLICKHOUSE_CLUSTER: cluster } : {}) },
      { dotenv: false },
    ),
  );

describe('inserts into a ClickHouse cluster', () => {
  let ch: Awaited<ReturnType<typeof clickhouseInterface>>;
  beforeAll(async () => {
    ch = await clickhouseInterface();
  });
  afterAll(async () => {
    await new Promise((r) => ch.server.close(r));
  });

  const inserts = () => ch.received.filter((r) => /^INSERT/i.test(r.query));

  it('ask every shard to commit before answering (distributed_foreground_insert=1 on each insert), whatever the server profile says', async () => {
    const store = await open(ch.url, 'intentwatch');
    ch.received.length = 0;
    await store.insertPartial('alerts', [{ id: 'a1' }]);
    await store.insertFormatted('spans', ['span_id'], 'JSONCompactEachRow', Buffer.from('["00f067aa0ba902b7"]\n'));
    await store.close();
    expect(inserts()).toHaveLength(2);
    for (const r of inserts()) expect(r.settings.get('distributed_foreground_insert'), r.query).toBe('1');
  });

  it('leave a single server to its own settings (no Distributed tables to wait for)', async () => {
    const store = await open(ch.url);
    ch.received.length = 0;
    await store.insertPartial('alerts', [{ id: 'a1' }]);
    await store.close();
    expect(inserts()).toHaveLength(1);
    expect(inserts()[0]?.settings.has('distributed_foreground_insert')).toBe(false);
  });
});
