import { randomBytes, randomUUID } from 'node:crypto';
import { type Server, createServer } from 'node:http';
import { decodeJwt } from 'jose';
import type { Store } from '@intentwatch/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type AlertSource, AlertStore } from '@intentwatch/alerts';
import { type StoreFor, eventually, openTestStore } from '@intentwatch/testkit';
import { BullmqDeliveryQueue } from '../bullmq-delivery-queue.js';
import { Responder } from '../responder.js';
import { CAEP_RISK_LEVEL_CHANGE, PUSH_METHOD, SSF_STREAM_UPDATED } from './ssf-events.js';
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
const prefix = `iwtest-ssf-${randomUUID().slice(0, 8)}`;
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

describe.skipIf(!REDIS_URL)('two Shared Signals transmitters on one store and one Redis', () => {
  it('send each SET once: an alert both workers see makes one SET, and held SETs both release when the stream is enabled go out once', async () => {
    const a = await worker();
    const b = await worker();
    expect(a.responder.queue).toBeInstanceOf(BullmqDeliveryQueue);
    const stream = await a.ssf.createStream(
      { aud: AUD, events_requested: [CAEP_RISK_LEVEL_CHANGE], delivery: { method: PUSH_METHOD, endpoint_url: endpoint } },
      'test',
    );
    const policy = `ssf:${stream.streamId}`;
    await a.ssf.setStatus(stream.streamId, 'paused', 'before the alerts', 'test');

    const n = 40;
    await new AlertStore(ts.store).record(
      SOURCE,
      Array.from({ length: n }, (_, i) => finding(i)),
    );
    // Both workers read the same changed alerts; the SETs are held while the stream is paused.
    const held = await eventually(
      () => a.responder.deliveryLog.withStatus(policy, 'held', 10_000),
      (h) => new Set(h.map((r) => r.alertId)).size === n,
      { timeoutMs: 30_000 },
    );
    expect(new Set(held.map((r) => r.alertId)).size).toBe(n);

    // Both processes enable the stream at once: each reads the held SETs and releases them.
    await Promise.all([
      a.ssf.setStatus(stream.streamId, 'enabled', '', 'test-a'),
      b.ssf.setStatus(stream.streamId, 'enabled', '', 'test-b'),
    ]);
    const open = async () =>
      (await Promise.all((['held', 'queued', 'retrying'] as const).map((s) => a.responder.deliveryLog.withStatus(policy, s)))).flat()
        .length;
    const risks = () => received.map((set) => decodeJwt(set)).filter((c) => Object.keys(c.events as object)[0] === CAEP_RISK_LEVEL_CHANGE);
    await eventually(
      async () => ({ open: await open(), got: risks().length }),
      (v) => v.open === 0 && v.got >= n,
      { timeoutMs: 30_000 },
    );
    const got = risks();
    const jtis = got.map((c) => c.jti as string);
    expect(new Set(jtis).size, 'a SET delivered twice').toBe(jtis.length);
    const alerts = got.map(
      (c) => (c.events as Record<string, { intentwatch: { alert_id: string } }>)[CAEP_RISK_LEVEL_CHANGE]?.intentwatch.alert_id,
    );
    expect(new Set(alerts).size).toBe(n);
    expect(alerts, 'two SETs for one alert').toHaveLength(n);
    // What the receiver got is what the audit trail calls delivered, each once.
    const delivered = (await a.responder.deliveryLog.withStatus(policy, 'delivered', 10_000)).filter((r) => r.dedupKey.startsWith('risk:'));
    expect(delivered.map((r) => r.webhookId).sort()).toEqual([...jtis].sort());
    // The one change both made is told once (SSF 1.0 §8.1.5 stream-updated).
    const told = received
      .map((set) => decodeJwt(set))
      .filter((c) => c.aud === AUD)
      .map((c) => (c.events as Record<string, { status?: string }>)[SSF_STREAM_UPDATED]?.status)
      .filter((st) => st !== undefined);
    expect(told).toEqual(['paused', 'enabled']);
  }, 90_000);

  it('never sends a SET again that a process released from a read made before another process released and delivered it', async () => {
    const a = await worker();
    const slow = new SlowWrite(ts.store, 'queued');
    const b = await worker(slow.store);
    const aud = `${AUD}/stale`;
    const stream = await a.ssf.createStream(
      { aud, events_requested: [CAEP_RISK_LEVEL_CHANGE], delivery: { method: PUSH_METHOD, endpoint_url: endpoint } },
      'test',
    );
    const policy = `ssf:${stream.streamId}`;
    await a.ssf.setStatus(stream.streamId, 'paused', 'before the alerts', 'test');
    const n = 10;
    await new AlertStore(ts.store).record(
      SOURCE,
      Array.from({ length: n }, (_, i) => finding(i, 'stale')),
    );
    await eventually(
      () => a.responder.deliveryLog.withStatus(policy, 'held', 10_000),
      (h) => new Set(h.map((r) => r.alertId)).size === n,
      { timeoutMs: 30_000 },
    );
    const log = a.responder.deliveryLog;
    const count = async (statuses: readonly ('held' | 'queued' | 'retrying')[]) =>
      (await Promise.all(statuses.map((st) => log.withStatus(policy, st)))).flat().length;

    // B enables the stream, reads the held SETs, and is slow to release them.
    const reached = slow.close();
    const bEnables = b.ssf.setStatus(stream.streamId, 'enabled', '', 'test-b');
    await reached;
    // Meanwhile A enables it too and releases what it finds held; whatever it releases goes out.
    await a.ssf.setStatus(stream.streamId, 'enabled', '', 'test-a');
    await eventually(
      () => count(['queued', 'retrying']),
      (open) => open === 0,
      { timeoutMs: 30_000 },
    );
    // B's release lands now, from its earlier read.
    slow.open();
    await bEnables;
    const mine = () =>
      received.map((set) => decodeJwt(set)).filter((c) => c.aud === aud && Object.keys(c.events as object)[0] === CAEP_RISK_LEVEL_CHANGE);
    await eventually(
      async () => ({ open: await count(['held', 'queued', 'retrying']), got: mine().length }),
      (v) => v.open === 0 && v.got >= n,
      { timeoutMs: 30_000 },
    );
    const jtis = mine().map((c) => c.jti as string);
    expect(new Set(jtis).size, 'a SET delivered twice').toBe(jtis.length);
    expect(jtis).toHaveLength(n);
    const delivered = (await log.withStatus(policy, 'delivered', 10_000)).filter((r) => r.dedupKey.startsWith('risk:'));
    expect(delivered.map((r) => r.webhookId).sort()).toEqual([...jtis].sort());
  }, 90_000);
});
