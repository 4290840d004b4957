import { withTask } from '@intentwatch/sdk';
import { type Episode, MINUTE } from './episode.js';

/**
 * Revocation that does not propagate: `release-planner` delegates part of a release to
 * `release-coder` by token exchange (RFC 8693), the release is cancelled and the broker revokes
 * the planner's token — but keeps honouring the exchanged one, which the coder goes on using.
 * A revocation ends the authority of every token exchanged from it.
 */
export const revocationPropagation: Episode = {
  detector: 'stale_token_use',
  agents: ['release-planner', 'release-coder'],
  summary: 'a delegating token revoked, its exchanged descendant used afterwards',
  async run(ctx, clock) {
    const taskId = `T-${ctx.tag}-release`;
    const start = clock.now();
    ctx.tasks.started({
      id: taskId,
      agentId: 'release-planner',
      intent: 'Cut release 4.2 and publish the changelog',
      tools: ['repo.read_file', 'repo.create_tag'],
      deadline: start + 30 * MINUTE,
      time: start - MINUTE,
    });
    const base = { taskId, environment: ctx.environment, expiresAt: start + 20 * MINUTE };
    const planner = ctx.broker.issue({
      ...base,
      agentId: 'release-planner',
      audience: ['git'],
      scopes: ['repo:read', 'repo:write'],
      resources: ['acme/app/**'],
      time: start - MINUTE,
    });
    // Narrower, for another agent: a legitimate delegation.
    const coderToken = ctx.broker.exchange(planner, {
      ...base,
      agentId: 'release-coder',
      audience: ['git'],
      scopes: ['repo:read'],
      resources: ['acme/app/**'],
      time: start - 30_000,
    });
    const coder = ctx.agent('release-coder');
    const read = { tool: 'repo.read_file', target: 'git', scope: 'repo:read', resource: 'acme/app/CHANGELOG.md' };
    await withTask({ id: taskId, agentId: 'release-coder' }, async () => {
      coder.use(coderToken.secret, read, clock.now());
      await clock.sleep(300);
      ctx.broker.revoke(planner, 'release cancelled', clock.now());
      // The broker revoked the planner's token only; the coder never hears of it.
      for (let i = 0; i < 2; i++) {
        await clock.sleep(1500);
        coder.use(coderToken.secret, read, clock.now());
      }
    });
    await clock.sleep(300);
    ctx.tasks.ended(taskId, 'cancelled', { agentId: 'release-planner', time: clock.now() });
  },
};
