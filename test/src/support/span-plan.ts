/**
 * The spans an exporter program sends and what the collector must make of each: one plan shared
 * by the sending child process and the test that reads the rows back. Every span carries its
 * sequence number (`test.seq`) so that rows map back to the plan.
 */

export type PlanValue = string | number | string[];

export interface PlannedSpan {
  seq: number;
  name: string;
  /** Start as [seconds, nanoseconds] (OpenTelemetry HrTime), exact to the nanosecond. */
  start: [number, number];
  attributes: Record<string, PlanValue>;
  /** The normalised `spans` row fields docs/conventions.md §1.1 defines. */
  expected: {
    time: string;
    token_id: string;
    task_id: string;
    agent_id: string;
    target: string;
    action: string;
    scopes: string[];
    resource: string;
    environment: string;
    caller: string;
  };
}

export const PLAN_ENVIRONMENT = 'staging';
const BASE_SECONDS = 1_795_600_800; // 2026-11-25T10:00:00Z

/** The resource of every span of a run: the caller and its environment. */
export function planResource(run: string): Record<string, string> {
  return { 'service.name': `${run}-svc`, 'deployment.environment.name': PLAN_ENVIRONMENT };
}

/** Span `seq` of run `run`: four shapes of token use, cycling. */
export function plannedSpan(run: string, seq: number): PlannedSpan {
  const caller = `${run}-svc`;
  const tokenId = `${run}-tok-${seq % 7}`;
  const taskId = `${run}-task-${seq % 3}`;
  const nanos = 123_456_000 + seq;
  const start: [number, number] = [BASE_SECONDS + seq, nanos];
  const time = `${new Date((BASE_SECONDS + seq) * 1000).toISOString().slice(0, 19)}.${String(nanos).padStart(9, '0')}Z`;
  const common = { 'test.seq': seq, 'token.id': tokenId, 'task.id': taskId };
  const base = { time, token_id: tokenId, task_id: taskId, environment: PLAN_ENVIRONMENT, caller };
  switch (seq % 4) {
    case 0:
      return {
        seq,
        name: 'GET github',
        start,
        attributes: {
          ...common,
          'gen_ai.agent.id': 'triage-bot',
          'service.peer.name': 'github',
          'http.request.method': 'GET',
          'http.route': '/repos/{owner}/{repo}/issues',
          'url.path': `/repos/acme/api/issues/${seq}`,
          'token.scope': ['repo:read', 'issues:read'],
        },
        expected: {
          ...base,
          agent_id: 'triage-bot',
          target: 'github',
          action: 'GET /repos/{owner}/{repo}/issues',
          scopes: ['repo:read', 'issues:read'],
          resource: `/repos/acme/api/issues/${seq}`,
        },
      };
    case 1:
      return {
        seq,
        name: 'PUT',
        start,
        attributes: {
          ...common,
          'gen_ai.agent.id': 'backup-bot',
          'url.full': `https://storage.example.net:9000/backups/${seq}.tar?part=1`,
          'http.request.method': 'PUT',
          'url.path': `/backups/${seq}.tar`,
          'token.scope': 'storage:write, storage:read',
          'token.resource': `buckets/backups/${seq}.tar`,
        },
        expected: {
          ...base,
          agent_id: 'backup-bot',
          target: 'storage.example.net',
          action: `PUT /backups/${seq}.tar`,
          scopes: ['storage:write', 'storage:read'],
          resource: `buckets/backups/${seq}.tar`,
        },
      };
    case 2:
      return {
        seq,
        name: 'tool call',
        start,
        attributes: {
          ...common,
          'gen_ai.agent.id': 'triage-bot',
          'gen_ai.tool.name': 'create_issue',
          'peer.service': 'jira',
          'http.request.method': 'POST',
          'http.route': '/rest/api/2/issue',
          'token.scope': 'issues:write',
        },
        expected: {
          ...base,
          agent_id: 'triage-bot',
          target: 'jira',
          action: 'create_issue',
          scopes: ['issues:write'],
          resource: '/rest/api/2/issue',
        },
      };
    default:
      // No agent id: the agent is the caller's service.name.
      return {
        seq,
        name: 'SELECT orders',
        start,
        attributes: { ...common, 'server.address': 'orders-db.internal', 'db.system.name': 'postgresql' },
        expected: {
          ...base,
          agent_id: caller,
          target: 'orders-db.internal',
          action: 'SELECT orders',
          scopes: [],
          resource: '',
        },
      };
  }
}
