import { type Server, createServer } from 'node:http';
import {
  type CoreSettings,
  HttpError,
  MAX_ID_LENGTH,
  type Store,
  StoreError,
  counter,
  createLogger,
  histogram,
  loopbackHostGuard,
  registry,
} from '@intentwatch/core';
import express, { type ErrorRequestHandler, type Router } from 'express';
import { rateLimit } from 'express-rate-limit';
import helmet from 'helmet';
import type { ApiKeys } from './api-keys.js';
import { authenticate } from './auth.js';
import { toHttpError } from './errors.js';
import { openApiDocument } from './openapi.js';
import { uiRouter } from './ui.js';
import { DEFAULT_API_SETTINGS } from './settings.js';

export type ApiConfig = Pick<CoreSettings, 'maxBodyBytes'>;

/** A check that must pass for `GET /readyz`; resolves true when ready. */
export type ReadinessCheck = { name: string; check: () => Promise<boolean> };

export interface ApiOptions {
  store: Store;
  keys: ApiKeys;
  /** Authenticated routers mounted under `/` after the key check (e.g. `Desk.routers()`). */
  routers?: Router[];
  /** Routers anyone may call, mounted before the key check (e.g. the Shared Signals configuration and JWKS). */
  publicRouters?: Router[];
  readiness?: ReadinessCheck[];
  /** Called before each scrape of `/metrics`, to bring gauges read from the store up to date. */
  onScrape?: () => Promise<void>;
  /** Requests per minute per key, and failed key checks per minute per client address (default INTENTWATCH_API_RATE_LIMIT's). */
  rateLimit?: number;
  /** Serve the web UI at `/` (default true). */
  ui?: boolean;
  /** Optional parts mounted among `routers` that clients may offer (`GET /v1/me`), e.g. `responders`. */
  features?: string[];
  /** Host names answered besides the loopback's when bound to a loopback address (`INTENTWATCH_ALLOWED_HOSTS`). */
  allowedHosts?: readonly string[];
}

const requests = counter('intentwatch_api_requests_total', 'API requests answered, by route and status', ['method', 'route', 'status']);
const duration = histogram(
  'intentwatch_api_request_duration_seconds',
  'API response time, by route',
  ['method', 'route'],
  [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
);

/** JSON bodies (triage, suppressions) are small; this bounds what a client can make us parse. */
const MAX_JSON_BODY = '64kb';
/** Request line and headers: the default 16 KiB plus the longest identifier percent-encoded. */
const MAX_HEADER_BYTES = 16 * 1024 + MAX_ID_LENGTH * 9;

/**
 * The analysts' HTTP API and web UI. Open: the UI's static files, `/healthz`, `/readyz`,
 * `/openapi.json` and `publicRouters` (the Shared Signals discovery and JWKS); everything else needs an API key (`Authorization: Bearer`), with a role per
 * route. Security headers (a CSP the UI runs under, no framing, no sniffing), no CORS (the UI
 * is same-origin; other origins get no `Access-Control-Allow-Origin`), per-key rate limits.
 * Errors answer `{ "error": { "code", "message" } }`.
 */
export class Api {
  readonly app: express.Express;
  readonly #log = createLogger('api.http');
  #server: Server | undefined;
  /** The address listened on (for the Host check of a loopback-bound API). */
  #host: string | undefined;

  constructor(options: ApiOptions) {
    this.app = this.#build(options);
  }

  listen(port: number, host: string): Promise<number> {
    this.#host = host;
    return new Promise((resolve, reject) => {
      // Room in the request line for any identifier ingest stores (MAX_ID_LENGTH characters,
      // percent-encoded up to 9 bytes each) in a path such as /v1/tokens/:id.
      const server = createServer({ maxHeaderSize: MAX_HEADER_BYTES }, this.app);
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        const addr = server.address();
        resolve(typeof addr === 'object' && addr ? addr.port : port);
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
    app.locals.features = [...(options.features ?? [])];
    app.set('etag', 'strong');
    app.use(
      helmet({
        contentSecurityPolicy: {
          useDefaults: false,
          directives: {
            defaultSrc: ["'self'"],
            scriptSrc: ["'self'"],
            styleSrc: ["'self'"],
            imgSrc: ["'self'", 'data:'],
            fontSrc: ["'self'"],
            connectSrc: ["'self'"],
            objectSrc: ["'none'"],
            baseUri: ["'none'"],
            formAction: ["'self'"],
            frameAncestors: ["'none'"],
          },
        },
        // Same-origin only: nothing of ours is meant to be embedded or opened by other sites.
        crossOriginResourcePolicy: { policy: 'same-origin' },
        referrerPolicy: { policy: 'no-referrer' },
      }),
    );
    // Bound to the loopback, only requests for a loopback host are answered (DNS rebinding).
    app.use(loopbackHostGuard(() => this.#host, options.allowedHosts));
    app.use((req, res, next) => {
      const started = performance.now();
      res.on('finish', () => {
        // The declared route, never the URL: ids and probes must not become label values.
        const route = req.route?.path ? `${req.baseUrl}${req.route.path}` : 'other';
        requests.inc({ method: req.method, route, status: String(res.statusCode) });
        duration.observe({ method: req.method, route }, (performance.now() - started) / 1000);
      });
      next();
    });

    app.get('/healthz', (_req, res) => {
      res.json({ status: 'ok' });
    });
    app.get('/readyz', async (_req, res) => {
      const checks = [{ name: 'store', check: () => options.store.ping() }, ...(options.readiness ?? [])];
      const results = await Promise.all(checks.map(async (c) => ({ name: c.name, ok: await c.check().catch(() => false) })));
      const ready = results.every((r) => r.ok);
      res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready', checks: results });
    });
    const document = openApiDocument();
    app.get('/openapi.json', (_req, res) => {
      res.json(document);
    });
    for (const router of options.publicRouters ?? []) app.use(router);
    if (options.ui !== false) app.use(uiRouter());

    const limit = options.rateLimit ?? DEFAULT_API_SETTINGS.apiRateLimit;
    const tooMany = (what: string) => (_req: express.Request, _res: express.Response, next: express.NextFunction) =>
      next(new HttpError(429, 'rate_limited', `${what}; retry after the seconds in Retry-After`));
    // Failed key checks, per client address: guessing keys is slow, a valid key is never held up.
    app.use(
      rateLimit({
        windowMs: 60_000,
        limit,
        standardHeaders: 'draft-7',
        legacyHeaders: false,
        skip: (req) => {
          const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
          return m !== null && options.keys.identify(m[1] as string) !== undefined;
        },
        handler: tooMany('too many requests without a valid API key from this address'),
      }),
    );
    app.use(authenticate(options.keys));
    app.use(
      rateLimit({
        windowMs: 60_000,
        limit,
        standardHeaders: 'draft-7',
        legacyHeaders: false,
        keyGenerator: (_req, res) => `key:${res.locals.identity?.id ?? ''}`,
        handler: tooMany(`more than ${limit} requests per minute with this API key`),
      }),
    );
    app.use((_req, res, next) => {
      // Alerts and token timelines are sensitive: never kept by a browser or proxy cache.
      res.setHeader('Cache-Control', 'no-store');
      next();
    });
    app.use(express.json({ limit: MAX_JSON_BODY, type: ['application/json', 'application/*+json'] }));
    app.get('/metrics', async (_req, res) => {
      await options.onScrape?.().catch((e: unknown) => this.#log.warn({ err: String(e) }, 'could not refresh alert gauges'));
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
      const type = (err as { type?: string }).type;
      const known = toHttpError(err);
      if (known) {
        e = known;
        if (err instanceof StoreError) this.#log.error({ path: req.path, err: err.message }, 'store unavailable');
      } else if (type === 'entity.too.large') e = new HttpError(413, 'body_too_large', `the request body is larger than ${MAX_JSON_BODY}`);
      else if (type === 'entity.parse.failed') e = new HttpError(400, 'invalid_json', 'the request body is not valid JSON');
      // The router cannot decode a path parameter (`/v1/alerts/%E0%A4%A`): the client's mistake, not ours.
      else if (err instanceof URIError) e = new HttpError(400, 'invalid_path', 'the path is not valid percent-encoded UTF-8');
      else if (type === 'charset.unsupported' || type === 'encoding.unsupported')
        e = new HttpError(415, 'unsupported_media_type', 'send the body as UTF-8 JSON');
      else {
        this.#log.error({ path: req.path, err: err instanceof Error ? err.message : String(err) }, 'unhandled error');
        e = new HttpError(500, 'internal', 'internal error');
      }
      for (const [k, v] of Object.entries(e.headers)) res.setHeader(k, v);
      res.status(e.status).json({ error: { code: e.code, message: e.message } });
    };
  }
}
