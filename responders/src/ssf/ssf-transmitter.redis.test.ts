import { decodeJwt } from 'jose';
import type { Store } from '@intentwatch/core';
import { describe, expect, it } from 'vitest';
import { AlertStore } from '@intentwatch/alerts';
import { eventually } from '@intentwatch/testkit';
import { BullmqDeliveryQueue } from '../bullmq-delivery-queue.js';
import { CAEP_RISK_LEVEL_CHANGE, PUSH_METHOD, SSF_STREAM_UPDATED } from './ssf-events.js';
import { SOURCE, SlowWrite, finding, ssfWorkers } from '../../testing/ssf-race.js';

/** A Redis this run provides (test/src/prerequisites/global-setup.ts); empty when there is none, and then these tests are skipped. */
const REDIS_URL = process.env.INTENTWATCH_TEST_REDIS_URL ?? '';

const AUD = 'https://receiver.example.test/two-workers';
const fx = ssfWorkers('ssf');
const { received } = fx;
const worker = (store?: Store) => fx.worker(store);

describe.skipIf(!REDIS_URL)('two Shared Signals transmitters on one store and one Redis', () => {
  it('send each SET once: an alert both workers see makes one SET, and held SETs both release when the stream is enabled go out once', async () => {
    const a = await worker();
    const b = await worker();
    expect(a.responder.queue).toBeInstanceOf(BullmqDeliveryQueue);
    const stream = await a.ssf.createStream(
      { aud: AUD, events_requested: [CAEP_RISK_LEVEL_CHANGE], delivery: { method: PUSH_METHOD, endpoint_url: fx.endpoint } },
      'test',
    );
    const policy = `ssf:${stream.streamId}`;
    await a.ssf.setStatus(stream.streamId, 'paused', 'before the alerts', 'test');

    const n = 40;
    await new AlertStore(fx.store).record(
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
    const slow = new SlowWrite(fx.store, 'queued');
    const b = await worker(slow.store);
    const aud = `${AUD}/stale`;
    const stream = await a.ssf.createStream(
      { aud, events_requested: [CAEP_RISK_LEVEL_CHANGE], delivery: { method: PUSH_METHOD, endpoint_url: fx.endpoint } },
      'test',
    );
    const policy = `ssf:${stream.streamId}`;
    await a.ssf.setStatus(stream.streamId, 'paused', 'before the alerts', 'test');
    const n = 10;
    await new AlertStore(fx.store).record(
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
