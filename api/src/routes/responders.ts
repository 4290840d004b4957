import { once } from 'node:events';
import { HttpError } from '@intentwatch/core';
import type { OcsfExporter, Responder } from '@intentwatch/detectors';
import express, { type Request, Router } from 'express';
import { requireRole } from '../auth.js';

/** Policy bodies are small; this bounds what a client can make us parse. */
const MAX_BODY = '64kb';

/**
 * Responders over HTTP: revoke policies (read by analysts, managed by admins), an analyst's
 * revoke from an alert, the deliveries of an alert, dead letters, and alerts as OCSF Detection
 * Findings — one (`GET /v1/alerts/:id?format=ocsf`) or a stream of every alert changed since a
 * time (`GET /v1/export/ocsf`, NDJSON). Mount it before the alerts router: it answers
 * `GET /v1/alerts/:id` only when `format=ocsf` and passes every other request on.
 */
export function respondersRouter(responder: Responder, ocsf: OcsfExporter): Router {
  const router = Router();
  const json = express.json({ limit: MAX_BODY, type: ['application/json', 'application/*+json'] });
  const actor = (res: { locals: { identity?: { name: string } } }) => res.locals.identity?.name ?? 'unknown';

  router.get('/v1/responders/policies', requireRole('analyst'), async (_req, res) => {
    res.json({ policies: await responder.policyViews() });
  });

  router.get('/v1/responders/policies/:id', requireRole('analyst'), async (req, res) => {
    res.json(await responder.policyView(String(req.params.id)));
  });

  router.post('/v1/responders/policies', requireRole('admin'), json, async (req, res) => {
    const body = objectBody(req);
    if (typeof body.id === 'string' && responder.policies.get(body.id)) {
      throw new HttpError(409, 'already_exists', `policy ${body.id} exists; PUT /v1/responders/policies/${body.id} replaces it`);
    }
    res.status(201).json(await responder.putPolicy(body, actor(res)));
  });

  router.put('/v1/responders/policies/:id', requireRole('admin'), json, async (req, res) => {
    const id = String(req.params.id);
    const body = objectBody(req);
    if (body.id !== undefined && body.id !== id) {
      throw new HttpError(400, 'invalid_policy', `id: the body names ${JSON.stringify(body.id)} but the path names ${id}`);
    }
    const existed = responder.policies.get(id) !== undefined;
    res.status(existed ? 200 : 201).json(await responder.putPolicy({ ...body, id }, actor(res)));
  });

  router.delete('/v1/responders/policies/:id', requireRole('admin'), async (req, res) => {
    await responder.deletePolicy(String(req.params.id), actor(res));
    res.status(204).end();
  });

  router.post('/v1/responders/policies/:id/resume', requireRole('admin'), json, async (req, res) => {
    const body = req.body === undefined ? {} : objectBody(req);
    if (body.release !== undefined && typeof body.release !== 'boolean') {
      throw new HttpError(400, 'invalid_body', `release: expected true or false, got ${JSON.stringify(body.release)}`);
    }
    res.json(await responder.resume(String(req.params.id), actor(res), body.release === true));
  });

  router.get('/v1/responders/dead-letters', requireRole('admin'), async (req, res) => {
    const limit = intParam(req, 'limit', 100, 1, 1000);
    res.json({ deadLetters: await responder.deliveryLog.deadLetters(limit) });
  });

  router.post('/v1/alerts/:id/revoke', requireRole('analyst'), json, async (req, res) => {
    const body = objectBody(req);
    if (typeof body.policyId !== 'string' || !body.policyId) {
      throw new HttpError(400, 'invalid_body', 'policyId: required, the policy whose endpoint receives the revoke');
    }
    if (body.mode !== undefined && typeof body.mode !== 'string') {
      throw new HttpError(400, 'invalid_body', 'mode: expected token, session or chain');
    }
    const revocation = await responder.request(String(req.params.id), body.policyId, actor(res), body.mode as string | undefined);
    res.status(202).json({ revocation });
  });

  router.get('/v1/alerts/:id/deliveries', requireRole('viewer'), async (req, res) => {
    const id = String(req.params.id);
    const deliveries = await responder.deliveries(id);
    if (deliveries.length === 0 && !(await ocsf.one(id))) throw new HttpError(404, 'not_found', `no alert with id ${id}`);
    res.json({ deliveries });
  });

  router.get('/v1/alerts/:id', requireRole('viewer'), async (req, res, next) => {
    const format = req.query.format;
    if (format === undefined || format === 'json') {
      next();
      return;
    }
    if (format !== 'ocsf') throw new HttpError(400, 'invalid_parameter', `format must be json or ocsf (got ${JSON.stringify(format)})`);
    const id = String(req.params.id);
    const finding = await ocsf.one(id);
    if (!finding) throw new HttpError(404, 'not_found', `no alert with id ${id}`);
    res.json(finding);
  });

  router.get('/v1/export/ocsf', requireRole('viewer'), async (req, res) => {
    const since = sinceParam(req);
    res.status(200).type('application/x-ndjson');
    let gone = false;
    res.on('close', () => {
      gone = true;
    });
    try {
      for await (const finding of ocsf.stream(since)) {
        if (gone) return;
        if (!res.write(`${JSON.stringify(finding)}\n`)) await once(res, 'drain');
      }
      res.end();
    } catch (e) {
      // The status line is sent: a cut stream is the only way left to say it failed.
      res.destroy(e instanceof Error ? e : new Error(String(e)));
    }
  });

  return router;
}

function objectBody(req: Request): Record<string, unknown> {
  if (!req.is('application/json') && req.body === undefined) {
    throw new HttpError(415, 'unsupported_media_type', 'send the body as application/json');
  }
  const b = req.body as unknown;
  if (typeof b !== 'object' || b === null || Array.isArray(b)) throw new HttpError(400, 'invalid_body', 'expected a JSON object');
  return b as Record<string, unknown>;
}

function intParam(req: Request, name: string, fallback: number, min: number, max: number): number {
  const v = req.query[name];
  if (v === undefined) return fallback;
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new HttpError(400, 'invalid_parameter', `${name} must be a whole number from ${min} to ${max} (got ${JSON.stringify(v)})`);
  }
  return n;
}

/** `since`: RFC 3339 time (default: the beginning). */
function sinceParam(req: Request): number {
  const v = req.query.since;
  if (v === undefined || v === '') return 0;
  const ms = typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(v) ? Date.parse(v) : Number.NaN;
  if (!Number.isFinite(ms)) {
    throw new HttpError(400, 'invalid_parameter', `since must be an RFC 3339 time such as 2026-11-25T10:00:00Z (got ${JSON.stringify(v)})`);
  }
  return ms;
}
