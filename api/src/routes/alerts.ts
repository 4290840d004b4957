import { HttpError } from '@intentwatch/core';
import type { AlertFilter, AlertStore } from '@intentwatch/detectors';
import { type Request, Router } from 'express';
import { requireRole } from '../auth.js';

const FILTERS = ['detector', 'severity', 'status', 'tokenId', 'agentId', 'since', 'cursor'] as const;

/**
 * `GET /v1/alerts` and `GET /v1/alerts/:id` (CONVENTIONS.md §2.2), for any authenticated key
 * (viewer and up). The read model is the detectors' AlertStore; this only maps HTTP to it.
 */
export function alertsRouter(alerts: AlertStore): Router {
  const router = Router();

  router.get('/v1/alerts', requireRole('viewer'), async (req, res) => {
    res.json(await alerts.list(filterOf(req)));
  });

  router.get('/v1/alerts/:id', requireRole('viewer'), async (req, res) => {
    const id = String(req.params.id);
    const alert = await alerts.get(id);
    if (!alert) throw new HttpError(404, 'not_found', `no alert with id ${id}`);
    res.json(alert);
  });

  return router;
}

function filterOf(req: Request): AlertFilter {
  const filter: AlertFilter = {};
  for (const name of FILTERS) {
    const v = single(req, name);
    if (v !== undefined && v !== '') filter[name] = v;
  }
  const limit = single(req, 'limit');
  if (limit !== undefined && limit !== '') {
    if (!/^\d+$/.test(limit)) throw new HttpError(400, 'invalid_parameter', `limit must be a whole number from 1 to 500 (got "${limit}")`);
    filter.limit = Number(limit);
  }
  return filter;
}

function single(req: Request, name: string): string | undefined {
  const v = req.query[name];
  if (v === undefined || typeof v === 'string') return v;
  throw new HttpError(400, 'invalid_parameter', `${name} must be given once, as a single value`);
}
