import { type Scenario, mcpUse, span } from '../../../testing/scenario.js';

const { issued, refreshed, exchanged, use, started } = span;

/** Named cases for scope_creep: scope, resource, tool, and escalation through refresh or exchange. */
export const scenarios: Scenario[] = [
  {
    name: 'a use exercises a scope outside token.scopes',
    expect: 'alert',
    spans: [
      issued('tok-sc-scope', 0, { task: 'T-sc-1', agent: 'triage-bot', audience: ['github'], scopes: ['repo:read', 'issues:read'] }),
      use('tok-sc-scope', 5, { agent: 'triage-bot', target: 'github', scopes: ['repo:read'] }),
      use('tok-sc-scope', 9, { agent: 'triage-bot', target: 'github', scopes: ['repo:read', 'repo:write'] }),
    ],
    alerts: [
      {
        tokenId: 'tok-sc-scope',
        severity: 'high',
        count: 1,
        reason: [
          'token tok-sc-scope issued to agent triage-bot for task T-sc-1 with scopes [repo:read, issues:read]',
          'exercised scope repo:write',
        ],
      },
    ],
  },
  {
    name: 'a use touches a resource outside the token.resources globs',
    expect: 'alert',
    spans: [
      issued('tok-sc-res', 0, {
        task: 'T-sc-2',
        agent: 'triage-bot',
        audience: ['github'],
        resources: ['repos/acme/api/**', 'repos/acme/*/README.md'],
      }),
      use('tok-sc-res', 5, { agent: 'triage-bot', target: 'github', resource: 'repos/acme/api' }),
      use('tok-sc-res', 6, { agent: 'triage-bot', target: 'github', resource: 'repos/acme/api/issues/12' }),
      use('tok-sc-res', 7, { agent: 'triage-bot', target: 'github', resource: 'repos/acme/web/README.md' }),
      use('tok-sc-res', 8, { agent: 'triage-bot', target: 'github', resource: 'repos/acme/infra/secrets.tf' }),
    ],
    alerts: [{ tokenId: 'tok-sc-res', severity: 'high', count: 1, reason: ['touched repos/acme/infra/secrets.tf, outside its resources'] }],
  },
  {
    name: "a use invokes a tool outside the task's plan",
    expect: 'alert',
    spans: [
      started('T-sc-3', 0, { agent: 'triage-bot', intent: 'label new issues', tools: ['list_issues', 'add_label'] }),
      issued('tok-sc-tool', 1, { task: 'T-sc-3', agent: 'triage-bot', audience: ['github'] }),
      use('tok-sc-tool', 5, { agent: 'triage-bot', target: 'github', tool: 'list_issues' }),
      use('tok-sc-tool', 9, { agent: 'triage-bot', target: 'github', tool: 'delete_repo' }),
    ],
    alerts: [
      {
        tokenId: 'tok-sc-tool',
        severity: 'high',
        count: 1,
        reason: ['for task T-sc-3', "invoked tool delete_repo, outside the task's tools [list_issues, add_label] (label new issues)"],
      },
    ],
  },
  {
    name: 'a tool misuse whose task start arrives after the use still alerts',
    expect: 'alert',
    spans: [
      issued('tok-sc-late', 0, { task: 'T-sc-4', agent: 'triage-bot', audience: ['github'], delivery: 0 }),
      use('tok-sc-late', 5, { agent: 'triage-bot', target: 'github', tool: 'force_push', delivery: 0 }),
      started('T-sc-4', -1, { agent: 'triage-bot', tools: ['list_issues'], delivery: 1, viaJson: true }),
    ],
    alerts: [{ tokenId: 'tok-sc-late', severity: 'high', reason: ['invoked tool force_push'] }],
  },
  {
    name: 'a refresh widens the scopes: escalation through refresh',
    expect: 'alert',
    spans: [
      issued('tok-sc-r0', 0, { task: 'T-sc-5', agent: 'ops-bot', audience: ['aws'], scopes: ['s3:GetObject'], maxSession: 3600 }),
      refreshed('tok-sc-r1', 'tok-sc-r0', 600, {
        task: 'T-sc-5',
        agent: 'ops-bot',
        audience: ['aws'],
        scopes: ['s3:GetObject', 'iam:PassRole'],
      }),
    ],
    alerts: [
      {
        tokenId: 'tok-sc-r1',
        rootTokenId: 'tok-sc-r0',
        severity: 'critical',
        reason: [
          'token tok-sc-r1 refreshed from token tok-sc-r0',
          'carries scopes iam:PassRole that its parent did not have',
          'escalation through refresh',
        ],
      },
    ],
  },
  {
    name: 'an exchange to a sub-agent widens the audience: escalation through exchange',
    expect: 'alert',
    spans: [
      issued('tok-sc-x0', 0, { task: 'T-sc-6', agent: 'planner', audience: ['github'], scopes: ['repo:read'] }),
      exchanged('tok-sc-x1', 'tok-sc-x0', 30, {
        task: 'T-sc-6',
        agent: 'coder',
        audience: ['github', 'slack'],
        scopes: ['repo:read'],
        viaJson: true,
      }),
    ],
    alerts: [
      {
        tokenId: 'tok-sc-x1',
        rootTokenId: 'tok-sc-x0',
        severity: 'critical',
        reason: ['token tok-sc-x1 exchanged from token tok-sc-x0', 'to agent coder', 'audience slack', 'escalation through exchange'],
      },
    ],
  },
  {
    name: 'space-separated OAuth scopes compare one by one',
    expect: 'alert',
    spans: [
      issued('tok-sc-oauth', 0, { task: 'T-sc-10', agent: 'mail-bot', audience: ['gmail'], scopes: ['mail.read calendar.read'] }),
      use('tok-sc-oauth', 5, { agent: 'mail-bot', target: 'gmail', scopes: ['calendar.read mail.read'] }),
      use('tok-sc-oauth', 6, { agent: 'mail-bot', target: 'gmail', scopes: ['mail.read mail.send'] }),
    ],
    alerts: [{ tokenId: 'tok-sc-oauth', severity: 'high', count: 1, reason: ['exercised scope mail.send outside its grant'] }],
  },
  {
    name: 'a use climbs out of its granted prefix with a .. segment',
    expect: 'alert',
    spans: [
      issued('tok-sc-dots', 0, { task: 'T-sc-11', agent: 'log-bot', audience: ['s3'], resources: ['buckets/logs/**'] }),
      use('tok-sc-dots', 5, { agent: 'log-bot', target: 's3', resource: 'buckets/logs/2026/a.gz' }),
      use('tok-sc-dots', 6, { agent: 'log-bot', target: 's3', resource: 'buckets/logs/../secrets/key' }),
    ],
    alerts: [
      {
        tokenId: 'tok-sc-dots',
        severity: 'high',
        count: 1,
        reason: [
          'touched buckets/secrets/key, outside its resources',
          'sent as "buckets/logs/../secrets/key": the raw resource tried to climb out of its grant',
        ],
      },
    ],
  },
  {
    name: 'a use climbs out of its granted prefix with percent-encoded slashes and dots',
    expect: 'alert',
    spans: [
      issued('tok-sc-enc', 0, { task: 'T-sc-12', agent: 'log-bot', audience: ['s3'], resources: ['buckets/logs/**'] }),
      use('tok-sc-enc', 6, { agent: 'log-bot', target: 's3', resource: 'buckets/logs/x%2F..%2F..%2Fsecrets%2Fkey' }),
    ],
    alerts: [
      {
        tokenId: 'tok-sc-enc',
        severity: 'high',
        count: 1,
        reason: ['touched buckets/secrets/key, outside its resources', 'the raw resource tried to climb out of its grant'],
      },
    ],
  },
  {
    name: 'a resource with dot segments and repeated slashes that stay inside the grant',
    expect: 'silent',
    spans: [
      issued('tok-sc-dots-ok', 0, { task: 'T-sc-13', agent: 'log-bot', audience: ['s3'], resources: ['buckets/logs/**'] }),
      use('tok-sc-dots-ok', 5, { agent: 'log-bot', target: 's3', resource: 'buckets/logs/a/./b' }),
      use('tok-sc-dots-ok', 6, { agent: 'log-bot', target: 's3', resource: 'buckets//logs/a/../b%2Fc' }),
    ],
  },
  {
    name: 'uses within scopes, resources and tools',
    expect: 'silent',
    spans: [
      started('T-sc-7', 0, { agent: 'triage-bot', tools: ['list_issues', 'add_label'] }),
      issued('tok-sc-ok', 1, {
        task: 'T-sc-7',
        agent: 'triage-bot',
        audience: ['github'],
        scopes: ['repo:read'],
        resources: ['repos/acme/**'],
      }),
      use('tok-sc-ok', 5, {
        agent: 'triage-bot',
        target: 'github',
        scopes: ['repo:read'],
        resource: 'repos/acme/api/pulls/3',
        tool: 'add_label',
      }),
      use('tok-sc-ok', 6, { agent: 'triage-bot', target: 'github', tool: 'list_issues' }),
    ],
  },
  {
    name: 'a benign refresh with the same scopes, and a narrower exchange',
    expect: 'silent',
    spans: [
      issued('tok-sc-b0', 0, {
        task: 'T-sc-8',
        agent: 'planner',
        audience: ['github', 'jira'],
        scopes: ['repo:read', 'issues:write'],
        maxSession: 3600,
      }),
      refreshed('tok-sc-b1', 'tok-sc-b0', 900, {
        task: 'T-sc-8',
        agent: 'planner',
        audience: ['github', 'jira'],
        scopes: ['issues:write', 'repo:read'],
      }),
      exchanged('tok-sc-b2', 'tok-sc-b1', 950, { task: 'T-sc-8', agent: 'coder', audience: ['github'], scopes: ['repo:read'] }),
      use('tok-sc-b2', 960, { agent: 'coder', target: 'github', scopes: ['repo:read'] }),
    ],
  },
  {
    name: 'a task whose start arrives late, with the tool in its plan',
    expect: 'silent',
    spans: [
      issued('tok-sc-late-ok', 0, { task: 'T-sc-9', agent: 'triage-bot', audience: ['github'], delivery: 0 }),
      use('tok-sc-late-ok', 5, { agent: 'triage-bot', target: 'github', tool: 'list_issues', delivery: 0 }),
      started('T-sc-9', -1, { agent: 'triage-bot', tools: ['list_issues'], delivery: 1 }),
    ],
  },
  {
    name: "an MCP tool call outside the task's plan names the MCP tool and server",
    expect: 'alert',
    spans: [
      started('T-sc-mcp', 0, { agent: 'helpdesk-agent', intent: 'answer ticket 7', tools: ['tickets.get', 'tickets.comment'] }),
      issued('tok-sc-mcp', 1, { task: 'T-sc-mcp', agent: 'helpdesk-agent', audience: ['mcp-tickets'] }),
      mcpUse('tok-sc-mcp', 5, { agent: 'helpdesk-agent', target: 'mcp-tickets', tool: 'tickets.get', task: 'T-sc-mcp' }),
      mcpUse('tok-sc-mcp', 9, { agent: 'helpdesk-agent', target: 'mcp-tickets', tool: 'tickets.export_all', task: 'T-sc-mcp' }),
    ],
    alerts: [
      {
        tokenId: 'tok-sc-mcp',
        severity: 'high',
        count: 1,
        reason: ["invoked MCP tool tickets.export_all on server mcp-tickets, outside the task's tools [tickets.get, tickets.comment]"],
      },
    ],
  },
];
