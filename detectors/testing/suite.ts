import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert } from '@intentwatch/alerts';
import type { Detector } from '../src/define-detector.js';
import { DetectorHarness, shuffled } from './harness.js';
import { type Scenario, withSuffix } from './scenario.js';

export interface SuiteOptions {
  /** Extra configuration for this detector's harness. */
  env?: NodeJS.ProcessEnv;
  /** Also replay each scenario with its spans delivered one by one in a shuffled order (default true). */
  shuffle?: boolean;
}

/** Checks the alerts about a scenario against what it expects. */
export function expectScenario(detector: Detector, scenario: Scenario, alerts: Alert[]): void {
  if (scenario.expect === 'silent') {
    expect(alerts.map((a) => a.reason)).toEqual([]);
    return;
  }
  const expected = scenario.alerts ?? [];
  expect(alerts.map((a) => `${a.tokenId} ${a.severity}`).sort()).toEqual(expected.map((e) => `${e.tokenId} ${e.severity}`).sort());
  for (const e of expected) {
    const a = alerts.find((x) => x.tokenId === e.tokenId && x.severity === e.severity) as Alert;
    expect(a.detector).toBe(detector.id);
    expect(a.frameworks).toEqual([...detector.frameworks]);
    expect(a.status).toBe('open');
    for (const part of e.reason) expect(a.reason).toContain(part);
    if (e.count !== undefined) expect(a.count).toBe(e.count);
    expect(a.rootTokenId).toBe(e.rootTokenId ?? e.tokenId);
    expect(a.evidence.length).toBeGreaterThan(0);
  }
}

/**
 * The standard test of a detector: every scenario through the collector into the real engine,
 * fired or silent as it says; the same scenario delivered in a shuffled order gives the same
 * alerts; and replaying all the data again changes no alert.
 */
export function describeScenarios(detector: Detector, scenarios: readonly Scenario[], options: SuiteOptions = {}): void {
  describe(`${detector.id} scenarios`, () => {
    let h: DetectorHarness;
    beforeAll(async () => {
      h = await DetectorHarness.start(options.env);
    });
    afterAll(async () => h?.close());

    for (const scenario of scenarios) {
      it(`${scenario.expect === 'alert' ? 'alerts' : 'stays silent'}: ${scenario.name}`, async () => {
        expectScenario(detector, scenario, await h.play(detector, scenario));
      });
    }

    if (options.shuffle !== false) {
      scenarios.forEach((scenario, i) => {
        it(`gives the same result out of order: ${scenario.name}`, async () => {
          const replay = withSuffix(scenario, '~shuffled');
          expectScenario(detector, replay, await h.play(detector, replay, { order: shuffled(replay.spans.length, 1000 + i) }));
        });
      });
    }

    it('changes no alert when the whole history is examined again (idempotent)', async () => {
      const before = await h.alerts.list({ detector: detector.id, limit: 500 });
      await h.runner.watermarks.set(detector.id, 0);
      h.runner.forgetWatermarks();
      const report = await h.run(detector);
      expect(report.findings).toBeGreaterThan(0);
      expect(report).toMatchObject({ raised: 0, updated: 0, newHits: 0 });
      const after = await h.alerts.list({ detector: detector.id, limit: 500 });
      expect(after.alerts).toEqual(before.alerts);
    });
  });
}
