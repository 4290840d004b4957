import { registry } from '@intentwatch/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineDetector } from '../define-detector.js';
import { crossServiceReuse } from '../rules/cross_service_reuse/detector.js';
import { DetectorHarness } from '../../testing/harness.js';
import { span } from '../../testing/scenario.js';
import { eventually } from '@intentwatch/testkit';
import { DetectorService } from './detector-service.js';

const broken = defineDetector({
  id: 'always_broken',
  title: 'A detector that throws',
  severity: 'low',
  description: 'throws on every run',
  frameworks: ['TEST'],
  falsePositives: [],
  runbook: [],
  tuning: [],
  detect: async () => {
    throw new Error('boom');
  },
});

describe('DetectorService in-process', () => {
  let h: DetectorHarness;
  beforeAll(async () => {
    h = await DetectorHarness.start();
  });
  afterAll(async () => h?.close());

  const misuse = (tok: string) => [
    span.issued(tok, 0, { task: 'T-svc', agent: 'bot', audience: ['github'] }),
    span.use(tok, 5, { agent: 'bot', target: 'slack' }),
  ];
  const alertFor = (tok: string) => async () => (await h.alerts.list({ tokenId: tok })).alerts;

  it('keeps running the other detectors when one throws, and counts the failures', async () => {
    const errors: string[] = [];
    const service = await DetectorService.start({
      store: h.store.store,
      config: { ...h.config, detectIntervalMs: 50 },
      detectors: [broken, crossServiceReuse],
      onRun: (id, outcome) => {
        if (outcome instanceof Error) errors.push(`${id}: ${outcome.message}`);
      },
    });
    try {
      expect(service.mode).toBe('in-process');
      await h.send(misuse('tok-svc-1'), Date.now() - 60_000);
      const alerts = await eventually(alertFor('tok-svc-1'), (a) => a.length === 1);
      expect(alerts[0]?.detector).toBe('cross_service_reuse');
      await eventually(
        async () => errors.length,
        (n) => n >= 2,
      );
      expect(errors[0]).toBe('always_broken: boom');
      const metrics = await registry.getMetricsAsJSON();
      const failures = metrics.find((m) => m.name === 'intentwatch_detector_failures_total');
      expect(failures?.values.find((v) => v.labels.detector === 'always_broken')?.value).toBeGreaterThanOrEqual(2);
      const names = metrics.map((m) => m.name);
      expect(names).toEqual(
        expect.arrayContaining([
          'intentwatch_detector_run_duration_seconds',
          'intentwatch_detector_lag_seconds',
          'intentwatch_alerts_raised_total',
        ]),
      );
    } finally {
      await service.stop();
    }
  });

  it('resumes from the stored watermark after a restart, and alerts what arrived meanwhile', async () => {
    const before = await h.runner.watermarks.get(crossServiceReuse.id);
    expect(before).toBeGreaterThan(Date.now() - 60_000);
    // Data arrives while no detector runs.
    await h.send(misuse('tok-svc-2'), Date.now() - 60_000);
    const reports: number[] = [];
    const service = await DetectorService.start({
      store: h.store.store,
      config: { ...h.config, detectIntervalMs: 50 },
      detectors: [crossServiceReuse],
      onRun: (_id, outcome) => {
        if (!(outcome instanceof Error)) reports.push(outcome.window.sinceMs);
      },
    });
    try {
      await eventually(alertFor('tok-svc-2'), (a) => a.length === 1);
      // The first run after the restart started at the old watermark (minus the lag), not at the beginning.
      expect(reports[0]).toBe((before as number) - h.config.detectLagMs);
    } finally {
      await service.stop();
    }
  });
});
