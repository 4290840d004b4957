import { randomBytes, randomUUID } from 'node:crypto';
import { type Server, createServer } from 'node:http';
import { decodeJwt } from 'jose';
import type { Store } from '@intentwatch/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type AlertSource, AlertStore } from '@intentwatch/alerts';
import { type StoreFor, eventually, openTestStore } from '@intentwatch/testkit';
import { BullmqDeliveryQueue } from '../bullmq-delivery-queue.js';
import { Responder } from '../responder.js';
import { CAEP_RISK_LEVEL_CHANGE, PUSH_METHOD } from './ssf-events.js';
import { SsfTransmitter } from './ssf-transmitter.js';
import { SlowWrite, finding } from '../../testing/ssf-race.js';
import { composeSettings, coreSettings } from '@intentwatch/core';
import { responderSettings } from '../settings.js';

/** A Redis this run provides (test/src/prerequisites/global-setup.ts); empty when there is none, and then these tests are skipped. */
const REDIS_URL = process.env.INTENTWATCH_TEST_REDIS_URL ?? '';
const SOURCE: AlertSource = { id: 'cross_service_reuse', title: 'Token reused outside its audience', frameworks: [] };
const AUD = 'https://receiver.example.test/two-workers';

/** The settings the responders read, over the core ones. */
const SETTINGS = composeSettings(coreSettings, responderSettings);
let ts: StoreFor<typeof SETTINGS>;
let receiver: Server;
let endpoint: string;
const prefix = `iwtest-ssfheld-${randomUUID().slice(0, 8)}`;
const received: string[] = [];
const closing: (() => Promise<void>)[] = [];

beforeAll(async () => {
  ts = await openTestStore(
    {
      REDIS_URL,
      INTENTWATCH_WEBHOOK_ALLOW: '127.0.0.1/32',
      INTENTWATCH_RESPONDER_POLL_MS: '25',
      INTENTWATCH_SECRETS_KEY: randomBytes(32).toString('base64'),
      INTENTWATCH_SSF_ISSUER: 'https://intentwatch.example.test',
    },
    { settings: SETTINGS },
  );
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push(Buffer.concat(chunks).toString('utf8'));
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/events`;
});

afterEach(async () => {
  for (const c of closing.splice(0).reverse()) await c();
});

afterAll(async () => {
  if (REDIS_URL) {
    const q = new BullmqDeliveryQueue({ redisUrl: REDIS_URL, prefix });
    await q.obliterate();
    const keys = await q.redis.keys(`${prefix}:*`);
    if (keys.length > 0) await q.redis.del(...keys);
    await q.close();
  }
  receiver?.closeAllConnections();
  await new Promise<void>((r) => (receiver ? receiver.close(() => r()) : r()));
  await ts?.dispose();
});

/** A worker process: a transmitter and the responder that drives it, on BullMQ (the configuration names REDIS_URL). */
async function worker(store: Store = ts.store): Promise<{ ssf: SsfTransmitter; responder: Responder }> {
  const ssf = await SsfTransmitter.open({ store, config: ts.config });
  if (!ssf) throw new Error('the configuration has a secrets key');
  const responder = await Responder.open({ store, config: ts.config, channels: [ssf], redisPrefix: prefix, lagMs: 1000 });
  closing.push(() => responder.close());
  await responder.start();
  return { ssf, responder };
}

// Its own file (its own store, no alerts of other tests waiting): a responder started here reads
// only the alerts this test records.
describe.skipIf(!REDIS_URL)('a Shared Signals transmitter whose stream another process enables', () => {
  it('sends the SETs a process held for a paused stream that another process enabled meanwhile', async () => {
    const a = await worker();
    const slow = new SlowWrite(ts.store, 'held');
    const aud = `${AUD}/enabled-meanwhile`;
    const stream = await a.ssf.createStream(
      { aud, events_requested: [CAEP_RISK_LEVEL_CHANGE], delivery: { method: PUSH_METHOD, endpoint_url: endpoint } },
      'test',
    );
    await a.ssf.setStatus(stream.streamId, 'paused', 'before the alerts', 'test');
    // A alone knows the stream; B starts after the pause and is slow to save the SETs it holds.
    await a.responder.close();
    const reached = slow.close();
    const b = await worker(slow.store);
    const n = 5;
    await new AlertStore(ts.store).record(
      SOURCE,
      Array.from({ length: n }, (_, i) => finding(i, 'meanwhile')),
    );
    await reached;
    // The stream is enabled while B's SETs are signed as held but not yet saved: the release finds none.
    await b.ssf.setStatus(stream.streamId, 'enabled', '', 'test');
    slow.open();
    const mine = () =>
      received.map((set) => decodeJwt(set)).filter((c) => c.aud === aud && Object.keys(c.events as object)[0] === CAEP_RISK_LEVEL_CHANGE);
    const log = b.responder.deliveryLog;
    const policy = `ssf:${stream.streamId}`;
    const open = async () => (await Promise.all((['held', 'queued', 'retrying'] as const).map((st) => log.withStatus(policy, st)))).flat();
    const done = await eventually(
      async () => ({ open: await open(), got: mine().length }),
      (v) => v.open.length === 0 && v.got >= n,
      { timeoutMs: 30_000 },
    );
    expect(done.open.map((r) => `${r.dedupKey} ${r.status}`)).toEqual([]);
    expect(new Set(mine().map((c) => c.jti)).size).toBe(n);
  }, 90_000);
});
