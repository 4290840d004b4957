import { withTask } from '@intentwatch/sdk';
import { type Episode, MINUTE } from './episode.js';

const TOOLS = ['logs.search'];

/**
 * `ops-agent` was given read access to the checkout service's logs for an incident. Its
 * refreshed token carries `logs:admin`, which the original did not; it reads the payments
 * service's logs, outside its resources, and deletes a log stream, a tool outside its task.
 */
export const scopeCreep: Episode = {
  detector: 'scope_creep',
  agents: ['ops-agent'],
  summary: 'a scope widened through refresh, a resource and a tool outside the grant',
  async run(ctx, clock) {
    const taskId = `T-${ctx.tag}-incident`;
    const start = clock.now();
    const grant = {
      agentId: 'ops-agent',
      taskId,
      audience: ['logs'],
      resources: ['prod/checkout/**'],
      expiresAt: start + 15 * MINUTE,
      environment: ctx.environment,
    };
    ctx.tasks.started({
      id: taskId,
      agentId: 'ops-agent',
      intent: 'Read the checkout service logs for incident INC-1042',
      tools: TOOLS,
      deadline: start + 30 * MINUTE,
      time: start,
    });
    const token = ctx.broker.issue({ ...grant, scopes: ['logs:read'], time: start });
    const ops = ctx.agent('ops-agent');
    await withTask({ id: taskId, agentId: 'ops-agent' }, async () => {
      await clock.sleep(300);
      ops.use(token.secret, { tool: 'logs.search', target: 'logs', scope: 'logs:read', resource: 'prod/checkout/api' }, clock.now());
      await clock.sleep(300);
      const wider = ctx.broker.refresh(token, { ...grant, scopes: ['logs:read', 'logs:admin'], time: clock.now() });
      await clock.sleep(300);
      ops.use(
        wider.secret,
        { tool: 'logs.search', target: 'logs', scope: 'logs:read', resource: 'prod/payments/vault-audit' },
        clock.now(),
      );
      await clock.sleep(300);
      ops.use(
        wider.secret,
        { tool: 'logs.delete_stream', target: 'logs', scope: 'logs:admin', resource: 'prod/checkout/api' },
        clock.now(),
      );
      await clock.sleep(300);
      ctx.tasks.ended(taskId, 'completed', { agentId: 'ops-agent', time: clock.now() });
      ctx.broker.revoke(wider, 'task completed', clock.now() + 10);
    });
  },
};
