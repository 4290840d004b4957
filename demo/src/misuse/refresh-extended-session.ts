import { withTask } from '@intentwatch/sdk';
import { type Episode, MINUTE } from './episode.js';

/**
 * `sync-agent` finished its task five minutes ago, but keeps its session alive: it refreshes
 * the token again, past the end of the task and past the session's ten-minute limit. The task
 * and the earlier, ordinary part of the session are written back-dated.
 */
export const refreshExtendedSession: Episode = {
  detector: 'refresh_extended_session',
  agents: ['sync-agent'],
  summary: 'a session refreshed after its task ended and beyond max_session_s',
  async run(ctx, clock) {
    const now = clock.now();
    const taskId = `T-${ctx.tag}-sync`;
    const began = now - 14 * MINUTE;
    const grant = {
      agentId: 'sync-agent',
      taskId,
      audience: ['storage'],
      scopes: ['docs:read', 'docs:write'],
      resources: ['docs-mirror/**'],
      maxSessionS: 600,
      environment: ctx.environment,
    };
    ctx.tasks.started({
      id: taskId,
      agentId: 'sync-agent',
      intent: 'Mirror the docs bucket to the backup region',
      tools: ['storage.copy_object'],
      deadline: now + 30 * MINUTE,
      time: began,
    });
    const root = ctx.broker.issue({ ...grant, expiresAt: began + 8 * MINUTE, time: began });
    const sync = ctx.agent('sync-agent');
    const copy = { tool: 'storage.copy_object', target: 'storage', scope: 'docs:write', resource: 'docs-mirror/guides/{n}.md' };
    withTask({ id: taskId, agentId: 'sync-agent' }, () => {
      for (let m = 1; m <= 6; m++) sync.use(root.secret, copy, began + m * 30_000);
    });
    const refreshed = ctx.broker.refresh(root, { ...grant, expiresAt: now + 8 * MINUTE, time: now - 7 * MINUTE });
    withTask({ id: taskId, agentId: 'sync-agent' }, () => {
      for (let m = 1; m <= 4; m++) sync.use(refreshed.secret, copy, now - 7 * MINUTE + m * 20_000);
    });
    ctx.tasks.ended(taskId, 'completed', { agentId: 'sync-agent', time: now - 5 * MINUTE });
    // Five minutes after the task ended, 14 minutes into a 10-minute session: refreshed again.
    await clock.sleep(200);
    ctx.broker.refresh(refreshed, { ...grant, expiresAt: clock.now() + 15 * MINUTE, time: clock.now() });
  },
};
