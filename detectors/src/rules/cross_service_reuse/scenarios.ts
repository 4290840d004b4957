import { type Scenario, mcpUse, span } from '../../../testing/scenario.js';

const { issued, refreshed, exchanged, use, started } = span;

/** Named cases for cross_service_reuse: each sub-case of docs/conventions.md §2 fires; benign traffic does not. */
export const scenarios: Scenario[] = [
  {
    name: 'a token issued for github is used against slack',
    expect: 'alert',
    spans: [
      started('T-csr-1', 0, { agent: 'triage-bot', tools: ['list_issues'] }),
      issued('tok-csr-aud', 1, { task: 'T-csr-1', agent: 'triage-bot', audience: ['github'], scopes: ['repo:read'], expiresIn: 3600 }),
      use('tok-csr-aud', 10, { agent: 'triage-bot', target: 'github', task: 'T-csr-1' }),
      use('tok-csr-aud', 20, { agent: 'triage-bot', target: 'slack', task: 'T-csr-1' }),
      use('tok-csr-aud', 25, { agent: 'triage-bot', target: 'slack', task: 'T-csr-1' }),
    ],
    alerts: [
      {
        tokenId: 'tok-csr-aud',
        severity: 'high',
        count: 2,
        reason: [
          'token tok-csr-aud issued to agent triage-bot for task T-csr-1 with audience [github] was used against slack by agent triage-bot',
          'slack is outside its audience [github]',
        ],
      },
    ],
  },
  {
    name: 'another agent presents the token against its own audience',
    expect: 'alert',
    spans: [
      issued('tok-csr-caller', 0, { task: 'T-csr-2', agent: 'triage-bot', audience: ['github'] }),
      use('tok-csr-caller', 10, { agent: 'triage-bot', target: 'github' }),
      use('tok-csr-caller', 30, { agent: 'exfil-bot', target: 'github' }),
    ],
    alerts: [
      { tokenId: 'tok-csr-caller', severity: 'critical', count: 1, reason: ['by agent exfil-bot', 'is not its grantee triage-bot'] },
    ],
  },
  {
    name: 'a caller without gen_ai.agent.id falls back to service.name, and that is not the grantee',
    expect: 'alert',
    spans: [
      issued('tok-csr-svc', 0, { task: 'T-csr-3', agent: 'triage-bot', audience: ['github'] }),
      use('tok-csr-svc', 5, { service: 'unknown-worker', target: 'github' }),
    ],
    alerts: [{ tokenId: 'tok-csr-svc', severity: 'critical', reason: ['agent unknown-worker is not its grantee triage-bot'] }],
  },
  {
    name: 'same agent name but another workload identity',
    expect: 'alert',
    spans: [
      issued('tok-csr-wl', 0, { task: 'T-csr-4', agent: 'deploy-bot', workload: 'spiffe://acme/ns/ci/sa/deploy', audience: ['k8s'] }),
      use('tok-csr-wl', 5, { agent: 'deploy-bot', workload: 'spiffe://acme/ns/ci/sa/deploy', target: 'k8s' }),
      use('tok-csr-wl', 9, { agent: 'deploy-bot', workload: 'spiffe://evil/sa/x', target: 'k8s' }),
    ],
    alerts: [{ tokenId: 'tok-csr-wl', severity: 'critical', count: 1, reason: ['workload spiffe://evil/sa/x is not its grantee'] }],
  },
  {
    name: 'a token issued for staging is used from production',
    expect: 'alert',
    spans: [
      issued('tok-csr-env', 0, { task: 'T-csr-5', agent: 'etl-bot', audience: ['postgres'], env: 'staging' }),
      use('tok-csr-env', 5, { agent: 'etl-bot', target: 'postgres', env: 'staging' }),
      use('tok-csr-env', 8, { agent: 'etl-bot', target: 'postgres', env: 'production' }),
    ],
    alerts: [
      {
        tokenId: 'tok-csr-env',
        severity: 'critical',
        count: 1,
        reason: ['from environment production', 'not the one it was issued for (staging)'],
      },
    ],
  },
  {
    name: 'a refreshed token used against slack alerts under its session root',
    expect: 'alert',
    spans: [
      issued('tok-csr-root', 0, { task: 'T-csr-6', agent: 'triage-bot', audience: ['github'], maxSession: 3600 }),
      span.refreshed('tok-csr-child', 'tok-csr-root', 300, { task: 'T-csr-6', agent: 'triage-bot', audience: ['github'] }),
      use('tok-csr-child', 310, { agent: 'triage-bot', target: 'slack' }),
    ],
    alerts: [
      {
        tokenId: 'tok-csr-child',
        rootTokenId: 'tok-csr-root',
        severity: 'high',
        reason: ['token tok-csr-child refreshed to agent triage-bot', 'against slack'],
      },
    ],
  },
  {
    name: 'uses inside audience, by the grantee, in its environment',
    expect: 'silent',
    spans: [
      issued('tok-csr-ok', 0, { task: 'T-csr-7', agent: 'triage-bot', audience: ['github', 'Jira'], env: 'prod' }),
      use('tok-csr-ok', 5, { agent: 'triage-bot', target: 'github', env: 'prod' }),
      use('tok-csr-ok', 6, { agent: 'triage-bot', target: 'jira', env: 'prod' }),
    ],
  },
  {
    name: 'audience entries as hosts and URLs admit the host and its subdomains',
    expect: 'silent',
    spans: [
      issued('tok-csr-hosts', 0, { task: 'T-csr-11', agent: 'triage-bot', audience: ['github.com', 'https://slack.com/api'] }),
      use('tok-csr-hosts', 5, { agent: 'triage-bot', target: 'api.github.com' }),
      use('tok-csr-hosts', 6, { agent: 'triage-bot', target: 'Slack.com' }),
    ],
  },
  {
    name: 'a host that only ends like an audience entry is outside it',
    expect: 'alert',
    spans: [
      issued('tok-csr-lookalike', 0, { task: 'T-csr-12', agent: 'triage-bot', audience: ['github.com'] }),
      use('tok-csr-lookalike', 5, { agent: 'triage-bot', target: 'evilgithub.com' }),
    ],
    alerts: [
      { tokenId: 'tok-csr-lookalike', severity: 'high', reason: ['was used against evilgithub.com', 'outside its audience [github.com]'] },
    ],
  },
  {
    name: 'a legitimate exchange to a sub-agent that uses the narrower token within its audience',
    expect: 'silent',
    spans: [
      issued('tok-csr-parent', 0, {
        task: 'T-csr-8',
        agent: 'planner',
        audience: ['github', 'jira'],
        scopes: ['repo:read', 'issues:write'],
      }),
      exchanged('tok-csr-sub', 'tok-csr-parent', 10, { task: 'T-csr-8', agent: 'coder', audience: ['github'], scopes: ['repo:read'] }),
      use('tok-csr-parent', 12, { agent: 'planner', target: 'jira' }),
      use('tok-csr-sub', 15, { agent: 'coder', target: 'github' }),
    ],
  },
  {
    name: 'a use whose grant arrives later (within the grace window)',
    expect: 'silent',
    spans: [
      use('tok-csr-late', 0, { agent: 'triage-bot', target: 'github', delivery: 0 }),
      issued('tok-csr-late', 10, { task: 'T-csr-9', agent: 'triage-bot', audience: ['github'], delivery: 1 }),
    ],
  },
  {
    name: 'a misuse whose grant arrives after the use still alerts',
    expect: 'alert',
    spans: [
      use('tok-csr-late2', 0, { agent: 'triage-bot', target: 'slack', delivery: 0 }),
      issued('tok-csr-late2', -5, { task: 'T-csr-10', agent: 'triage-bot', audience: ['github'], delivery: 1, viaJson: true }),
    ],
    alerts: [{ tokenId: 'tok-csr-late2', severity: 'high', reason: ['with audience [github] was used against slack'] }],
  },
  {
    name: 'a session refreshed for another agent (a stolen refresh token), then used by it',
    expect: 'alert',
    spans: [
      issued('tok-csr-s0', 0, { task: 'T-csr-20', agent: 'triage-bot', audience: ['github'], expiresIn: 300 }),
      refreshed('tok-csr-s1', 'tok-csr-s0', 100, { task: 'T-csr-20', agent: 'intruder-bot', audience: ['github'], expiresIn: 300 }),
      use('tok-csr-s1', 110, { agent: 'intruder-bot', target: 'github' }),
    ],
    alerts: [
      {
        tokenId: 'tok-csr-s1',
        rootTokenId: 'tok-csr-s0',
        severity: 'critical',
        reason: [
          'the session of token tok-csr-s0 issued to agent triage-bot for task T-csr-20 was refreshed as token tok-csr-s1 for agent intruder-bot',
          'a refresh keeps the grantee',
        ],
      },
    ],
  },
  {
    name: 'a refresh by another agent whose session root arrives (as JSON) after it',
    expect: 'alert',
    spans: [
      refreshed('tok-csr-ls1', 'tok-csr-ls0', 100, { task: 'T-csr-21', agent: 'intruder-bot', audience: ['github'], delivery: 0 }),
      issued('tok-csr-ls0', 0, { task: 'T-csr-21', agent: 'triage-bot', audience: ['github'], delivery: 1, viaJson: true }),
    ],
    alerts: [
      {
        tokenId: 'tok-csr-ls1',
        rootTokenId: 'tok-csr-ls0',
        severity: 'critical',
        reason: ['for agent intruder-bot', 'a refresh keeps the grantee'],
      },
    ],
  },
  {
    name: 'refreshes by the grantee, and an exchange to another agent that the sub-agent refreshes',
    expect: 'silent',
    spans: [
      issued('tok-csr-k0', 0, { task: 'T-csr-22', agent: 'planner', audience: ['github', 'jira'], scopes: ['repo:read', 'issues:write'] }),
      refreshed('tok-csr-k1', 'tok-csr-k0', 100, { task: 'T-csr-22', agent: 'planner', audience: ['github', 'jira'] }),
      exchanged('tok-csr-kx', 'tok-csr-k1', 110, { task: 'T-csr-22', agent: 'coder', audience: ['github'], scopes: ['repo:read'] }),
      refreshed('tok-csr-kx1', 'tok-csr-kx', 200, { task: 'T-csr-22', agent: 'coder', audience: ['github'], scopes: ['repo:read'] }),
      use('tok-csr-kx1', 210, { agent: 'coder', target: 'github' }),
    ],
  },
  {
    name: 'a token issued for one MCP server presented to another names both the MCP tool and the server',
    expect: 'alert',
    spans: [
      issued('tok-csr-mcp', 0, { task: 'T-csr-mcp', agent: 'helpdesk-agent', audience: ['mcp-tickets'] }),
      mcpUse('tok-csr-mcp', 5, { agent: 'helpdesk-agent', target: 'mcp-tickets', tool: 'tickets.get' }),
      mcpUse('tok-csr-mcp', 9, { agent: 'helpdesk-agent', target: 'mcp-billing', tool: 'billing.refund' }),
    ],
    alerts: [
      {
        tokenId: 'tok-csr-mcp',
        severity: 'high',
        count: 1,
        reason: [
          'with audience [mcp-tickets] was used for MCP tool billing.refund on server mcp-billing',
          'mcp-billing is outside its audience',
        ],
      },
    ],
  },
];
