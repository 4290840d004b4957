import { HttpError } from '@intentwatch/core';
import { Router } from 'express';
import { routes } from '../contract/routes.js';
import type { Desk } from '../desk.js';
import { bind } from '../route.js';

/** `GET /v1/tokens/:id`: grants, session, delegation chain, intent vs actual, timeline of uses (docs/conventions.md §2.2). */
export function tokensRouter(desk: Desk): Router {
  const router = Router();
  bind(router, routes.getToken, async ({ params, query }) => {
    const token = await desk.tokenView.detail(params.id, query.uses === undefined ? {} : { uses: query.uses });
    if (!token) throw new HttpError(404, 'not_found', `nothing is known about token ${params.id}: no grant, no use, no alert`);
    return token;
  });
  return router;
}
