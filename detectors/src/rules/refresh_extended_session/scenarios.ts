import { type Scenario, span } from '../../test-support/scenario.js';

const { issued, refreshed, exchanged, use, started, ended } = span;

/** Named cases for refresh_extended_session: after-task refresh, over-long session, past deadline; benign refresh. */
export const scenarios: Scenario[] = [
  {
    name: 'a session is refreshed after its task completed',
    expect: 'alert',
    spans: [
      started('T-res-1', 0, { agent: 'triage-bot', tools: ['list_issues'] }),
      issued('tok-res-a0', 1, { task: 'T-res-1', agent: 'triage-bot', audience: ['github'], expiresIn: 900, maxSession: 7200 }),
      refreshed('tok-res-a1', 'tok-res-a0', 800, { task: 'T-res-1', agent: 'triage-bot', audience: ['github'], expiresIn: 900 }),
      ended('T-res-1', 1000, 'completed'),
      refreshed('tok-res-a2', 'tok-res-a1', 1600, { task: 'T-res-1', agent: 'triage-bot', audience: ['github'], expiresIn: 900 }),
    ],
    alerts: [
      {
        tokenId: 'tok-res-a2',
        rootTokenId: 'tok-res-a0',
        severity: 'high',
        reason: [
          'the session of token tok-res-a0 issued to agent triage-bot for task T-res-1',
          'was refreshed as token tok-res-a2',
          '600 s after task T-res-1 ended (completed',
        ],
      },
    ],
  },
  {
    name: 'a session refreshed beyond token.max_session_s',
    expect: 'alert',
    spans: [
      issued('tok-res-b0', 0, { task: 'T-res-2', agent: 'sync-bot', audience: ['salesforce'], expiresIn: 600, maxSession: 1800 }),
      refreshed('tok-res-b1', 'tok-res-b0', 590, { task: 'T-res-2', agent: 'sync-bot', audience: ['salesforce'], expiresIn: 600 }),
      refreshed('tok-res-b2', 'tok-res-b1', 1180, { task: 'T-res-2', agent: 'sync-bot', audience: ['salesforce'], expiresIn: 600 }),
      refreshed('tok-res-b3', 'tok-res-b2', 1770, { task: 'T-res-2', agent: 'sync-bot', audience: ['salesforce'], expiresIn: 600 }),
      refreshed('tok-res-b4', 'tok-res-b3', 2360, { task: 'T-res-2', agent: 'sync-bot', audience: ['salesforce'], expiresIn: 600 }),
      use('tok-res-b4', 2400, { agent: 'sync-bot', target: 'salesforce' }),
    ],
    alerts: [
      {
        tokenId: 'tok-res-b4',
        rootTokenId: 'tok-res-b0',
        severity: 'high',
        count: 2,
        reason: [
          'the session of token tok-res-b0 issued to agent sync-bot for task T-res-2',
          'with a session limit of 1800 s',
          'refreshed as token tok-res-b4',
          '2360 s after the session began, beyond its 1800 s limit',
        ],
      },
    ],
  },
  {
    name: 'a session still in use past the task deadline',
    expect: 'alert',
    spans: [
      started('T-res-3', 0, { agent: 'etl-bot', deadlineIn: 600 }),
      issued('tok-res-c0', 1, { task: 'T-res-3', agent: 'etl-bot', audience: ['snowflake'], expiresIn: 3600 }),
      use('tok-res-c0', 300, { agent: 'etl-bot', target: 'snowflake' }),
      use('tok-res-c0', 1300, { agent: 'etl-bot', target: 'snowflake' }),
    ],
    alerts: [
      {
        tokenId: 'tok-res-c0',
        severity: 'high',
        count: 1,
        reason: [
          'token tok-res-c0 issued to agent etl-bot for task T-res-3',
          'was used as token tok-res-c0',
          '700 s past the deadline of task T-res-3',
        ],
      },
    ],
  },
  {
    name: 'a task end that arrives after the refresh it makes late',
    expect: 'alert',
    spans: [
      issued('tok-res-d0', 0, { task: 'T-res-4', agent: 'triage-bot', audience: ['github'], maxSession: 7200, delivery: 0 }),
      refreshed('tok-res-d1', 'tok-res-d0', 500, { agent: 'triage-bot', audience: ['github'], delivery: 0 }),
      ended('T-res-4', 300, 'cancelled', { delivery: 1, viaJson: true }),
    ],
    alerts: [{ tokenId: 'tok-res-d1', rootTokenId: 'tok-res-d0', severity: 'high', reason: ['200 s after task T-res-4 ended (cancelled'] }],
  },
  {
    name: 'a benign refresh within the session limit, while the task runs',
    expect: 'silent',
    spans: [
      started('T-res-5', 0, { agent: 'triage-bot', deadlineIn: 3600 }),
      issued('tok-res-e0', 1, { task: 'T-res-5', agent: 'triage-bot', audience: ['github'], expiresIn: 900, maxSession: 3600 }),
      refreshed('tok-res-e1', 'tok-res-e0', 850, { task: 'T-res-5', agent: 'triage-bot', audience: ['github'], expiresIn: 900 }),
      refreshed('tok-res-e2', 'tok-res-e1', 1700, { task: 'T-res-5', agent: 'triage-bot', audience: ['github'], expiresIn: 900 }),
      use('tok-res-e2', 1750, { agent: 'triage-bot', target: 'github' }),
      exchanged('tok-res-e3', 'tok-res-e2', 1800, { task: 'T-res-5', agent: 'coder', audience: ['github'] }),
      use('tok-res-e3', 1810, { agent: 'coder', target: 'github' }),
      ended('T-res-5', 2000, 'completed'),
    ],
  },
  {
    name: 'a use just past the session limit, within the clock-skew tolerance',
    expect: 'silent',
    spans: [
      issued('tok-res-f0', 0, { task: 'T-res-6', agent: 'sync-bot', audience: ['salesforce'], maxSession: 600 }),
      refreshed('tok-res-f1', 'tok-res-f0', 590, { task: 'T-res-6', agent: 'sync-bot', audience: ['salesforce'] }),
      use('tok-res-f1', 615, { agent: 'sync-bot', target: 'salesforce' }),
    ],
  },
  {
    name: 'a refresh seconds past a short session limit (broker clock on both sides: no skew)',
    expect: 'alert',
    spans: [
      issued('tok-res-g0', 0, { task: 'T-res-7', agent: 'sync-bot', audience: ['salesforce'], maxSession: 60 }),
      refreshed('tok-res-g1', 'tok-res-g0', 30, { task: 'T-res-7', agent: 'sync-bot', audience: ['salesforce'] }),
      refreshed('tok-res-g2', 'tok-res-g1', 70, { task: 'T-res-7', agent: 'sync-bot', audience: ['salesforce'] }),
    ],
    alerts: [
      {
        tokenId: 'tok-res-g2',
        rootTokenId: 'tok-res-g0',
        severity: 'high',
        reason: ['70 s after the session began, beyond its 60 s limit'],
      },
    ],
  },
];
