/**
 * The simulated organisation: who works there, what each agent is for and what its tokens may
 * do. Benign agents stay inside their grants; the misuse cast (see `misuse/`) steps outside
 * them, one docs/conventions.md §2 detector each.
 */

/** One kind of call an agent makes with its token. `{n}` in a resource becomes a number. */
export interface Call {
  tool: string;
  target: string;
  scope: string;
  resource: string;
}

/** An agent that does ordinary work in task after task. */
export interface Role {
  agentId: string;
  intent: string;
  tools: string[];
  audience: string[];
  scopes: string[];
  resources: string[];
  calls: Call[];
  /** Milliseconds between calls (a little jitter is added). */
  cadenceMs: number;
  /** Calls per task before the orchestrator completes it. */
  callsPerTask: number;
  /** Refresh the token halfway through each task (same scopes: an ordinary refresh). */
  refreshes?: boolean;
  /** Delegate a narrower token to this agent by token exchange; it calls on every other step. */
  delegate?: { agentId: string; scopes: string[]; call: Call };
}

export const ENVIRONMENT = 'prod';
export const BROKER_SERVICE = 'token-broker';
export const ORCHESTRATOR_SERVICE = 'orchestrator';

/** Grant lifetimes the broker gives ordinary tasks. */
export const TOKEN_TTL_MS = 15 * 60_000;
export const TASK_DEADLINE_MS = 30 * 60_000;
export const MAX_SESSION_S = 3600;

export const BENIGN_ROLES: readonly Role[] = [
  {
    agentId: 'triage-bot',
    intent: 'Triage new issues in acme/widgets: read them and label them',
    tools: ['github.list_issues', 'github.get_issue', 'github.add_label'],
    audience: ['github'],
    scopes: ['issues:read', 'issues:write'],
    resources: ['acme/widgets/**'],
    calls: [
      { tool: 'github.list_issues', target: 'github', scope: 'issues:read', resource: 'acme/widgets/issues' },
      { tool: 'github.get_issue', target: 'github', scope: 'issues:read', resource: 'acme/widgets/issues/{n}' },
      { tool: 'github.add_label', target: 'github', scope: 'issues:write', resource: 'acme/widgets/issues/{n}/labels' },
    ],
    cadenceMs: 4000,
    callsPerTask: 30,
  },
  {
    agentId: 'docs-writer',
    intent: 'Update the release notes page for this week',
    tools: ['wiki.get_page', 'wiki.update_page'],
    audience: ['wiki'],
    scopes: ['pages:read', 'pages:write'],
    resources: ['eng/releases/**'],
    calls: [
      { tool: 'wiki.get_page', target: 'wiki', scope: 'pages:read', resource: 'eng/releases/2026-w{n}' },
      { tool: 'wiki.update_page', target: 'wiki', scope: 'pages:write', resource: 'eng/releases/2026-w{n}' },
    ],
    cadenceMs: 5000,
    callsPerTask: 24,
  },
  {
    agentId: 'report-builder',
    intent: 'Build the weekly sales report and store it',
    tools: ['warehouse.query', 'storage.put_object'],
    audience: ['warehouse', 'storage'],
    scopes: ['sales:read', 'reports:write'],
    resources: ['sales/*', 'reports/weekly/**'],
    calls: [
      { tool: 'warehouse.query', target: 'warehouse', scope: 'sales:read', resource: 'sales/orders' },
      { tool: 'warehouse.query', target: 'warehouse', scope: 'sales:read', resource: 'sales/refunds' },
      { tool: 'storage.put_object', target: 'storage', scope: 'reports:write', resource: 'reports/weekly/2026-w{n}.csv' },
    ],
    cadenceMs: 6000,
    callsPerTask: 21,
  },
  {
    agentId: 'deploy-helper',
    intent: 'Roll out widgets 2.3 through the CI pipeline and watch it',
    tools: ['ci.trigger_pipeline', 'ci.get_status'],
    audience: ['ci'],
    scopes: ['pipelines:run', 'pipelines:read'],
    resources: ['widgets/**'],
    calls: [
      { tool: 'ci.trigger_pipeline', target: 'ci', scope: 'pipelines:run', resource: 'widgets/pipelines' },
      { tool: 'ci.get_status', target: 'ci', scope: 'pipelines:read', resource: 'widgets/pipelines/{n}' },
    ],
    cadenceMs: 5000,
    callsPerTask: 24,
    refreshes: true,
    delegate: {
      agentId: 'test-runner',
      scopes: ['pipelines:read'],
      call: { tool: 'ci.get_status', target: 'ci', scope: 'pipelines:read', resource: 'widgets/pipelines/{n}/tests' },
    },
  },
];

/** Every agent that must never be named by an alert. */
export const BENIGN_AGENTS: readonly string[] = [
  ...BENIGN_ROLES.map((r) => r.agentId),
  ...BENIGN_ROLES.flatMap((r) => (r.delegate ? [r.delegate.agentId] : [])),
];

/**
 * The crawler works steadily like the benign agents (so that it has a baseline), then bursts:
 * the `usage_anomaly` episode.
 */
export const CRAWLER_ROLE: Role = {
  agentId: 'crawler-agent',
  intent: 'Index the product catalogue for search',
  tools: ['catalog.get_product'],
  audience: ['catalog-api'],
  scopes: ['catalog:read'],
  resources: ['products/**'],
  calls: [{ tool: 'catalog.get_product', target: 'catalog-api', scope: 'catalog:read', resource: 'products/{n}' }],
  cadenceMs: 6000,
  callsPerTask: 20,
};
