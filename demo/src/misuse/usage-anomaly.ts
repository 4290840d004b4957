import { withTask } from '@intentwatch/sdk';
import { CRAWLER_ROLE } from '../organisation.js';
import { type Episode, MINUTE } from './episode.js';

/** Calls in the burst: far beyond the crawler's steady ten a minute. */
export const BURST_CALLS = 400;

/**
 * `crawler-agent` has crawled the catalogue at a steady pace for as long as the monitor has
 * seen it (the history written at start-up gives it a baseline); then it fires hundreds of
 * requests in a few seconds — every one within its grant, only the rate is wrong.
 */
export const usageAnomaly: Episode = {
  detector: 'usage_anomaly',
  agents: [CRAWLER_ROLE.agentId],
  summary: `a burst of ${BURST_CALLS} requests from an agent with a steady baseline`,
  async run(ctx, clock) {
    const role = CRAWLER_ROLE;
    const taskId = `T-${ctx.tag}-reindex`;
    const start = clock.now();
    ctx.tasks.started({
      id: taskId,
      agentId: role.agentId,
      intent: 'Re-index the whole product catalogue now',
      tools: role.tools,
      time: start,
    });
    const token = ctx.broker.issue({
      agentId: role.agentId,
      taskId,
      audience: role.audience,
      scopes: role.scopes,
      resources: role.resources,
      expiresAt: start + 15 * MINUTE,
      environment: ctx.environment,
      time: start,
    });
    const crawler = ctx.agent(role.agentId);
    const call = role.calls[0];
    await withTask({ id: taskId, agentId: role.agentId }, async () => {
      for (let i = 0; i < BURST_CALLS && call; i++) {
        crawler.use(token.secret, call, clock.now());
        if (i % 40 === 39) await clock.sleep(250);
      }
    });
    await clock.sleep(500);
    ctx.tasks.ended(taskId, 'completed', { agentId: role.agentId, time: clock.now() });
    ctx.broker.revoke(token, 'task completed', clock.now() + 10);
  },
};
