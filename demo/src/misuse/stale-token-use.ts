import { withTask } from '@intentwatch/sdk';
import { type Episode, MINUTE } from './episode.js';

const TOOLS = ['tickets.search', 'tickets.archive'];

/**
 * `cleanup-agent` keeps using a token after the broker revoked it (it leaked into a build
 * log), and presents another one that expired five minutes ago.
 */
export const staleTokenUse: Episode = {
  detector: 'stale_token_use',
  agents: ['cleanup-agent'],
  summary: 'a revoked token and an expired token still in use',
  async run(ctx, clock) {
    const taskId = `T-${ctx.tag}-cleanup`;
    const start = clock.now();
    const grant = {
      agentId: 'cleanup-agent',
      taskId,
      audience: ['tickets'],
      scopes: ['tickets:read', 'tickets:write'],
      resources: ['support/**'],
      environment: ctx.environment,
    };
    ctx.tasks.started({
      id: taskId,
      agentId: 'cleanup-agent',
      intent: 'Archive support tickets closed more than a year ago',
      tools: TOOLS,
      deadline: start + 30 * MINUTE,
      time: start - 20 * MINUTE,
    });
    // Issued 20 minutes ago, valid for 15: expired five minutes ago.
    const expired = ctx.broker.issue({ ...grant, expiresAt: start - 5 * MINUTE, time: start - 20 * MINUTE });
    const current = ctx.broker.issue({ ...grant, expiresAt: start + 15 * MINUTE, time: start });
    const cleanup = ctx.agent('cleanup-agent');
    const archive = { tool: 'tickets.archive', target: 'tickets', scope: 'tickets:write', resource: 'support/tickets/{n}' };
    await withTask({ id: taskId, agentId: 'cleanup-agent' }, async () => {
      await clock.sleep(300);
      cleanup.use(
        current.secret,
        { tool: 'tickets.search', target: 'tickets', scope: 'tickets:read', resource: 'support/tickets' },
        clock.now(),
      );
      await clock.sleep(300);
      ctx.broker.revoke(current, 'credential exposed in a build log', clock.now());
      // The agent never hears of the revocation and carries on.
      for (let i = 0; i < 3; i++) {
        await clock.sleep(1500);
        cleanup.use(current.secret, archive, clock.now());
      }
      await clock.sleep(300);
      cleanup.use(expired.secret, archive, clock.now());
    });
    await clock.sleep(300);
    ctx.tasks.ended(taskId, 'completed', { agentId: 'cleanup-agent', time: clock.now() });
  },
};
