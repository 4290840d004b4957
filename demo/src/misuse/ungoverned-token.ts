import { randomBytes } from 'node:crypto';
import type { Episode } from './episode.js';

/**
 * `shadow-agent` calls the LLM gateway with a static API key no broker ever issued, and
 * carelessly copies the key into a span attribute — which the SDK exports as a fingerprint.
 * The monitor waits `INTENTWATCH_GRACE_MS` (30 s by default) for a late grant before alerting.
 */
export const ungovernedToken: Episode = {
  detector: 'ungoverned_token',
  agents: ['shadow-agent'],
  summary: 'a static API key no broker issued (alerts once the grace window has passed)',
  async run(ctx, clock) {
    const key = `sk-proj-${randomBytes(24).toString('base64url').replace(/[-_]/g, 'x')}`;
    const shadow = ctx.agent('shadow-agent');
    for (let i = 0; i < 3; i++) {
      await clock.sleep(500);
      shadow.use(key, { tool: 'llm.chat', target: 'llm-gateway', scope: 'chat', resource: 'models/frontier-large' }, clock.now(), {
        'llm.request.debug': `POST /v1/chat authorization=Bearer ${key}`,
      });
    }
  },
};
