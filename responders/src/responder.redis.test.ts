import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type AlertSource, AlertStore, type Finding, alertId } from '@intentwatch/alerts';
import { type Script, StoreFaults, type StoreFor, WebhookReceiver, eventually, openTestStore } from '@intentwatch/testkit';
import { BullmqDeliveryQueue } from './bullmq-delivery-queue.js';
import { DeliveryLog, type RevocationView } from './delivery-log.js';
import { type Policy, parsePolicy } from './policy.js';
import { MemoryRateLimiter } from './rate-limiter.js';
import { Responder } from './responder.js';
import { composeSettings, coreSettings } from '@intentwatch/core';
import { responderSettings } from './settings.js';

/** A Redis this run provides (test/src/prerequisites/global-setup.ts); empty when there is none, and then these tests are skipped. */
const REDIS_URL = process.env.INTENTWATCH_TEST_REDIS_URL ?? '';
const SECRET = `whsec_${Buffer.from('redis-responder-test-secret-32b!').toString('base64')}`;
const SOURCE: AlertSource = { id: 'stale_token_use', title: 'Token used after revocation', frameworks: ['OWASP-ASI03'] };

/** The settings the responders read, over the core ones. */
const SETTINGS = composeSettings(coreSettings, responderSettings);
let ts: StoreFor<typeof SETTINGS>;
let alerts: AlertStore;
const prefix = `iwtest-${randomUUID().slice(0, 8)}`;
const closing: (() => Promise<void>)[] = [];

beforeAll(async () => {
  ts = await openTestStore(
    { REDIS_URL, INTENTWATCH_WEBHOOK_ALLOW: '127.0.0.1/32', INTENTWATCH_RESPONDER_POLL_MS: '25' },
    { settings: SETTINGS },
  );
  alerts = new AlertStore(ts.store);
});
afterEach(async () => {
  for (const c of closing.splice(0).reverse()) await c();
});
afterAll(async () => {
  // Leave nothing of this run in Redis.
  const q = new BullmqDeliveryQueue({ redisUrl: REDIS_URL, prefix });
  await q.obliterate();
  const keys = await q.redis.keys(`${prefix}:*`);
  if (keys.length > 0) await q.redis.del(...keys);
  await q.close();
  await ts?.dispose();
});

async function receiver(script?: Script): Promise<WebhookReceiver> {
  const r = await WebhookReceiver.start(SECRET, script);
  closing.push(() => r.close());
  return r;
}

function policy(id: string, env: string, r: WebhookReceiver, more: Record<string, unknown> = {}): Policy {
  return parsePolicy({ id, match: { environments: [env] }, endpoint: { url: r.url, secrets: [SECRET] }, ...more }, 'file');
}

/** A responder on BullMQ (the configuration names REDIS_URL), as a worker process would run it. */
async function worker(policies: Policy[]): Promise<Responder> {
  const r = await Responder.open({ store: ts.store, config: ts.config, policies, redisPrefix: prefix, lagMs: 1000 });
  closing.push(() => r.close());
  await r.start();
  return r;
}

function finding(env: string, token: string, i = 0): Finding {
  return {
    key: 'github',
    severity: 'critical',
    reason: `token ${token} was used after its revoked event`,
    tokenId: token,
    rootTokenId: token,
    agentId: 'deploy-bot',
    taskId: 'T-2',
    caller: 'deploy-svc',
    target: 'github',
    environment: env,
    evidence: { traceId: 'c'.repeat(32), spanId: (i + 1).toString(16).padStart(16, '0'), time: new Date().toISOString() },
  };
}

const delivered = (v: RevocationView[]) => v.length > 0 && v.every((x) => x.status === 'delivered');

describe.skipIf(!REDIS_URL)('Responder on BullMQ', () => {
  it('loses no delivery when its worker stops while a retry is pending: a new worker completes it once', async () => {
    const rx = await receiver((n) => (n === 1 ? { status: 503, headers: { 'retry-after': '2' } } : { status: 204 }));
    const p = policy('restart', 'env-restart', rx);
    const first = await worker([p]);
    expect(first.queue).toBeInstanceOf(BullmqDeliveryQueue);
    const f = finding('env-restart', 'restart-1');
    await alerts.record(SOURCE, [f]);
    const id = alertId(SOURCE.id, f.rootTokenId as string, f.key);

    // The first attempt failed and its retry waits in Redis: stop this worker now.
    await eventually(
      () => first.policyService.deliveries(id),
      (v) => v[0]?.status === 'retrying',
    );
    expect(rx.requests).toHaveLength(1);
    await (first.queue as BullmqDeliveryQueue).closeWorker();
    await first.close();

    const second = await worker([p]);
    const views = await eventually(() => second.policyService.deliveries(id), delivered, { timeoutMs: 20_000 });

    expect(rx.requests.map((q) => q.status)).toEqual([503, 204]);
    expect(new Set(rx.requests.map((q) => q.webhookId)).size).toBe(1);
    expect(rx.requests.every((q) => q.verified)).toBe(true);
    expect(rx.revoked.size).toBe(1);
    expect(views[0]).toMatchObject({ status: 'delivered', attempts: 2 });
    expect(views[0]?.attemptLog.map((a) => a.status)).toEqual(['failed', 'delivered']);
  });

  it("delivers each token of a lineage once when its worker stops with one token's retry pending in Redis", async () => {
    // The first attempt for the delegated token fails; every other request is accepted.
    let failed = false;
    const rx = await receiver((_n, _id, body) => {
      if (failed || JSON.parse(body).data.revoke.token !== 'lin-sub') return { status: 204 };
      failed = true;
      return { status: 503, headers: { 'retry-after': '2' } };
    });
    const p = policy('lineage', 'env-lineage', rx);
    const now = new Date().toISOString();
    await ts.store.insertPartial(
      'token_events',
      [
        ['lin', 'issued', ''],
        ['lin-r1', 'refreshed', 'lin'],
        ['lin-r2', 'refreshed', 'lin-r1'],
        ['lin-sub', 'exchanged', 'lin-r2'],
      ].map(([token, event, parent]) => ({
        time: now,
        ingested_at: now,
        event,
        token_id: token,
        parent_id: parent,
        agent_id: 'a',
        source: 'test',
      })),
    );
    const first = await worker([p]);
    const f = { ...finding('env-lineage', 'lin-r1'), rootTokenId: 'lin' };
    await alerts.record(SOURCE, [f]);
    const id = alertId(SOURCE.id, 'lin', f.key);

    await eventually(
      () => first.policyService.deliveries(id),
      (v) => v.length === 4 && v.filter((x) => x.status === 'delivered').length === 3 && v.some((x) => x.status === 'retrying'),
    );
    await (first.queue as BullmqDeliveryQueue).closeWorker();
    await first.close();
    const second = await worker([p]);
    const views = await eventually(
      () => second.policyService.deliveries(id),
      (v) => v.length === 4 && delivered(v),
      { timeoutMs: 20_000 },
    );

    expect(views.map((v) => v.token).sort()).toEqual(['lin', 'lin-r1', 'lin-r2', 'lin-sub']);
    expect(rx.requests.every((q) => q.verified)).toBe(true);
    expect(new Set(rx.requests.map((q) => q.webhookId)).size).toBe(4);
    expect([...rx.revoked.values()].map((b) => JSON.parse(b).data.revoke.token).sort()).toEqual(['lin', 'lin-r1', 'lin-r2', 'lin-sub']);
    expect(rx.requests).toHaveLength(5);
  });

  it('holds one rate limit across two workers sharing Redis, and delivers each request once', async () => {
    const rx = await receiver();
    const p = policy('shared', 'env-shared', rx, { maxPerMinute: 4 });
    const a = await worker([p]);
    await worker([p]);
    await alerts.record(
      SOURCE,
      Array.from({ length: 200 }, (_, i) => finding('env-shared', `shared-${i}`, i)),
    );

    const counts = await eventually(
      async () => (await a.policyService.policyView('shared')).requests,
      (c) => (c.delivered ?? 0) + (c.held ?? 0) === 200,
      { timeoutMs: 30_000 },
    );

    expect(counts.delivered).toBe(4);
    expect(rx.requests).toHaveLength(4);
    expect(rx.revoked.size).toBe(4);
    await a.policies.refresh();
    expect(a.policies.state('shared').state).toBe('paused');
  });
});

describe.skipIf(!REDIS_URL)('Responder on BullMQ, when our side fails', () => {
  it('delivers under the same webhook-id a request whose delivery step failed until BullMQ gave up, once the store answers again', async () => {
    const faults = new StoreFaults(ts.store);
    // The receiver takes the revoke; the store then becomes unreachable before the attempt is recorded.
    const rx = await receiver((n) => {
      if (n === 1) faults.failing = true;
      return { status: 204 };
    });
    const queue = new BullmqDeliveryQueue({ redisUrl: REDIS_URL, prefix, stepAttempts: 3, stepBackoffMs: 20 });
    const r = await Responder.open({
      store: faults.store,
      config: ts.config,
      policies: [policy('outage', 'env-outage', rx)],
      queue,
      rateLimiter: new MemoryRateLimiter(),
      lagMs: 1000,
      recoveryMs: 300,
    });
    closing.push(() => r.close());
    await r.start();
    const f = finding('env-outage', 'outage-1');
    await alerts.record(SOURCE, [f]);
    const id = alertId(SOURCE.id, f.rootTokenId as string, f.key);
    const log = new DeliveryLog(ts.store);

    const webhookId = await eventually(
      async () => rx.requests[0]?.webhookId,
      (w) => w !== undefined,
    );
    // BullMQ gave up on the job, and the store still says the request waits.
    const given = await eventually(
      () => queue.jobState(webhookId as string),
      (s) => s === 'failed',
    );
    expect(given).toBe('failed');
    expect((await log.get(webhookId as string))?.status).toBe('queued');

    faults.failing = false;
    const views = await eventually(() => log.forAlert(id), delivered, { timeoutMs: 20_000 });

    expect(views[0]).toMatchObject({ webhookId, status: 'delivered' });
    // Every try of the failing period and the one after it carried the same id: one effective revoke.
    expect(rx.requests.length).toBeGreaterThanOrEqual(4);
    expect(new Set(rx.requests.map((q) => q.webhookId))).toEqual(new Set([webhookId]));
    expect(rx.requests.every((q) => q.verified)).toBe(true);
    expect(rx.revoked.size).toBe(1);
    expect(await queue.jobState(webhookId as string)).toBe('completed');
  });

  it('delivers held requests an admin releases, although their jobs had ended when they were held', async () => {
    const rx = await receiver();
    let clock = Date.now();
    const queue = new BullmqDeliveryQueue({ redisUrl: REDIS_URL, prefix });
    const r = await Responder.open({
      store: ts.store,
      config: ts.config,
      policies: [policy('release', 'env-release', rx, { maxPerMinute: 2 })],
      queue,
      rateLimiter: new MemoryRateLimiter(() => clock),
      lagMs: 1000,
    });
    closing.push(() => r.close());
    await r.start();
    await alerts.record(
      SOURCE,
      Array.from({ length: 3 }, (_, i) => finding('env-release', `release-${i}`, i)),
    );
    await eventually(
      async () => (await r.policyService.policyView('release')).requests,
      (c) => c.delivered === 2 && c.held === 1,
    );

    clock += 61_000;
    expect(await r.policyService.resume('release', 'key:admin', true)).toMatchObject({ released: 1 });
    const counts = await eventually(
      async () => (await r.policyService.policyView('release')).requests,
      (c) => c.delivered === 3,
    );

    expect(counts).toEqual({ delivered: 3 });
    expect(rx.revoked.size).toBe(3);
  });
});

describe.skipIf(!REDIS_URL)('RedisRateLimiter', () => {
  it('admits a member again without counting it twice', async () => {
    const { RedisRateLimiter } = await import('./rate-limiter.js');
    const redis = new Redis(REDIS_URL);
    closing.push(async () => {
      await redis.quit();
    });
    const limiter = new RedisRateLimiter(redis, prefix);
    const key = `unit-${randomUUID()}`;
    expect(await limiter.acquire(key, 'a', 2, 60_000)).toBe(true);
    expect(await limiter.acquire(key, 'a', 2, 60_000)).toBe(true);
    expect(await limiter.acquire(key, 'b', 2, 60_000)).toBe(true);
    expect(await limiter.acquire(key, 'c', 2, 60_000)).toBe(false);
    expect(await limiter.acquire(key, 'a', 2, 60_000)).toBe(true);
  });
});
