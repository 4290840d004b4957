import { HttpError, redactText } from '@intentwatch/core';
import { Router } from 'express';
import { roleAllows } from '../api-keys.js';
import { routes } from '../contract/routes.js';
import type { Desk } from '../desk.js';
import { bind } from '../route.js';

/**
 * Suppressions: any key reads them, an analyst creates them, and a suppression is lifted early
 * by its author or an admin — so that one analyst cannot quietly undo another's decision.
 */
export function suppressionsRouter(desk: Desk): Router {
  const router = Router();
  const view = desk.suppressions;

  bind(router, routes.listSuppressions, async ({ query }) => {
    const now = Date.now();
    const list = await view.store.list({ all: query.all === 'true', now });
    return { suppressions: list.map((s) => view.out(s, now)) };
  });

  bind(router, routes.createSuppression, async ({ body, identity }) => {
    const s = await view.store.create(
      {
        detector: body.detector,
        scope: body.scope,
        value: body.value,
        reason: redactText(body.reason.trim()).text,
        expiresAt: body.expiresAt,
      },
      identity.name,
    );
    return view.out(s);
  });

  bind(router, routes.liftSuppression, async ({ params, identity }) => {
    const current = await view.store.get(params.id);
    if (!current) throw new HttpError(404, 'not_found', `no suppression with id ${params.id}`);
    const own = current.author === identity.name || current.author === identity.formerName;
    if (!own && !roleAllows(identity.role, 'admin')) {
      throw new HttpError(403, 'forbidden', `only its author (${current.author}) or an admin may lift this suppression`);
    }
    return view.out(await view.store.lift(params.id, identity.name));
  });
  return router;
}
