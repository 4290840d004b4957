import { type Scenario, span } from '../../../testing/scenario.js';

const { issued, refreshed, exchanged, revoked, use } = span;

/** Named cases for ungoverned_token: a token nobody granted; late grants within the grace window are not. */
export const scenarios: Scenario[] = [
  {
    name: 'a static key used by an agent, with no grant ever',
    expect: 'alert',
    spans: [
      use('tok-ug-static', 0, { agent: 'legacy-bot', target: 'openai', task: 'T-ug-1' }),
      use('tok-ug-static', 5, { agent: 'legacy-bot', target: 'openai', task: 'T-ug-1' }),
    ],
    alerts: [
      {
        tokenId: 'tok-ug-static',
        severity: 'medium',
        count: 2,
        reason: [
          'token tok-ug-static was used by agent legacy-bot against openai for task T-ug-1',
          'no issued, refreshed or exchanged event describes it',
        ],
      },
    ],
  },
  {
    name: 'a token that was only ever revoked',
    expect: 'alert',
    spans: [revoked('tok-ug-revonly', 0), use('tok-ug-revonly', 5, { agent: 'legacy-bot', target: 'openai' })],
    alerts: [{ tokenId: 'tok-ug-revonly', severity: 'medium', reason: ['no issued, refreshed or exchanged event'] }],
  },
  {
    name: 'a use whose grant arrives later, within the grace window',
    expect: 'silent',
    spans: [
      use('tok-ug-late', 0, { agent: 'triage-bot', target: 'github', delivery: 0 }),
      issued('tok-ug-late', 10, { task: 'T-ug-2', agent: 'triage-bot', audience: ['github'], delivery: 1 }),
    ],
  },
  {
    name: 'refreshed and exchanged tokens are governed',
    expect: 'silent',
    spans: [
      issued('tok-ug-root', 0, { task: 'T-ug-3', agent: 'planner', audience: ['github'] }),
      refreshed('tok-ug-refr', 'tok-ug-root', 100, { task: 'T-ug-3', agent: 'planner', audience: ['github'] }),
      exchanged('tok-ug-exch', 'tok-ug-refr', 110, { task: 'T-ug-3', agent: 'coder', audience: ['github'], viaJson: true }),
      use('tok-ug-refr', 105, { agent: 'planner', target: 'github' }),
      use('tok-ug-exch', 115, { agent: 'coder', target: 'github' }),
    ],
  },
];
