import { type Scenario, span } from '../../test-support/scenario.js';

const { issued, revoked, use, started, ended } = span;

/** Named cases for stale_token_use: expiry, revocation, task end; skew tolerance; late lifecycle events. */
export const scenarios: Scenario[] = [
  {
    name: 'a token is used two minutes after it expired',
    expect: 'alert',
    spans: [
      issued('tok-st-exp', 0, { task: 'T-st-1', agent: 'report-bot', audience: ['bigquery'], expiresIn: 300 }),
      use('tok-st-exp', 100, { agent: 'report-bot', target: 'bigquery' }),
      use('tok-st-exp', 420, { agent: 'report-bot', target: 'bigquery' }),
    ],
    alerts: [
      {
        tokenId: 'tok-st-exp',
        severity: 'high',
        count: 1,
        reason: [
          'token tok-st-exp issued to agent report-bot for task T-st-1 with audience [bigquery] was used by agent report-bot against bigquery',
          '120 s after it expired',
        ],
      },
    ],
  },
  {
    name: 'a token is used after it was revoked',
    expect: 'alert',
    spans: [
      issued('tok-st-rev', 0, { task: 'T-st-2', agent: 'report-bot', audience: ['bigquery'], expiresIn: 3600 }),
      use('tok-st-rev', 10, { agent: 'report-bot', target: 'bigquery' }),
      revoked('tok-st-rev', 60, { reason: 'agent decommissioned' }),
      use('tok-st-rev', 65, { agent: 'report-bot', target: 'bigquery' }),
    ],
    alerts: [{ tokenId: 'tok-st-rev', severity: 'critical', count: 1, reason: ['5 s after it was revoked (agent decommissioned)'] }],
  },
  {
    name: 'a token is used after its task completed',
    expect: 'alert',
    spans: [
      started('T-st-3', 0, { agent: 'report-bot', tools: ['run_query'] }),
      issued('tok-st-task', 1, { task: 'T-st-3', agent: 'report-bot', audience: ['bigquery'], expiresIn: 3600 }),
      use('tok-st-task', 20, { agent: 'report-bot', target: 'bigquery' }),
      ended('T-st-3', 100, 'completed'),
      use('tok-st-task', 400, { agent: 'report-bot', target: 'bigquery' }),
    ],
    alerts: [{ tokenId: 'tok-st-task', severity: 'high', count: 1, reason: ['300 s after the task ended (completed'] }],
  },
  {
    name: 'a revocation that arrives after the use it makes stale',
    expect: 'alert',
    spans: [
      issued('tok-st-late', 0, { task: 'T-st-4', agent: 'report-bot', audience: ['bigquery'], delivery: 0 }),
      use('tok-st-late', 30, { agent: 'report-bot', target: 'bigquery', delivery: 0 }),
      revoked('tok-st-late', 20, { delivery: 1, viaJson: true }),
    ],
    alerts: [{ tokenId: 'tok-st-late', severity: 'critical', reason: ['10 s after it was revoked'] }],
  },
  {
    name: 'a use within the clock-skew tolerance after expiry',
    expect: 'silent',
    spans: [
      issued('tok-st-skew', 0, { task: 'T-st-5', agent: 'report-bot', audience: ['bigquery'], expiresIn: 300 }),
      use('tok-st-skew', 310, { agent: 'report-bot', target: 'bigquery' }),
    ],
  },
  {
    name: 'uses before expiry, before revocation and before the task ends',
    expect: 'silent',
    spans: [
      started('T-st-6', 0, { agent: 'report-bot' }),
      issued('tok-st-ok', 1, { task: 'T-st-6', agent: 'report-bot', audience: ['bigquery'], expiresIn: 600 }),
      use('tok-st-ok', 100, { agent: 'report-bot', target: 'bigquery' }),
      use('tok-st-ok', 200, { agent: 'report-bot', target: 'bigquery' }),
      ended('T-st-6', 250, 'completed'),
      revoked('tok-st-ok', 251),
    ],
  },
  {
    name: 'a use whose grant arrives later',
    expect: 'silent',
    spans: [
      use('tok-st-grant-late', 0, { agent: 'report-bot', target: 'bigquery', delivery: 0 }),
      issued('tok-st-grant-late', 10, { task: 'T-st-7', agent: 'report-bot', audience: ['bigquery'], expiresIn: 600, delivery: 1 }),
    ],
  },
];
