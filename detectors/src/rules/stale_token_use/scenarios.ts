import { type Scenario, span } from '../../../testing/scenario.js';

const { issued, refreshed, exchanged, renewed, revoked, use, started, ended } = span;

/**
 * Named cases for stale_token_use: expiry (and renewal), revocation (own, through the session,
 * through a delegator), task end; skew tolerance; late lifecycle events.
 */
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
  {
    name: 'a session refreshed after its revocation is used: the revocation of the root reaches the refreshed token',
    expect: 'alert',
    spans: [
      issued('tok-st-s0', 0, { task: 'T-st-8', agent: 'ops-bot', audience: ['github'], expiresIn: 3600 }),
      use('tok-st-s0', 30, { agent: 'ops-bot', target: 'github' }),
      revoked('tok-st-s0', 60, { reason: 'agent offboarded' }),
      refreshed('tok-st-s1', 'tok-st-s0', 90, { task: 'T-st-8', agent: 'ops-bot', audience: ['github'], expiresIn: 3600 }),
      use('tok-st-s1', 100, { agent: 'ops-bot', target: 'github' }),
    ],
    alerts: [
      {
        tokenId: 'tok-st-s1',
        rootTokenId: 'tok-st-s0',
        severity: 'critical',
        count: 1,
        reason: [
          'token tok-st-s1 refreshed to agent ops-bot',
          '40 s after its session was revoked: token tok-st-s0 of the same session was revoked (agent offboarded)',
        ],
      },
    ],
  },
  {
    name: 'revoking the latest refresh ends the whole session: the root used afterwards',
    expect: 'alert',
    spans: [
      issued('tok-st-w0', 0, { task: 'T-st-9', agent: 'ops-bot', audience: ['github'], expiresIn: 3600 }),
      refreshed('tok-st-w1', 'tok-st-w0', 100, { task: 'T-st-9', agent: 'ops-bot', audience: ['github'], expiresIn: 3600 }),
      use('tok-st-w0', 150, { agent: 'ops-bot', target: 'github' }),
      revoked('tok-st-w1', 200, { reason: 'session killed' }),
      use('tok-st-w0', 250, { agent: 'ops-bot', target: 'github' }),
    ],
    alerts: [
      {
        tokenId: 'tok-st-w0',
        severity: 'critical',
        count: 1,
        reason: ['50 s after its session was revoked: token tok-st-w1 of the same session was revoked (session killed)'],
      },
    ],
  },
  {
    name: 'a delegating token is revoked and the tokens exchanged from it, transitively, are used afterwards',
    expect: 'alert',
    spans: [
      issued('tok-st-p', 0, { task: 'T-st-10', agent: 'planner', audience: ['github', 'jira'], scopes: ['repo:read', 'issues:write'] }),
      exchanged('tok-st-x', 'tok-st-p', 10, { task: 'T-st-10', agent: 'coder', audience: ['github'], scopes: ['repo:read'] }),
      exchanged('tok-st-y', 'tok-st-x', 15, { task: 'T-st-10', agent: 'tester', audience: ['github'], scopes: ['repo:read'] }),
      use('tok-st-x', 20, { agent: 'coder', target: 'github' }),
      revoked('tok-st-p', 60, { reason: 'task cancelled' }),
      use('tok-st-x', 90, { agent: 'coder', target: 'github' }),
      use('tok-st-y', 95, { agent: 'tester', target: 'github' }),
    ],
    alerts: [
      {
        tokenId: 'tok-st-x',
        severity: 'critical',
        count: 1,
        reason: [
          'token tok-st-x exchanged to agent coder',
          '30 s after token tok-st-p, from which it was delegated, was revoked (task cancelled)',
        ],
      },
      {
        tokenId: 'tok-st-y',
        severity: 'critical',
        count: 1,
        reason: ['35 s after token tok-st-p, from which it was delegated, was revoked (task cancelled)'],
      },
    ],
  },
  {
    name: "a delegator's revocation that arrives (as JSON) after the delegated use it makes stale",
    expect: 'alert',
    spans: [
      issued('tok-st-lp', 0, { task: 'T-st-11', agent: 'planner', audience: ['github'], delivery: 0 }),
      exchanged('tok-st-lx', 'tok-st-lp', 10, { task: 'T-st-11', agent: 'coder', audience: ['github'], delivery: 0 }),
      use('tok-st-lx', 80, { agent: 'coder', target: 'github', delivery: 0 }),
      revoked('tok-st-lp', 60, { reason: 'task cancelled', delivery: 1, viaJson: true }),
    ],
    alerts: [
      {
        tokenId: 'tok-st-lx',
        severity: 'critical',
        count: 1,
        reason: ['20 s after token tok-st-lp, from which it was delegated, was revoked'],
      },
    ],
  },
  {
    name: 'uses of an exchanged token before its delegator is revoked',
    expect: 'silent',
    spans: [
      issued('tok-st-bp', 0, { task: 'T-st-12', agent: 'planner', audience: ['github', 'jira'], scopes: ['repo:read', 'issues:write'] }),
      exchanged('tok-st-bx', 'tok-st-bp', 10, { task: 'T-st-12', agent: 'coder', audience: ['github'], scopes: ['repo:read'] }),
      use('tok-st-bx', 20, { agent: 'coder', target: 'github' }),
      use('tok-st-bx', 50, { agent: 'coder', target: 'github' }),
      revoked('tok-st-bp', 60, { reason: 'task done' }),
    ],
  },
  {
    name: 'revoking one session of an agent leaves its other session alone',
    expect: 'silent',
    spans: [
      issued('tok-st-a0', 0, { task: 'T-st-13', agent: 'ops-bot', audience: ['github'], expiresIn: 3600 }),
      issued('tok-st-b0', 5, { task: 'T-st-14', agent: 'ops-bot', audience: ['github'], expiresIn: 3600 }),
      refreshed('tok-st-b1', 'tok-st-b0', 40, { task: 'T-st-14', agent: 'ops-bot', audience: ['github'], expiresIn: 3600 }),
      revoked('tok-st-a0', 50, { reason: 'rotated' }),
      use('tok-st-b0', 80, { agent: 'ops-bot', target: 'github' }),
      use('tok-st-b1', 90, { agent: 'ops-bot', target: 'github' }),
    ],
  },
  {
    name: 'a renewed token used past its first expiry, within the renewal',
    expect: 'silent',
    spans: [
      issued('tok-st-rn', 0, { task: 'T-st-15', agent: 'vault-bot', audience: ['vault'], expiresIn: 300 }),
      renewed('tok-st-rn', 250, { expiresIn: 600 }),
      use('tok-st-rn', 400, { agent: 'vault-bot', target: 'vault' }),
    ],
  },
  {
    name: 'a renewed token used past the expiry its renewal set',
    expect: 'alert',
    spans: [
      issued('tok-st-rx', 0, { task: 'T-st-16', agent: 'vault-bot', audience: ['vault'], expiresIn: 300 }),
      renewed('tok-st-rx', 250, { expiresIn: 300 }),
      use('tok-st-rx', 400, { agent: 'vault-bot', target: 'vault' }),
      use('tok-st-rx', 700, { agent: 'vault-bot', target: 'vault' }),
    ],
    alerts: [{ tokenId: 'tok-st-rx', severity: 'high', count: 1, reason: ['150 s after it expired', '(as last renewed)'] }],
  },
];
