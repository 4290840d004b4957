import type { Finding } from '@intentwatch/alerts';
import { Lineage, msToDateTime64, registry } from '@intentwatch/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Detector } from '../define-detector.js';
import { IntentResolver } from '../intent/intent-resolver.js';
import { crossServiceReuse } from '../rules/cross_service_reuse/detector.js';
import { scenarios as crossServiceScenarios } from '../rules/cross_service_reuse/scenarios.js';
import { refreshExtendedSession } from '../rules/refresh_extended_session/detector.js';
import { scenarios as refreshScenarios } from '../rules/refresh_extended_session/scenarios.js';
import { scopeCreep } from '../rules/scope_creep/detector.js';
import { scenarios as scopeScenarios } from '../rules/scope_creep/scenarios.js';
import { staleTokenUse } from '../rules/stale_token_use/detector.js';
import { scenarios as staleScenarios } from '../rules/stale_token_use/scenarios.js';
import { usageAnomaly } from '../rules/usage_anomaly/detector.js';
import { burst, steady, scenarios as usageScenarios } from '../rules/usage_anomaly/scenarios.js';
import { DetectorHarness } from '../../testing/harness.js';
import { type Scenario, type ScenarioSpan, span, withSuffix } from '../../testing/scenario.js';
import { expectScenario } from '../../testing/suite.js';
import { LiveDetection } from './live-detection.js';

const LIVE: [Detector, readonly Scenario[]][] = [
  [crossServiceReuse, crossServiceScenarios],
  [scopeCreep, scopeScenarios],
  [staleTokenUse, staleScenarios],
  [refreshExtendedSession, refreshScenarios],
  [usageAnomaly, usageScenarios],
];

/** Deliveries of a scenario, in order (as the scenario suite plays them). */
function deliveries(scenario: Scenario): ScenarioSpan[][] {
  const by = new Map<number, ScenarioSpan[]>();
  for (const s of scenario.spans) by.set(s.delivery ?? 0, [...(by.get(s.delivery ?? 0) ?? []), s]);
  return [...by.entries()].sort(([a], [b]) => a - b).map(([, v]) => v);
}

function startOf(scenario: Scenario): number {
  const align = (scenario.alignStartS ?? 0) * 1000;
  const unaligned = Date.now() - 20 * 60_000;
  return align > 0 ? unaligned - (unaligned % align) : unaligned;
}

/**
 * Live detection with the scheduled runs stopped: what the collector commits is screened and
 * judged by the detectors' own SQL at once. Every scenario of the five detectors that run live
 * is played through a real collector into the embedded engine.
 */
describe('live detection', () => {
  let h: DetectorHarness;
  let live: LiveDetection;
  const liveRuns: string[] = [];
  const judged: { detector: string; finding: Finding }[] = [];

  beforeAll(async () => {
    h = await DetectorHarness.start();
    live = new LiveDetection({
      store: h.store.store,
      config: h.config,
      detectors: LIVE.map(([d]) => d),
      run: async (detector, run) => {
        liveRuns.push(`${detector.id} ${run.tokens.join(',')} ${run.agents.join(',')}`);
        await h.runner.runLive(detector, run);
      },
      record: async (detector, findings) => {
        liveRuns.push(`${detector.id} judged ${findings.map((f) => f.tokenId).join(',')}`);
        judged.push(...findings.map((f) => ({ detector: detector.id, finding: f })));
        await h.runner.recordLive(detector, findings);
      },
    });
    h.collector.onCommitted((rows) => live.observe(rows));
  });
  afterAll(async () => {
    await live?.close();
    await h?.close();
  });

  const play = async (scenario: Scenario) => {
    const baseMs = startOf(scenario);
    for (const batch of deliveries(scenario)) {
      await h.send(batch, baseMs);
      await live.idle();
    }
  };

  for (const [detector, scenarios] of LIVE) {
    for (const scenario of scenarios) {
      const inOneBatch = deliveries(scenario).length === 1;
      const name = `${detector.id}: ${scenario.name}`;
      if (scenario.expect === 'silent') {
        it(`raises nothing on a scenario the detector keeps silent on — ${name}`, async () => {
          const s = withSuffix(scenario, '~live');
          await play(s);
          expectScenario(detector, s, await h.alertsAbout(detector.id, s));
        });
      } else if (inOneBatch) {
        it(`raises, before any scheduled run, exactly the alerts a scheduled run raises — ${name}`, async () => {
          const s = withSuffix(scenario, '~live');
          await play(s);
          expectScenario(detector, s, await h.alertsAbout(detector.id, s));
        });
      } else {
        it(`raises nothing a scheduled run would not, and the scheduled run completes it — ${name}`, async () => {
          const s = withSuffix(scenario, '~live');
          await play(s);
          const expected = new Set((s.alerts ?? []).map((a) => a.tokenId));
          for (const a of await h.alertsAbout(detector.id, s)) expect(expected).toContain(a.tokenId);
          await h.run(detector);
          expectScenario(detector, s, await h.alertsAbout(detector.id, s));
        });
      }
    }
  }

  it('alerts on a burst whose back-dated baseline arrived in an earlier batch that no scheduled run has counted', async () => {
    const scenario: Scenario = {
      name: 'history first, burst later, no scheduled run between',
      expect: 'alert',
      alignStartS: 60,
      spans: [
        ...steady('tok-live-ua', 'report-bot-live', ['bigquery', 'gcs'], 0, 840, 6, 0),
        ...burst('tok-live-ua', 'report-bot-live', ['bigquery', 'gcs', 'iam', 'kms', 'pubsub', 'sql'], 965, 64, 1),
      ],
    };
    await play(scenario);
    const alerts = await h.alertsAbout(usageAnomaly.id, scenario);
    expect(alerts.map((a) => a.reason)).toEqual([
      expect.stringContaining('agent report-bot-live (mostly with token tok-live-ua) made 64 requests'),
    ]);
  });

  it('runs no detector for uses within their grants', async () => {
    const before = liveRuns.length;
    const grant = { task: 'T-live-benign', agent: 'bot-live', audience: ['github.com'], scopes: ['repo:read'], expiresIn: 3600 };
    const tokens = ['tok-live-benign-1', 'tok-live-benign-2'];
    await play({
      name: 'benign grants',
      expect: 'silent',
      spans: [span.started('T-live-benign', 0, { tools: ['read_file'] }), ...tokens.map((t) => span.issued(t, 1, grant))],
    });
    for (let i = 0; i < 3; i++) {
      await play({
        name: `benign uses ${i}`,
        expect: 'silent',
        spans: tokens.map((t) =>
          span.use(t, 10 + i, { agent: 'bot-live', target: 'api.github.com', scopes: ['repo:read'], tool: 'read_file' }),
        ),
      });
    }
    expect(liveRuns.slice(before)).toEqual([]);
    const metrics = await registry.getMetricsAsJSON();
    const skipped = metrics.find((m) => m.name === 'intentwatch_live_rows_skipped_total');
    expect(skipped?.values.reduce((n, v) => n + v.value, 0) ?? 0).toBe(0);
  });

  it('reports on /metrics how long committed batches waited to be screened, one sample per batch', async () => {
    const count = async (name: string) =>
      (await registry.getMetricsAsJSON())
        .find((m) => m.name === name)
        ?.values.find((v) => (v as { metricName?: string }).metricName === `${name}_count`)?.value ?? 0;
    const [cycles, delays] = [await count('intentwatch_live_screen_cycle_seconds'), await count('intentwatch_live_screen_delay_seconds')];
    await play({
      name: 'two batches screened',
      expect: 'silent',
      spans: [
        span.started('T-live-metrics', 0, { tools: ['read_file'], delivery: 0 }),
        span.started('T-live-metrics-2', 0, { tools: ['read_file'], delivery: 1 }),
      ],
    });
    expect(await count('intentwatch_live_screen_delay_seconds')).toBeGreaterThanOrEqual(delays + 2);
    expect(await count('intentwatch_live_screen_cycle_seconds')).toBeGreaterThan(cycles);
  });

  it('judges uses and lifecycle events in memory exactly as the detectors’ SQL does: same key, severity, reason and evidence for every finding', async () => {
    const judging = LIVE.filter(([d]) => d.judgeUse || d.judgeEvent).map(([d]) => d);
    expect(judging.map((d) => d.id).sort()).toEqual(['cross_service_reuse', 'refresh_extended_session', 'scope_creep', 'stale_token_use']);
    for (const detector of judging) {
      const mine = judged.filter((j) => j.detector === detector.id).map((j) => j.finding);
      expect(mine.length).toBeGreaterThan(0);
      // The detector's SQL over all that was ingested, with nothing re-examined.
      const window = { sinceMs: 0, untilMs: Date.now(), recheckSinceMs: 0, recheck: false, recheckTokens: [], recheckTasks: [] };
      const sql = await detector.detect({
        store: h.store.store,
        config: h.config,
        now: Date.now(),
        window,
        intent: new IntentResolver(h.store.store),
        lineage: new Lineage(h.store.store),
        params: {
          since: msToDateTime64(0),
          until: msToDateTime64(Date.now()),
          recheckSince: msToDateTime64(0),
          recheckTokens: [],
          recheckTasks: [],
          onlyTokens: [],
          onlyAgents: [],
          skewMs: h.config.clockSkewMs,
          graceMs: h.config.graceMs,
        },
      });
      const shape = (f: Finding) => ({
        key: f.key,
        severity: f.severity,
        reason: f.reason,
        tokenId: f.tokenId,
        agentId: f.agentId,
        taskId: f.taskId,
        caller: f.caller,
        target: f.target,
        environment: f.environment,
        evidence: `${f.evidence.traceId}/${f.evidence.spanId}@${Date.parse(f.evidence.time)}`,
      });
      const bySql = new Map(sql.map((f) => [`${f.key} ${f.evidence.traceId}/${f.evidence.spanId}`, shape(f)]));
      for (const f of mine)
        expect({ detector: detector.id, ...shape(f) }).toEqual({
          detector: detector.id,
          ...bySql.get(`${f.key} ${f.evidence.traceId}/${f.evidence.spanId}`),
        });
    }
  });

  it('records what it found so that a scheduled pass over the whole history adds nothing', async () => {
    for (const [detector] of LIVE) {
      await h.runner.watermarks.set(detector.id, 0);
      h.runner.forgetWatermarks();
      const again = await h.run(detector);
      expect({ detector: detector.id, raised: again.raised, newHits: again.newHits }).toEqual({
        detector: detector.id,
        raised: 0,
        newHits: 0,
      });
    }
  });
});
