import { type Scenario, type ScenarioSpan, span } from '../../../testing/scenario.js';

/** `perMinute` uses a minute, evenly spaced, from `fromS` to `toS` seconds, cycling through `targets`. */
export function steady(
  token: string,
  agent: string,
  targets: string[],
  fromS: number,
  toS: number,
  perMinute: number,
  delivery?: number,
): ScenarioSpan[] {
  const out: ScenarioSpan[] = [];
  const step = 60 / perMinute;
  for (let t = fromS, i = 0; t < toS; t += step, i++) {
    out.push(span.use(token, t, { agent, target: targets[i % targets.length] as string, ...(delivery === undefined ? {} : { delivery }) }));
  }
  return out;
}

/** `count` uses within 20 seconds from `atS`, across `targets`. */
export function burst(token: string, agent: string, targets: string[], atS: number, count: number, delivery?: number): ScenarioSpan[] {
  return Array.from({ length: count }, (_, i) =>
    span.use(token, atS + (i * 20) / count, {
      agent,
      target: targets[i % targets.length] as string,
      ...(delivery === undefined ? {} : { delivery }),
    }),
  );
}

const TARGETS = ['bigquery', 'gcs'];
const WIDE = ['bigquery', 'gcs', 'secretmanager', 'iam', 'compute', 'kms', 'pubsub', 'sql'];

/**
 * Named cases for usage_anomaly. Times are seconds after a start 20 minutes ago, on a minute
 * boundary so that a 20 s burst falls into one bucket; buckets are 60 s of event time, baselines
 * 60 buckets, warm-up 10 buckets (the defaults).
 */
export const scenarios: Scenario[] = [
  {
    name: 'an agent with 14 minutes of steady history bursts to ten times its rate across new services',
    expect: 'alert',
    alignStartS: 60,
    spans: [...steady('tok-ua-1', 'report-bot-ua', TARGETS, 0, 840, 6), ...burst('tok-ua-1', 'report-bot-ua', WIDE, 965, 64)],
    alerts: [
      {
        tokenId: 'tok-ua-1',
        severity: 'medium',
        reason: [
          'agent report-bot-ua (mostly with token tok-ua-1) made ',
          'requests against a median of 6',
          '8 distinct targets against a median of 2',
          'usage far above its own baseline',
        ],
      },
    ],
  },
  {
    name: 'the same burst arriving before its back-dated history',
    expect: 'alert',
    alignStartS: 60,
    spans: [...burst('tok-ua-2', 'report-bot-ub', WIDE, 965, 64, 0), ...steady('tok-ua-2', 'report-bot-ub', TARGETS, 0, 840, 6, 1)],
    alerts: [{ tokenId: 'tok-ua-2', severity: 'medium', reason: ['agent report-bot-ub', 'requests against a median of 6'] }],
  },
  {
    name: 'history in minutes apart (every third minute idle) delivered with the burst: each stretch counted on its own',
    expect: 'alert',
    alignStartS: 60,
    spans: [
      ...[0, 3, 6, 9, 12].flatMap((m) => steady('tok-ua-3', 'report-bot-uc', TARGETS, m * 60, m * 60 + 120, 6, 0)),
      ...steady('tok-ua-3b', 'side-bot-uc', TARGETS, 900, 960, 6, 0),
      ...burst('tok-ua-3', 'report-bot-uc', WIDE, 1025, 64, 0),
    ],
    alerts: [
      {
        tokenId: 'tok-ua-3',
        severity: 'medium',
        reason: [
          'agent report-bot-uc',
          'requests against a median of 6',
          '8 distinct targets against a median of 2',
          'over 10 baseline buckets',
        ],
      },
    ],
  },
  {
    name: 'a burst that arrives in two deliveries, neither anomalous alone: the bucket is recounted with the spans counted earlier',
    expect: 'alert',
    alignStartS: 60,
    spans: [
      ...steady('tok-ua-4', 'report-bot-ud', TARGETS, 0, 840, 6, 0),
      ...burst('tok-ua-4', 'report-bot-ud', TARGETS, 965, 12, 1),
      ...burst('tok-ua-4', 'report-bot-ud', TARGETS, 990, 12, 2),
    ],
    alerts: [{ tokenId: 'tok-ua-4', severity: 'medium', reason: ['agent report-bot-ud', '24 requests against a median of 6'] }],
  },
  {
    // Times past 2106 are storable in spans (to 2262) but not as a DateTime bucket: such a use
    // must neither fail the insert that carries it nor stop the detector's runs.
    name: 'a burst delivered with uses dated past the year 2106 (a wrong clock): the burst still alerts',
    expect: 'alert',
    alignStartS: 60,
    spans: [
      ...steady('tok-ua-5', 'report-bot-ue', TARGETS, 0, 840, 6),
      ...burst('tok-ua-5', 'report-bot-ue', WIDE, 965, 64),
      span.use('tok-ua-5', 5_000_000_000, { agent: 'report-bot-ue', target: 'bigquery' }),
      span.use('tok-ua-far', 7_000_000_000, { agent: 'far-bot-ue', target: 'gcs' }),
    ],
    alerts: [{ tokenId: 'tok-ua-5', severity: 'medium', reason: ['agent report-bot-ue', 'requests against a median of 6'] }],
  },
  {
    name: 'a new agent busy from its first minute (warm-up)',
    expect: 'silent',
    alignStartS: 60,
    spans: [...burst('tok-ua-new', 'fresh-bot-ua', WIDE, 900, 80)],
  },
  {
    name: 'a steady agent whose rate wobbles',
    expect: 'silent',
    alignStartS: 60,
    spans: [...steady('tok-ua-ok', 'steady-bot-ua', TARGETS, 0, 840, 6), ...steady('tok-ua-ok', 'steady-bot-ua', TARGETS, 840, 960, 9)],
  },
];
