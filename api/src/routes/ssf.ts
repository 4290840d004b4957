import { type SsfTransmitter, type SubjectId, ssfUnavailable } from '@intentwatch/responders';
import { type NextFunction, type Request, type Response, Router } from 'express';
import { routes } from '../contract/routes.js';
import { Answer, bind } from '../route.js';

/**
 * The Shared Signals transmitter's open routes: its configuration metadata
 * (`/.well-known/ssf-configuration`, SSF 1.0 §7.2) and its JWKS. Mounted before the key check,
 * like the health checks: a receiver reads them before it has any credential of ours.
 * Without a transmitter (no INTENTWATCH_SECRETS_KEY) they answer 503 saying so.
 */
export function ssfPublicRouter(transmitter: SsfTransmitter | undefined): Router {
  const router = Router();
  const open = (handler: (t: SsfTransmitter) => Promise<unknown> | unknown) => async (_req: Request, res: Response, next: NextFunction) => {
    try {
      if (!transmitter) throw ssfUnavailable();
      res.setHeader('Cache-Control', 'public, max-age=300');
      res.json(await handler(transmitter));
    } catch (e) {
      next(e);
    }
  };
  router.get(
    routes.ssfConfiguration.path,
    open((t) => t.configuration()),
  );
  router.get(
    routes.ssfJwks.path,
    open((t) => t.jwks()),
  );
  return router;
}

/**
 * Stream management (SSF 1.0 §8: create, read, update, replace, delete, status, subjects,
 * verification) for admin keys, poll delivery (RFC 8936) for any key, and key rotation. Every
 * route is declared in the contract (../contract), which validates its input and documents it.
 */
export function ssfRouter(transmitter: SsfTransmitter | undefined): Router {
  const router = Router();
  const t = (): SsfTransmitter => {
    if (!transmitter) throw ssfUnavailable();
    return transmitter;
  };

  bind(router, routes.createStream, async ({ body, identity }) => {
    const tx = t();
    return tx.view(await tx.createStream(body, identity.name));
  });

  bind(router, routes.readStreams, async ({ query }) => {
    const tx = t();
    if (query.stream_id !== undefined) return tx.view(await tx.readStream(query.stream_id));
    return (await tx.streams.list()).map((s) => tx.view(s));
  });

  bind(router, routes.updateStream, async ({ body, identity }) => {
    const tx = t();
    return tx.view(await tx.updateStream(body, identity.name, false));
  });

  bind(router, routes.replaceStream, async ({ body, identity }) => {
    const tx = t();
    return tx.view(await tx.updateStream(body, identity.name, true));
  });

  bind(router, routes.deleteStream, async ({ query, identity }) => {
    await t().deleteStream(query.stream_id, identity.name);
  });

  bind(router, routes.readStreamStatus, async ({ query }) => t().status(query.stream_id));

  bind(router, routes.updateStreamStatus, async ({ body, identity }) =>
    t().setStatus(body.stream_id, body.status, body.reason ?? '', identity.name),
  );

  bind(router, routes.addStreamSubject, async ({ body, identity }) => {
    await t().addSubject(body.stream_id, body.subject as SubjectId, identity.name);
  });

  bind(router, routes.removeStreamSubject, async ({ body, identity }) => {
    await t().removeSubject(body.stream_id, body.subject as SubjectId, identity.name);
  });

  bind(router, routes.verifyStream, async ({ body, identity }) => {
    await t().verify(body.stream_id, body.state, identity.name);
  });

  bind(router, routes.pollStream, async ({ params, body, res }) => {
    const gone = new AbortController();
    res.on('close', () => gone.abort());
    return t().poll(params.streamId, body, gone.signal);
  });

  bind(router, routes.rotateSsfKeys, async () => new Answer(200, await t().rotateKeys()));

  return router;
}
