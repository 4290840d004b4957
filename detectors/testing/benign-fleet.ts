import { steady } from '../src/rules/usage_anomaly/scenarios.js';
import { type ScenarioSpan, span } from './scenario.js';

/**
 * A benign organisation over 20 minutes: agents on tasks with task-scoped tokens, used within
 * their audience, scopes, resources and tools, refreshed within their session limits, delegated
 * to sub-agents by narrower exchanges; tasks end after their last use and tokens are revoked
 * after it; steady background usage long enough to pass the anomaly warm-up. Nothing here may
 * alert.
 */
export function benignFleet(): ScenarioSpan[] {
  const out: ScenarioSpan[] = [];
  const agents = ['triage-bot', 'report-bot', 'deploy-bot', 'support-bot'];
  agents.forEach((agent, a) => {
    for (let t = 0; t < 3; t++) {
      const task = `T-benign-${a}-${t}`;
      const start = 60 + t * 300 + a * 7;
      const root = `tok-benign-${a}-${t}`;
      const refreshedTok = `${root}-r`;
      const sub = `${root}-x`;
      const tools = ['search', 'read_file', 'comment'];
      out.push(span.started(task, start, { agent, intent: `routine work ${t}`, tools, deadlineIn: 1800 }));
      out.push(
        span.issued(root, start + 1, {
          task,
          agent,
          audience: ['github', 'jira'],
          scopes: ['repo:read', 'issues:write'],
          resources: ['repos/acme/**', 'projects/OPS/*'],
          expiresIn: 300,
          maxSession: 1800,
          env: 'prod',
        }),
      );
      for (let i = 0; i < 5; i++) {
        out.push(
          span.use(root, start + 10 + i * 20, {
            agent,
            env: 'prod',
            target: i % 2 ? 'jira' : 'github',
            scopes: [i % 2 ? 'issues:write' : 'repo:read'],
            resource: i % 2 ? 'projects/OPS/12' : `repos/acme/api/file${i}.ts`,
            tool: tools[i % tools.length] as string,
            task,
          }),
        );
      }
      out.push(
        span.refreshed(refreshedTok, root, start + 250, {
          task,
          agent,
          audience: ['github', 'jira'],
          scopes: ['repo:read', 'issues:write'],
          resources: ['repos/acme/**', 'projects/OPS/*'],
          expiresIn: 300,
          env: 'prod',
        }),
      );
      out.push(
        span.exchanged(sub, refreshedTok, start + 255, {
          task,
          agent: `${agent}-helper`,
          audience: ['github'],
          scopes: ['repo:read'],
          resources: ['repos/acme/api/**'],
          expiresIn: 120,
          env: 'prod',
        }),
      );
      out.push(
        span.use(refreshedTok, start + 260, { agent, env: 'prod', target: 'jira', scopes: ['issues:write'], tool: 'comment', task }),
      );
      out.push(
        span.use(sub, start + 265, {
          agent: `${agent}-helper`,
          env: 'prod',
          target: 'github',
          scopes: ['repo:read'],
          resource: 'repos/acme/api/README.md',
          tool: 'read_file',
          task,
        }),
      );
      out.push(span.ended(task, start + 280, 'completed'));
      out.push(span.revoked(refreshedTok, start + 281, { reason: 'task completed' }));
      out.push(span.revoked(sub, start + 281, { reason: 'task completed' }));
    }
  });
  // A long-running service account: steady usage over the whole window, within its grant.
  out.push(span.issued('tok-benign-svc', 0, { agent: 'metrics-bot', audience: ['prometheus', 'grafana'], expiresIn: 7200 }));
  out.push(...steady('tok-benign-svc', 'metrics-bot', ['prometheus', 'grafana'], 5, 1150, 6));
  // Renewed (Vault-style) well within its life and the default session limit.
  out.push(span.renewed('tok-benign-svc', 600, { expiresIn: 7200 }));
  return out;
}
