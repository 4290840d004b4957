import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crossServiceReuse } from '../rules/cross_service_reuse/detector.js';
import { staleTokenUse } from '../rules/stale_token_use/detector.js';
import { DetectorHarness } from '../../testing/harness.js';
import { span } from '../../testing/scenario.js';
import { eventually } from '@intentwatch/testkit';
import type { RunReport } from './detector-runner.js';
import { DetectorService } from './detector-service.js';

/** A Redis this run provides (test/src/prerequisites/global-setup.ts); empty when there is none, and then these tests are skipped. */
const REDIS_URL = process.env.INTENTWATCH_TEST_REDIS_URL ?? '';

describe.skipIf(!REDIS_URL)('DetectorService with BullMQ', () => {
  const prefix = `iwtest-${randomBytes(6).toString('hex')}`;
  let h: DetectorHarness;
  const services: DetectorService[] = [];
  const reports: { worker: number; detector: string; report: RunReport }[] = [];
  const failures: Error[] = [];

  beforeAll(async () => {
    h = await DetectorHarness.start();
    for (const worker of [1, 2]) {
      services.push(
        await DetectorService.start({
          store: h.store.store,
          config: { ...h.config, redisUrl: REDIS_URL, detectIntervalMs: 100 },
          detectors: [crossServiceReuse, staleTokenUse],
          queuePrefix: prefix,
          onRun: (detector, outcome) => {
            if (outcome instanceof Error) failures.push(outcome);
            else reports.push({ worker, detector, report: outcome });
          },
        }),
      );
    }
  });

  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop()));
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
    await h?.close();
  });

  it('alerts each violation exactly once with two workers sharing the schedules', async () => {
    expect(services.map((s) => s.mode)).toEqual(['bullmq', 'bullmq']);
    const base = Date.now() - 10 * 60_000;
    const misuses = Array.from({ length: 6 }, (_, i) => `tok-rq-${i}`);
    for (const [i, tok] of misuses.entries()) {
      await h.send(
        [
          span.issued(tok, 0, { task: `T-rq-${i}`, agent: 'bot', audience: ['github'], expiresIn: 60 }),
          span.use(tok, 10, { agent: 'bot', target: 'slack' }),
          span.use(tok, 11, { agent: 'bot', target: 'slack' }),
          span.use(tok, 100, { agent: 'bot', target: 'github' }),
        ],
        base,
      );
      await new Promise((r) => setTimeout(r, 150));
    }
    const alertsOf = async () => (await h.alerts.list({ limit: 100 })).alerts.filter((a) => a.tokenId.startsWith('tok-rq-'));
    const alerts = await eventually(alertsOf, (list) => list.length === 12, { timeoutMs: 20_000 });
    // One cross-service alert (two offending spans) and one stale-use alert (one span) per token.
    expect(alerts.filter((a) => a.detector === 'cross_service_reuse').map((a) => [a.tokenId, a.count])).toEqual(
      expect.arrayContaining(misuses.map((t) => [t, 2])),
    );
    expect(alerts.filter((a) => a.detector === 'stale_token_use').map((a) => [a.tokenId, a.count])).toEqual(
      expect.arrayContaining(misuses.map((t) => [t, 1])),
    );
    // Every alert was raised by exactly one run of one worker, and both workers took turns.
    const raised = reports.reduce((n, r) => n + r.report.raised, 0);
    expect(raised).toBe(12);
    expect(new Set(reports.map((r) => r.worker))).toEqual(new Set([1, 2]));
    expect(failures).toEqual([]);
  });

  it('records live findings under the detector lock while the schedules run elsewhere', async () => {
    // The workers above stop; a process with a collector and a ten-minute schedule judges live.
    await Promise.all(services.splice(0).map((s) => s.stop()));
    const liveReports: RunReport[] = [];
    const live = await DetectorService.start({
      store: h.store.store,
      config: { ...h.config, redisUrl: REDIS_URL, detectIntervalMs: 600_000 },
      detectors: [crossServiceReuse, staleTokenUse],
      queuePrefix: `${prefix}-live`,
      onRun: (_detector, outcome) => {
        if (outcome instanceof Error) failures.push(outcome);
        else if (outcome.window.only) liveReports.push(outcome);
      },
    });
    services.push(live);
    h.collector.onCommitted((rows) => live.observe(rows));
    // Another worker holds cross_service_reuse's lock for a moment: the live recording waits for it.
    const redis = new Redis(REDIS_URL);
    const lock = `${prefix}-live:detectors:lock:cross_service_reuse`;
    await redis.set(lock, 'another-worker', 'PX', 60_000);
    const base = Date.now() - 5 * 60_000;
    await h.send(
      [
        span.issued('tok-rq-live', 0, { task: 'T-rq-live', agent: 'bot', audience: ['github'] }),
        span.use('tok-rq-live', 10, { agent: 'bot', target: 'slack' }),
      ],
      base,
    );
    await new Promise((r) => setTimeout(r, 300));
    expect((await h.alerts.list({ tokenId: 'tok-rq-live' })).alerts).toEqual([]);
    await redis.del(lock);
    const alerts = await eventually(
      async () => (await h.alerts.list({ tokenId: 'tok-rq-live' })).alerts,
      (list) => list.length === 1,
      { timeoutMs: 10_000 },
    );
    expect(alerts[0]?.detector).toBe('cross_service_reuse');
    expect(liveReports.reduce((n, r) => n + r.raised, 0)).toBe(1);
    expect(await redis.get(lock)).toBeNull();
    await redis.quit();
    expect(failures).toEqual([]);
  });
});
