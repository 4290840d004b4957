import { type Scenario, span } from '../../../testing/scenario.js';

const { issued, refreshed, exchanged, renewed, revoked, use, started, ended } = span;

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
  {
    name: 'a revoked session is refreshed (the broker still honours its refresh token)',
    expect: 'alert',
    spans: [
      issued('tok-res-v0', 0, { task: 'T-res-20', agent: 'ops-bot', audience: ['github'], expiresIn: 900 }),
      revoked('tok-res-v0', 60, { reason: 'agent offboarded' }),
      refreshed('tok-res-v1', 'tok-res-v0', 90, { task: 'T-res-20', agent: 'ops-bot', audience: ['github'], expiresIn: 900 }),
    ],
    alerts: [
      {
        tokenId: 'tok-res-v1',
        rootTokenId: 'tok-res-v0',
        severity: 'critical',
        reason: [
          'refreshed as token tok-res-v1',
          '30 s after token tok-res-v0 was revoked (agent offboarded)',
          'the refresh renews a revoked session',
        ],
      },
    ],
  },
  {
    name: 'a revocation that arrives (as JSON) after the refresh it makes a renewal of a revoked session',
    expect: 'alert',
    spans: [
      issued('tok-res-lv0', 0, { task: 'T-res-21', agent: 'ops-bot', audience: ['github'], expiresIn: 900, delivery: 0 }),
      refreshed('tok-res-lv1', 'tok-res-lv0', 90, {
        task: 'T-res-21',
        agent: 'ops-bot',
        audience: ['github'],
        expiresIn: 900,
        delivery: 0,
      }),
      revoked('tok-res-lv0', 60, { reason: 'agent offboarded', delivery: 1, viaJson: true }),
    ],
    alerts: [
      { tokenId: 'tok-res-lv1', rootTokenId: 'tok-res-lv0', severity: 'critical', reason: ['30 s after token tok-res-lv0 was revoked'] },
    ],
  },
  {
    name: 'a refresh before the session is revoked',
    expect: 'silent',
    spans: [
      issued('tok-res-ok0', 0, { task: 'T-res-22', agent: 'ops-bot', audience: ['github'], expiresIn: 900 }),
      refreshed('tok-res-ok1', 'tok-res-ok0', 50, { task: 'T-res-22', agent: 'ops-bot', audience: ['github'], expiresIn: 900 }),
      revoked('tok-res-ok1', 100, { reason: 'task done' }),
    ],
  },
  {
    name: 'a delegated session refreshed after its delegator was revoked',
    expect: 'alert',
    spans: [
      issued('tok-res-dp', 0, { task: 'T-res-23', agent: 'planner', audience: ['github'], expiresIn: 900 }),
      exchanged('tok-res-dx', 'tok-res-dp', 10, { task: 'T-res-23', agent: 'coder', audience: ['github'], expiresIn: 900 }),
      revoked('tok-res-dp', 60, { reason: 'task cancelled' }),
      refreshed('tok-res-dx1', 'tok-res-dx', 100, { task: 'T-res-23', agent: 'coder', audience: ['github'], expiresIn: 900 }),
    ],
    alerts: [
      {
        tokenId: 'tok-res-dx1',
        rootTokenId: 'tok-res-dx',
        severity: 'critical',
        reason: ['40 s after token tok-res-dp, from which the session was delegated, was revoked (task cancelled)'],
      },
    ],
  },
  {
    name: 'a token renewed past token.max_session_s (renewals count toward the session)',
    expect: 'alert',
    spans: [
      issued('tok-res-rn', 0, { task: 'T-res-24', agent: 'vault-bot', audience: ['vault'], expiresIn: 300, maxSession: 600 }),
      renewed('tok-res-rn', 290, { expiresIn: 300 }),
      renewed('tok-res-rn', 580, { expiresIn: 300 }),
      renewed('tok-res-rn', 870, { expiresIn: 300 }),
    ],
    alerts: [
      {
        tokenId: 'tok-res-rn',
        severity: 'high',
        reason: [
          'token tok-res-rn issued to agent vault-bot for task T-res-24',
          'was renewed (token tok-res-rn)',
          '870 s after the session began, beyond its 600 s limit',
        ],
      },
    ],
  },
  {
    name: 'renewals within token.max_session_s',
    expect: 'silent',
    spans: [
      issued('tok-res-rk', 0, { task: 'T-res-25', agent: 'vault-bot', audience: ['vault'], expiresIn: 300, maxSession: 1200 }),
      renewed('tok-res-rk', 290, { expiresIn: 300 }),
      renewed('tok-res-rk', 580, { expiresIn: 300 }),
      use('tok-res-rk', 800, { agent: 'vault-bot', target: 'vault' }),
    ],
  },
];
