import { Router } from 'express';
import { routes } from '../contract/routes.js';
import { bind } from '../route.js';

/** `GET /v1/me`: who the presented key is, so that a client can show what its role may do. */
export function meRouter(): Router {
  const router = Router();
  bind(router, routes.me, async ({ identity, req }) => ({
    name: identity.name,
    role: identity.role,
    features: [...((req.app.locals.features as string[] | undefined) ?? [])],
  }));
  return router;
}
