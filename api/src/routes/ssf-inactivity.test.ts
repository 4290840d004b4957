/**
 * SSF 1.0 §8.1.1 `inactivity_timeout`, as a receiver sees it: the transmitter publishes the
 * timeout in the stream configuration, and pauses a stream its receiver has neither polled nor
 * managed for that long — telling it first in a signed stream-updated event (§8.1.5), verified
 * here with `jose` against the published JWKS.
 */
import { randomBytes } from 'node:crypto';
import { type Server, createServer } from 'node:http';
import { type JWTPayload, createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeskHarness, KEYS } from '../../testing/desk-harness.js';
import { eventually } from '@intentwatch/testkit';

const ISSUER = 'https://intentwatch.example.test';
const PUSH = 'urn:ietf:rfc:8935';
const POLL = 'urn:ietf:rfc:8936';
const UPDATED = 'https://schemas.openid.net/secevent/ssf/event-type/stream-updated';
const TIMEOUT_S = 3;

describe('a stream whose receiver goes quiet for its inactivity_timeout', () => {
  let h: DeskHarness;
  let receiver: Server;
  let receiverUrl: string;
  let jwks: ReturnType<typeof createRemoteJWKSet>;
  const pushed: string[] = [];

  const admin = (path: string, method: string, body?: unknown) =>
    h.call(path, { method, key: KEYS.admin, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const poll = async (streamId: string) => {
    const res = await h.call(`/ssf/poll/${streamId}`, {
      method: 'POST',
      key: KEYS.viewer,
      body: JSON.stringify({ returnImmediately: true }),
    });
    expect(res.status).toBe(200);
    return (await res.json()) as { sets: Record<string, string> };
  };
  /** The stream-updated events among `sets` for audience `aud`, verified. */
  const updates = async (sets: string[], aud: string) => {
    const out: Record<string, unknown>[] = [];
    for (const set of sets) {
      const v = await jwtVerify(set, jwks, { issuer: ISSUER, audience: aud, typ: 'secevent+jwt' }).catch(() => undefined);
      const events = v?.payload.events as Record<string, Record<string, unknown>> | undefined;
      if (v && events?.[UPDATED]) out.push({ ...(v.payload as JWTPayload), event: events[UPDATED] });
    }
    return out;
  };
  /** The stream as stored, read without touching the API (a read through the API is receiver activity). */
  const stored = (streamId: string) => {
    if (!h.ssf) throw new Error('the harness runs the transmitter');
    return h.ssf.streams.get(streamId, true);
  };

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        pushed.push(Buffer.concat(chunks).toString('utf8'));
        res.writeHead(202).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;
    h = await DeskHarness.start(
      {
        INTENTWATCH_WEBHOOK_ALLOW: '127.0.0.1/32',
        INTENTWATCH_SECRETS_KEY: randomBytes(32).toString('base64'),
        INTENTWATCH_RESPONDER_POLL_MS: '25',
        INTENTWATCH_SSF_ISSUER: ISSUER,
        INTENTWATCH_SSF_INACTIVITY_TIMEOUT_S: String(TIMEOUT_S),
      },
      { responders: true },
    );
    const config = (await (await h.call('/.well-known/ssf-configuration', { key: null })).json()) as { jwks_uri: string };
    jwks = createRemoteJWKSet(new URL(new URL(config.jwks_uri).pathname, h.apiUrl), { cacheMaxAge: 0, cooldownDuration: 0 });
  }, 60_000);

  afterAll(async () => {
    await h?.close();
    receiver?.closeAllConnections();
    await new Promise<void>((r) => (receiver ? receiver.close(() => r()) : r()));
  });

  it('publishes the timeout, pauses a quiet push stream after telling its receiver, keeps a polled one, and is enabled again by its receiver', async () => {
    const p = await admin('/ssf/streams', 'POST', {
      aud: 'https://receiver.example.test/quiet',
      delivery: { method: PUSH, endpoint_url: `${receiverUrl}/events` },
    });
    expect(p.status).toBe(201);
    const quiet = (await p.json()) as { stream_id: string; inactivity_timeout: number };
    expect(quiet.inactivity_timeout, 'SSF 1.0 §8.1.1: transmitter-supplied, in seconds').toBe(TIMEOUT_S);
    const q = await admin('/ssf/streams', 'POST', { aud: 'https://receiver.example.test/busy', delivery: { method: POLL } });
    const busy = (await q.json()) as { stream_id: string; inactivity_timeout: number };
    expect(busy.inactivity_timeout).toBe(TIMEOUT_S);

    // The poll receiver keeps polling; the push receiver does nothing.
    const paused = await eventually(
      async () => {
        await poll(busy.stream_id);
        return updates(pushed, 'https://receiver.example.test/quiet');
      },
      (u) => u.length > 0,
      { timeoutMs: 30_000, label: 'the quiet stream paused, its receiver told' },
    );
    expect(paused).toHaveLength(1);
    const told = paused[0] as Record<string, unknown>;
    expect(told.sub_id).toEqual({ format: 'opaque', id: quiet.stream_id });
    expect(told.event).toMatchObject({ status: 'paused' });
    expect((told.event as { reason: string }).reason).toContain('inactivity_timeout');
    expect(await stored(quiet.stream_id)).toMatchObject({ status: 'paused' });
    expect(await stored(busy.stream_id), 'a stream its receiver polls stays enabled').toMatchObject({ status: 'enabled' });

    // The receiver comes back and enables its stream: it is told so, and the stream stays enabled while it is active.
    expect((await admin('/ssf/status', 'POST', { stream_id: quiet.stream_id, status: 'enabled' })).status).toBe(200);
    const back = await eventually(
      () => updates(pushed, 'https://receiver.example.test/quiet'),
      (u) => u.some((x) => (x.event as { status: string }).status === 'enabled'),
      { timeoutMs: 30_000, label: 'the stream-updated event of the enabled stream' },
    );
    expect(back.map((x) => (x.event as { status: string }).status)).toEqual(['paused', 'enabled']);
    expect(await (await admin(`/ssf/status?stream_id=${quiet.stream_id}`, 'GET')).json()).toMatchObject({ status: 'enabled' });
  }, 90_000);

  it('pauses a poll stream nobody polls and serves the event that says so on its next poll', async () => {
    const q = await admin('/ssf/streams', 'POST', { aud: 'https://receiver.example.test/idle', delivery: { method: POLL } });
    const idle = (await q.json()) as { stream_id: string };
    await eventually(
      () => stored(idle.stream_id),
      (s) => s.status === 'paused',
      { timeoutMs: 30_000, label: 'the idle stream paused' },
    );
    const page = await poll(idle.stream_id);
    const u = await updates(Object.values(page.sets), 'https://receiver.example.test/idle');
    expect(u.map((x) => x.event)).toEqual([expect.objectContaining({ status: 'paused' })]);
  }, 60_000);
});
