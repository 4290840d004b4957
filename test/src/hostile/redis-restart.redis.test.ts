import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { type IncomingHttpHeaders, createServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { rootLogger } from '@intentwatch/core';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AllInOne, sendMisuse, startAll, waitForAlerts } from './running-all.js';
import { sleep, until } from './support.js';

// A private redis-server (no persistence) under `intentwatch all` with BullMQ detectors and
// responders, killed while revoke deliveries wait in it for a retry, kept down while misuse
// arrives, and started again empty. Every violation must be alerted exactly once with its
// count, and every revoke delivered under one webhook-id — none lost, none sent again with
// another id.

const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const INTERVAL_MS = 200;
/** The redis-server binary this run found (test/src/prerequisites/global-setup.ts); empty when missing, and then this test is skipped. */
const REDIS_SERVER = process.env.INTENTWATCH_TEST_REDIS_SERVER ?? '';

interface Received {
  id: string;
  token: string;
  answered: number;
}

let redis: ChildProcess | undefined;
let redisPort: number;
let m: AllInOne | undefined;
const received: Received[] = [];
/** Webhook ids whose first attempt is refused (with Retry-After), so that their retry waits in Redis. */
let refuseFirstAttempt = true;
const webhook = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    // A delivery that does not verify is not ours: it counts as nothing.
    new Webhook(SECRET).verify(body, headersOf(req.headers));
    const id = String(req.headers['webhook-id']);
    const token = (JSON.parse(body) as { data: { revoke: { sessionRoot: string } } }).data.revoke.sessionRoot;
    const first = !received.some((r) => r.id === id);
    const answered = first && refuseFirstAttempt ? 503 : 204;
    received.push({ id, token, answered });
    if (answered === 503) res.writeHead(503, { 'retry-after': '3' }).end();
    else res.writeHead(204).end();
  });
});

function headersOf(h: IncomingHttpHeaders): Record<string, string> {
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k, String(v)]));
}

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function startRedis(): Promise<ChildProcess> {
  const child = spawn(
    REDIS_SERVER,
    ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  await until('redis-server to accept connections', () => /Ready to accept connections/.test(out) || child.exitCode !== null, 20_000);
  if (child.exitCode !== null) throw new Error(`redis-server exited ${child.exitCode}: ${out}`);
  return child;
}

async function killRedis(): Promise<void> {
  const child = redis;
  redis = undefined;
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

beforeAll(async () => {
  // Each lost connection is logged by design; the outcome is what this test checks.
  rootLogger().level = 'fatal';
  redisPort = await freePort();
  redis = await startRedis();
  await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
  const hookPort = (webhook.address() as { port: number }).port;
  m = await startAll({
    REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    DETECT_INTERVAL_MS: String(INTERVAL_MS),
    INTENTWATCH_RESPONDER_POLL_MS: '100',
    INTENTWATCH_DEMO_WEBHOOK: `http://127.0.0.1:${hookPort}/revoke`,
    INTENTWATCH_DEMO_WEBHOOK_SECRET: SECRET,
    INTENTWATCH_WEBHOOK_ALLOW: '127.0.0.1/32',
  });
});

afterAll(async () => {
  await m?.stop();
  await killRedis();
  await new Promise<void>((resolve) => webhook.close(() => resolve()));
});

describe.skipIf(!REDIS_SERVER)('intentwatch all with BullMQ when Redis is killed and restarted empty', () => {
  it('alerts every violation once with its count and delivers every revoke once per webhook-id', async () => {
    const all = m as AllInOne;
    const before = ['tok-redis-a1', 'tok-redis-a2', 'tok-redis-a3'];
    const during = ['tok-redis-b1', 'tok-redis-b2', 'tok-redis-b3'];
    const after = ['tok-redis-c1', 'tok-redis-c2', 'tok-redis-c3'];

    await sendMisuse(all, before, { uses: 2 });
    await waitForAlerts(all, before);
    // Every revoke of the first batch was tried once and refused: its retry now waits in Redis.
    await until('a refused first attempt for each revoke', () =>
      before.every((t) => received.some((r) => r.token === t && r.answered === 503)),
    );
    refuseFirstAttempt = false;

    await killRedis();
    await sendMisuse(all, during, { uses: 2 });
    // Detector ticks come and go with nothing to run them on.
    await sleep(INTERVAL_MS * 10);
    redis = await startRedis();
    await sendMisuse(all, after, { uses: 2 });

    const tokens = [...before, ...during, ...after];
    const alerts = await waitForAlerts(all, tokens, 45_000);
    await until(
      'a delivered revoke for every token',
      () => tokens.every((t) => received.some((r) => r.token === t && r.answered === 204)),
      45_000,
    );
    // Give duplicates, were there any, their chance to arrive: two more detector and responder cycles.
    await sleep(INTERVAL_MS * 10);

    const crossService = alerts.filter((a) => a.detector === 'cross_service_reuse');
    expect(crossService.map((a) => a.tokenId).sort()).toEqual([...tokens].sort());
    for (const a of crossService) expect(a.count, a.tokenId).toBe(2);
    const idsByToken = new Map<string, Set<string>>();
    for (const r of received) idsByToken.set(r.token, (idsByToken.get(r.token) ?? new Set()).add(r.id));
    for (const t of tokens) expect([...(idsByToken.get(t) ?? [])], t).toHaveLength(1);
    console.info(
      'redis restart:',
      JSON.stringify({
        tokens: tokens.length,
        alerts: crossService.length,
        deliveries: received.length,
        delivered: received.filter((r) => r.answered === 204).length,
        webhookIds: new Set(received.map((r) => r.id)).size,
      }),
    );
  }, 150_000);
});
