import { slackFinding } from '../testing/findings.js';
import { randomBytes } from 'node:crypto';
import { type Store, composeSettings, coreSettings } from '@intentwatch/core';
import { type AlertSource, AlertStore, alertId } from '@intentwatch/alerts';
import { type StoreFor, WebhookReceiver, eventually, openTestStore } from '@intentwatch/testkit';
import { decodeJwt } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RevokeRequestBody } from './payload.js';
import { type Policy, parsePolicy } from './policy.js';
import { Responder, type ResponderOptions } from './responder.js';
import { responderSettings } from './settings.js';
import { CAEP_RISK_LEVEL_CHANGE, POLL_METHOD } from './ssf/ssf-events.js';
import { SsfTransmitter } from './ssf/ssf-transmitter.js';
import { SAFETY_POLL_FLOOR_MS, nextLookMs } from './trigger.js';

const SECRET = `whsec_${Buffer.from('trigger-wake-test-secret-32byte!').toString('base64')}`;
const SOURCE: AlertSource = { id: 'cross_service_reuse', title: 'Token used outside its audience', frameworks: [] };
const SETTINGS = composeSettings(coreSettings, responderSettings);
/** Longer than any deadline below: a look that comes from this clock comes too late to pass a test. */
const NEVER_MS = 600_000;
/** How long a test waits for an outcome that a wake or a poll brings at once. */
const PROMPTLY_MS = 20_000;

let ts: StoreFor<typeof SETTINGS>;
let alerts: AlertStore;
const closing: (() => Promise<void>)[] = [];

beforeAll(async () => {
  ts = await openTestStore(
    {
      INTENTWATCH_WEBHOOK_ALLOW: '127.0.0.1/32',
      INTENTWATCH_RESPONDER_POLL_MS: '25',
      INTENTWATCH_SECRETS_KEY: randomBytes(32).toString('base64'),
      INTENTWATCH_SSF_ISSUER: 'https://intentwatch.example.test',
    },
    { settings: SETTINGS },
  );
  alerts = new AlertStore(ts.store);
});
afterEach(async () => {
  for (const c of closing.splice(0).reverse()) await c();
});
afterAll(async () => {
  await ts?.dispose();
});

/**
 * The test store as the trigger sees it: `hears` false stands for writes made by other processes
 * (no listener is told of them), `seesAllWrites` for the kind of store; `listening()` counts the
 * subscriptions not yet ended.
 */
function viewOf(real: Store, o: { seesAllWrites: boolean; hears: boolean }): { store: Store; listening(): number } {
  let listening = 0;
  const store = new Proxy(real, {
    get(target, prop) {
      if (prop === 'seesAllWrites') return o.seesAllWrites;
      if (prop === 'onWrite') {
        return (listener: (table: string) => void) => {
          listening++;
          const off = o.hears ? target.onWrite(listener) : () => undefined;
          let ended = false;
          return () => {
            if (!ended) listening--;
            ended = true;
            off();
          };
        };
      }
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { store, listening: () => listening };
}

async function receiver(): Promise<WebhookReceiver> {
  const r = await WebhookReceiver.start(SECRET);
  closing.push(() => r.close());
  return r;
}

/** A policy that revokes the token of every alert of environment `env` (up to 1000 a minute). */
function policy(id: string, env: string, r: WebhookReceiver): Policy {
  return parsePolicy(
    { id, match: { environments: [env] }, revoke: 'token', maxPerMinute: 1000, endpoint: { url: r.url, secrets: [SECRET] } },
    'file',
  );
}

async function responder(options: Partial<ResponderOptions> & { store: Store }): Promise<Responder> {
  const r = await Responder.open({
    config: ts.config,
    retry: { baseDelayMs: 20, maxDelayMs: 200 },
    lagMs: 1000,
    // Open requests are re-queued on a clock of their own, which would bring a look too.
    recoveryMs: NEVER_MS,
    ...options,
  });
  closing.push(() => r.close());
  // The first look sets the watermark; alerts recorded after it are the ones acted on.
  await r.start();
  return r;
}

let seq = 0;
/** Records a finding as a detector in this process would; returns the alert id. */
async function raise(env: string, token: string): Promise<string> {
  seq++;
  const f = slackFinding(env, token, seq, 'b');
  await alerts.record(SOURCE, [f]);
  return alertId(SOURCE.id, token, f.key);
}

/** The tokens the receiver was asked to revoke. */
function revokedTokens(rx: WebhookReceiver): string[] {
  return [...rx.revoked.values()].map((body) => (JSON.parse(body) as RevokeRequestBody).data.revoke.token).sort();
}

describe('Trigger on a store that sees every write (the embedded engine)', () => {
  it('revokes the token of an alert recorded in this process at once, without waiting for its safety poll', async () => {
    const rx = await receiver();
    const view = viewOf(ts.store, { seesAllWrites: true, hears: true });
    await responder({ store: view.store, policies: [policy('wake', 'env-wake', rx)], safetyPollMs: NEVER_MS });

    await raise('env-wake', 'tok-wake');

    const got = await eventually(
      () => revokedTokens(rx),
      (t) => t.length > 0,
      { timeoutMs: PROMPTLY_MS, label: 'the revoke of an alert recorded after the first look' },
    );
    expect(got).toEqual(['tok-wake']);
  });

  it('gives a Shared Signals poll stream the SET of an alert recorded in this process at once', async () => {
    const view = viewOf(ts.store, { seesAllWrites: true, hears: true });
    const ssf = await SsfTransmitter.open({ store: view.store, config: ts.config });
    if (!ssf) throw new Error('the configuration has a secrets key');
    await responder({ store: view.store, channels: [ssf], safetyPollMs: NEVER_MS });
    const stream = await ssf.createStream(
      { aud: 'https://receiver.example.test/wake', events_requested: [CAEP_RISK_LEVEL_CHANGE], delivery: { method: POLL_METHOD } },
      'test',
    );

    const id = await raise('env-ssf-wake', 'tok-ssf-wake');

    const polled = await eventually(
      () => ssf.poll(stream.streamId, { returnImmediately: true }),
      (p) => Object.keys(p.sets).length > 0,
      { timeoutMs: PROMPTLY_MS, label: 'the SET of an alert recorded after the first look' },
    );
    const claims = Object.values(polled.sets).map((set) => decodeJwt(set));
    expect(claims.map((c) => [Object.keys(c.events as object)[0], c.txn])).toEqual([[CAEP_RISK_LEVEL_CHANGE, `alert:${id}`]]);
  });

  it('acts on every alert of a burst of writes, one look at a time', async () => {
    const rx = await receiver();
    const view = viewOf(ts.store, { seesAllWrites: true, hears: true });
    const r = await responder({ store: view.store, policies: [policy('burst', 'env-burst', rx)], safetyPollMs: NEVER_MS });
    let looking = 0;
    let mostAtOnce = 0;
    let looks = 0;
    const look = r.trigger.pollOnce.bind(r.trigger);
    r.trigger.pollOnce = async (now?: number) => {
      looks++;
      mostAtOnce = Math.max(mostAtOnce, ++looking);
      try {
        return await look(now);
      } finally {
        looking--;
      }
    };
    const n = 25;

    await Promise.all(Array.from({ length: n }, (_, i) => raise('env-burst', `tok-burst-${String(i).padStart(2, '0')}`)));

    const got = await eventually(
      () => revokedTokens(rx),
      (t) => t.length === n,
      { timeoutMs: PROMPTLY_MS, label: `the revokes of ${n} alerts recorded at once` },
    );
    expect(got).toEqual(Array.from({ length: n }, (_, i) => `tok-burst-${String(i).padStart(2, '0')}`));
    expect(looks).toBeGreaterThan(0);
    expect(mostAtOnce, 'two looks of one trigger at once').toBe(1);
  });

  it('finds a write no listener was told of at its safety poll', async () => {
    const rx = await receiver();
    const view = viewOf(ts.store, { seesAllWrites: true, hears: false });
    await responder({ store: view.store, policies: [policy('safety', 'env-safety', rx)], safetyPollMs: 200 });

    await raise('env-safety', 'tok-safety');

    const got = await eventually(
      () => revokedTokens(rx),
      (t) => t.length > 0,
      { timeoutMs: PROMPTLY_MS, label: 'the revoke found by the safety poll' },
    );
    expect(got).toEqual(['tok-safety']);
  });

  it('stops listening to the store when closed', async () => {
    const rx = await receiver();
    const view = viewOf(ts.store, { seesAllWrites: true, hears: true });
    const r = await responder({ store: view.store, policies: [policy('closing', 'env-closing', rx)], safetyPollMs: NEVER_MS });
    expect(view.listening(), 'the trigger listens once started').toBeGreaterThan(0);

    await r.close();

    expect(view.listening()).toBe(0);
  });
});

describe('Trigger on a store other processes write (a ClickHouse server)', () => {
  it('finds an alert another process recorded by polling every pollMs, whatever the safety poll says', async () => {
    const rx = await receiver();
    // Writes by other processes reach no listener of this one: only the poll can find them.
    const view = viewOf(ts.store, { seesAllWrites: false, hears: false });
    await responder({ store: view.store, policies: [policy('server', 'env-server', rx)], safetyPollMs: NEVER_MS });

    await raise('env-server', 'tok-server');

    const got = await eventually(
      () => revokedTokens(rx),
      (t) => t.length > 0,
      { timeoutMs: PROMPTLY_MS, label: 'the revoke found by polling every pollMs' },
    );
    expect(got).toEqual(['tok-server']);
  });

  it('revokes at once on a write of this process too', async () => {
    const rx = await receiver();
    const view = viewOf(ts.store, { seesAllWrites: false, hears: true });
    // A poll interval no deadline here reaches: only the wake can act in time.
    const config = { ...ts.config, responders: { ...ts.config.responders, pollMs: NEVER_MS } };
    await responder({ store: view.store, config, policies: [policy('server-wake', 'env-server-wake', rx)] });

    await raise('env-server-wake', 'tok-server-wake');

    const got = await eventually(
      () => revokedTokens(rx),
      (t) => t.length > 0,
      { timeoutMs: PROMPTLY_MS, label: 'the revoke of an alert written by this process' },
    );
    expect(got).toEqual(['tok-server-wake']);
  });
});

describe('nextLookMs', () => {
  const base = { clockMs: 250, floorMs: 250, recoveryDueInMs: 50, channelTickMs: [100] };

  it('keeps the poll interval where other processes write, whatever else is due', () => {
    expect(nextLookMs({ ...base, seesAllWrites: false })).toBe(250);
    expect(nextLookMs({ ...base, seesAllWrites: false, recoveryDueInMs: 10_000, channelTickMs: [] })).toBe(250);
  });

  it('waits for the safety poll where every write is told, or less when recovery or a channel tick is due', () => {
    const safety = Math.max(250, SAFETY_POLL_FLOOR_MS);
    const embedded = { clockMs: safety, floorMs: 250, seesAllWrites: true };
    expect(nextLookMs({ ...embedded, recoveryDueInMs: 60_000, channelTickMs: [undefined] })).toBe(safety);
    expect(nextLookMs({ ...embedded, recoveryDueInMs: 1200, channelTickMs: [] })).toBe(1200);
    expect(nextLookMs({ ...embedded, recoveryDueInMs: 60_000, channelTickMs: [undefined, 750, 3000] })).toBe(750);
  });

  it('never looks sooner than the poll interval on its clock, though recovery is overdue or a channel asks for less', () => {
    const embedded = { clockMs: 5000, floorMs: 250, seesAllWrites: true };
    expect(nextLookMs({ ...embedded, recoveryDueInMs: -5, channelTickMs: [] })).toBe(250);
    expect(nextLookMs({ ...embedded, recoveryDueInMs: 60_000, channelTickMs: [0] })).toBe(250);
    expect(
      nextLookMs({ clockMs: 200, floorMs: 250, seesAllWrites: true, recoveryDueInMs: 60_000, channelTickMs: [] }),
      'a safety poll set below it',
    ).toBe(200);
  });
});
