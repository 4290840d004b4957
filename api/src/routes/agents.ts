import { HttpError } from '@intentwatch/core';
import { Router } from 'express';
import { routes } from '../contract/routes.js';
import type { Desk } from '../desk.js';
import { bind } from '../route.js';
import { DEFAULT_WINDOW_MS } from '../views/agent-view.js';

/** `GET /v1/agents` and `GET /v1/agents/:id`: agents with their tokens, activity and open alerts. */
export function agentsRouter(desk: Desk): Router {
  const router = Router();
  const sinceMs = (since: string | undefined) => (since ? Date.parse(since) : Date.now() - DEFAULT_WINDOW_MS);

  bind(router, routes.listAgents, async ({ query }) => {
    const since = sinceMs(query.since);
    const agents = await desk.agentView.list({ sinceMs: since, ...(query.q ? { q: query.q } : {}) });
    return { since: new Date(since).toISOString(), agents };
  });

  bind(router, routes.getAgent, async ({ params, query }) => {
    const agent = await desk.agentView.detail(params.id, { sinceMs: sinceMs(query.since) });
    if (!agent) throw new HttpError(404, 'not_found', `no grant, use, task or alert names agent ${params.id}`);
    return agent;
  });
  return router;
}
