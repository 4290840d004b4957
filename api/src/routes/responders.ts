import { once } from 'node:events';
import { HttpError } from '@intentwatch/core';
import type { OcsfExporter, Responder } from '@intentwatch/responders';
import { Router } from 'express';
import { routes } from '../contract/routes.js';
import { Answer, bind } from '../route.js';

/**
 * Responders over HTTP: revoke policies (read by analysts, managed by admins), an analyst's
 * revoke from an alert, the deliveries of an alert, dead letters, and alerts as OCSF Detection
 * Findings — one (`GET /v1/alerts/:id?format=ocsf`) or a stream of every alert changed since a
 * time (`GET /v1/export/ocsf`, NDJSON). Every route is declared in the contract (../contract),
 * which validates its input and documents it. Mount it before the alerts router: it answers
 * `GET /v1/alerts/:id` only when `format=ocsf` and passes every other request on.
 */
export function respondersRouter(responder: Responder, ocsf: OcsfExporter): Router {
  const router = Router();

  bind(router, routes.listPolicies, async () => ({ policies: await responder.policyService.policyViews() }));

  bind(router, routes.getPolicy, async ({ params }) => responder.policyService.policyView(params.id));

  bind(router, routes.createPolicy, async ({ body, identity }) => {
    if (responder.policies.get(body.id)) {
      throw new HttpError(409, 'already_exists', `policy ${body.id} exists; PUT /v1/responders/policies/${body.id} replaces it`);
    }
    return responder.policyService.putPolicy(body, identity.name);
  });

  bind(router, routes.replacePolicy, async ({ params, body, identity }) => {
    if (body.id !== undefined && body.id !== params.id) {
      throw new HttpError(400, 'invalid_policy', `id: the body names ${JSON.stringify(body.id)} but the path names ${params.id}`);
    }
    const existed = responder.policies.get(params.id) !== undefined;
    const policy = await responder.policyService.putPolicy({ ...body, id: params.id }, identity.name);
    return existed ? policy : new Answer(201, policy);
  });

  bind(router, routes.deletePolicy, async ({ params, identity }) => {
    await responder.policyService.deletePolicy(params.id, identity.name);
  });

  bind(router, routes.resumePolicy, async ({ params, body, identity }) =>
    responder.policyService.resume(params.id, identity.name, body.release === true),
  );

  bind(router, routes.listDeadLetters, async ({ query }) => ({ deadLetters: await responder.deliveryLog.deadLetters(query.limit ?? 100) }));

  bind(router, routes.revokeAlert, async ({ params, body, identity }) => {
    const revocations = await responder.trigger.request(params.id, body.policyId, identity.name, body.mode);
    // `revocation` is what this answer held before a revoke became one request per token.
    return { revocation: revocations[0] as (typeof revocations)[number], revocations };
  });

  bind(router, routes.listAlertDeliveries, async ({ params }) => {
    const deliveries = await responder.policyService.deliveries(params.id);
    if (deliveries.length === 0 && !(await ocsf.one(params.id))) throw new HttpError(404, 'not_found', `no alert with id ${params.id}`);
    return { deliveries };
  });

  // GET /v1/alerts/:id is one declared route answered by two routers: here when a format other
  // than json is asked for (ocsf, or a value the contract refuses), by the alerts router otherwise.
  const ocsfAlert = Router();
  bind(ocsfAlert, routes.getAlert, async ({ params }) => {
    const finding = await ocsf.one(params.id);
    if (!finding) throw new HttpError(404, 'not_found', `no alert with id ${params.id}`);
    return finding;
  });
  router.use((req, res, next) => {
    const format = req.query.format;
    if (req.method === 'GET' && format !== undefined && format !== 'json') ocsfAlert(req, res, next);
    else next();
  });

  bind(router, routes.exportOcsf, async ({ query, res }) => {
    const findings = ocsf.stream(query.since === undefined ? 0 : Date.parse(query.since));
    let gone = false;
    res.on('close', () => {
      gone = true;
    });
    try {
      res.status(200).type('application/x-ndjson');
      for await (const finding of findings) {
        if (gone) break;
        if (!res.write(`${JSON.stringify(finding)}\n`)) await drained(res);
      }
      res.end();
    } catch (e) {
      // Before the first line the error handler can still answer; after it, a cut stream is the only way left to say it failed.
      if (!res.headersSent) throw e;
      res.destroy(e instanceof Error ? e : new Error(String(e)));
    }
  });

  return router;
}

/** Resolves when `res` can take more, or is closed (a client that stops reading and goes away never drains). */
async function drained(res: NodeJS.EventEmitter): Promise<void> {
  const done = new AbortController();
  try {
    await Promise.race([once(res, 'drain', { signal: done.signal }), once(res, 'close', { signal: done.signal })]);
  } finally {
    done.abort();
  }
}
