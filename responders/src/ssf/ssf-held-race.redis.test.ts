import { decodeJwt } from 'jose';
import type { Store } from '@intentwatch/core';
import { describe, expect, it } from 'vitest';
import { AlertStore } from '@intentwatch/alerts';
import { eventually } from '@intentwatch/testkit';
import { CAEP_RISK_LEVEL_CHANGE, PUSH_METHOD } from './ssf-events.js';
import { SOURCE, SlowWrite, finding, ssfWorkers } from '../../testing/ssf-race.js';

/** A Redis this run provides (test/src/prerequisites/global-setup.ts); empty when there is none, and then these tests are skipped. */
const REDIS_URL = process.env.INTENTWATCH_TEST_REDIS_URL ?? '';

const AUD = 'https://receiver.example.test/two-workers';
const fx = ssfWorkers('ssfheld');
const { received } = fx;
const worker = (store?: Store) => fx.worker(store);

// Its own file (its own store, no alerts of other tests waiting): a responder started here reads
// only the alerts this test records.
describe.skipIf(!REDIS_URL)('a Shared Signals transmitter whose stream another process enables', () => {
  it('sends the SETs a process held for a paused stream that another process enabled meanwhile', async () => {
    const a = await worker();
    const slow = new SlowWrite(fx.store, 'held');
    const aud = `${AUD}/enabled-meanwhile`;
    const stream = await a.ssf.createStream(
      { aud, events_requested: [CAEP_RISK_LEVEL_CHANGE], delivery: { method: PUSH_METHOD, endpoint_url: fx.endpoint } },
      'test',
    );
    await a.ssf.setStatus(stream.streamId, 'paused', 'before the alerts', 'test');
    // A alone knows the stream; B starts after the pause and is slow to save the SETs it holds.
    await a.responder.close();
    const reached = slow.close();
    const b = await worker(slow.store);
    const n = 5;
    await new AlertStore(fx.store).record(
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
