import type { Server } from 'node:http';
import { type Config, HttpError, type Store, createLogger, registry } from '@intentwatch/core';
import express, { type ErrorRequestHandler, type Router } from 'express';
import helmet from 'helmet';
import type { ApiKeys } from './api-keys.js';
import { authenticate } from './auth.js';

export type ApiConfig = Pick<Config, 'maxBodyBytes'>;

/** A check that must pass for `GET /readyz`; resolves true when ready. */
export type ReadinessCheck = { name: string; check: () => Promise<boolean> };

export interface ApiOptions {
  store: Store;
  keys: ApiKeys;
  /** Authenticated routers mounted under `/` after the key check (e.g. `/v1/alerts`). */
  routers?: Router[];
  readiness?: ReadinessCheck[];
}

/**
 * The analysts' HTTP API. Health endpoints (`/healthz`, `/readyz`) are open; everything else
 * needs an API key. Errors answer `{ "error": { "code", "message" } }`.
 */
export class Api {
  readonly app: express.Express;
  readonly #log = createLogger('api.http');
  #server: Server | undefined;

  constructor(options: ApiOptions) {
    this.app = this.#build(options);
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const server = this.app.listen(port, host, (err?: Error) => {
        if (err) reject(err);
        else {
          const addr = server.address();
          resolve(typeof addr === 'object' && addr ? addr.port : port);
        }
      });
      this.#server = server;
    });
  }

  async close(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
  }

  #build(options: ApiOptions): express.Express {
    const app = express();
    app.disable('x-powered-by');
    app.use(helmet());
    app.get('/healthz', (_req, res) => {
      res.json({ status: 'ok' });
    });
    app.get('/readyz', async (_req, res) => {
      const checks = [{ name: 'store', check: () => options.store.ping() }, ...(options.readiness ?? [])];
      const results = await Promise.all(checks.map(async (c) => ({ name: c.name, ok: await c.check().catch(() => false) })));
      const ready = results.every((r) => r.ok);
      res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready', checks: results });
    });

    app.use(authenticate(options.keys));
    app.get('/metrics', async (_req, res) => {
      res.type(registry.contentType).send(await registry.metrics());
    });
    for (const router of options.routers ?? []) app.use(router);

    app.use((req, _res, next) => {
      next(new HttpError(404, 'not_found', `no route for ${req.method} ${req.path}`));
    });
    app.use(this.#errorHandler());
    return app;
  }

  #errorHandler(): ErrorRequestHandler {
    return (err, req, res, _next) => {
      let e: HttpError;
      if (err instanceof HttpError) e = err;
      else if ((err as { type?: string }).type === 'entity.too.large')
        e = new HttpError(413, 'body_too_large', 'the request body is too large');
      else if ((err as { type?: string }).type === 'entity.parse.failed')
        e = new HttpError(400, 'invalid_json', 'the request body is not valid JSON');
      else {
        this.#log.error({ path: req.path, err: err instanceof Error ? err.message : String(err) }, 'unhandled error');
        e = new HttpError(500, 'internal', 'internal error');
      }
      for (const [k, v] of Object.entries(e.headers)) res.setHeader(k, v);
      res.status(e.status).json({ error: { code: e.code, message: e.message } });
    };
  }
}
