import { withTask } from '@intentwatch/sdk';
import { type Episode, MINUTE } from './episode.js';

const TOOLS = ['search.query'];

/**
 * `research-agent` holds a token for the search API. It replays it against GitHub, and
 * `scraper-bot`, which was never granted it, presents it to the search API as well.
 */
export const crossServiceReuse: Episode = {
  detector: 'cross_service_reuse',
  agents: ['research-agent', 'scraper-bot'],
  summary: 'a search token replayed against GitHub and by another agent',
  async run(ctx, clock) {
    const taskId = `T-${ctx.tag}-research`;
    const start = clock.now();
    const grant = {
      agentId: 'research-agent',
      taskId,
      audience: ['search-api'],
      scopes: ['search:read'],
      resources: ['web/**'],
      expiresAt: start + 15 * MINUTE,
      environment: ctx.environment,
    };
    ctx.tasks.started({
      id: taskId,
      agentId: 'research-agent',
      intent: 'Research competitor pricing on the public web',
      tools: TOOLS,
      time: start,
    });
    const token = ctx.broker.issue({ ...grant, time: start });
    const research = ctx.agent('research-agent');
    await withTask({ id: taskId, agentId: 'research-agent' }, async () => {
      for (let i = 0; i < 3; i++) {
        await clock.sleep(400);
        research.use(
          token.secret,
          { tool: 'search.query', target: 'search-api', scope: 'search:read', resource: 'web/pricing' },
          clock.now(),
        );
      }
      await clock.sleep(400);
      // The same token against a service outside its audience.
      research.use(token.secret, { name: 'GET /repos/acme/payments/contents', target: 'github' }, clock.now(), {
        'http.request.method': 'GET',
      });
    });
    await clock.sleep(400);
    // Another agent presents the token it was never given.
    withTask({ id: taskId, agentId: 'scraper-bot' }, () =>
      ctx
        .agent('scraper-bot')
        .use(token.secret, { tool: 'search.query', target: 'search-api', scope: 'search:read', resource: 'web/pricing' }, clock.now()),
    );
    await clock.sleep(400);
    ctx.tasks.ended(taskId, 'completed', { time: clock.now() });
    ctx.broker.revoke(token, 'task completed', clock.now() + 10);
  },
};
