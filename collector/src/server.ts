import type { Server } from 'node:http';
import { type CoreSettings, HttpError, type Store, counter, createLogger, loopbackHostGuard } from '@intentwatch/core';
import express, { type ErrorRequestHandler } from 'express';
import { BatchWriter } from './batch-writer.js';
import { bodyReader } from './body-reader.js';
import { ingestAuth } from './ingest-auth.js';
import { LimitExceededError } from './limits.js';
import { RpcStatus } from './otlp/proto.js';
import { eventsRoute } from './routes/events.js';
import { healthRoute } from './routes/health.js';
import { logsRoute } from './routes/logs.js';
import { type Encoding, JSON_TYPE, PROTOBUF, type RouteContext, contentType, requests } from './routes/shared.js';
import { tracesRoute } from './routes/traces.js';
import type { RowBatch } from './rows.js';
import type { CollectorSettings } from './settings.js';

export type CollectorConfig = Pick<CoreSettings, 'maxBodyBytes'> &
  Pick<
    CollectorSettings,
    'keepContextSpans' | 'maxAttributes' | 'maxAttributeLength' | 'batchRows' | 'batchMs' | 'maxPendingRows' | 'ingestKeys' | 'ingestLimits'
  > &
  Partial<Pick<CoreSettings, 'allowedHosts'>>;

const received = counter('intentwatch_spans_received_total', 'Spans and events received, by kind of row stored', ['kind']);
const refused = counter('intentwatch_ingest_limit_refusals_total', 'Requests refused with 413 by an ingest limit, by limit', ['limit']);

/**
 * The collector: OTLP/HTTP (`POST /v1/traces`, `POST /v1/logs`, protobuf or JSON, optionally
 * gzip) and the JSON event endpoints (`POST /v1/token-events`, `POST /v1/task-events`). A 2xx
 * means every stored row is committed to the store; spans that could not be stored are reported,
 * not silently lost. Each route's handler is in `routes/`; this composes them with the checks
 * every request passes (Host, Content-Type, ingest key, body size) and answers errors.
 */
export class Collector {
  readonly app: express.Express;
  readonly writer: BatchWriter;
  readonly #config: CollectorConfig;
  readonly #log = createLogger('collector.http');
  #server: Server | undefined;
  #closing = false;
  readonly #committed: ((rows: RowBatch) => void)[] = [];
  /** The address listened on (for the Host check of a loopback-bound collector). */
  #host: string | undefined;

  constructor(store: Store, config: CollectorConfig) {
    this.#config = config;
    this.writer = new BatchWriter(store, { batchRows: config.batchRows, batchMs: config.batchMs, maxPendingRows: config.maxPendingRows });
    this.app = this.#buildApp();
  }

  /**
   * Calls `listener` with each request's rows once they are committed (before the request is
   * answered), for consumers in this process: live detection screens them at once. A listener
   * must return quickly; one that throws is logged and does not fail the request.
   */
  onCommitted(listener: (rows: RowBatch) => void): void {
    this.#committed.push(listener);
  }

  /** Listens on `host:port`; resolves with the bound port (useful with port 0). */
  listen(port: number, host: string): Promise<number> {
    this.#host = host;
    return new Promise((resolve, reject) => {
      const server = this.app.listen(port, host, (err?: Error) => {
        if (err) reject(err);
        else {
          const addr = server.address();
          resolve(typeof addr === 'object' && addr ? addr.port : port);
        }
      });
      server.keepAliveTimeout = 65_000;
      this.#server = server;
    });
  }

  /** Stops accepting connections, then flushes every accepted row to the store. */
  async close(): Promise<void> {
    const server = this.#server;
    this.#closing = true;
    if (server) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
    }
    await this.writer.close();
  }

  #buildApp(): express.Express {
    const app = express();
    app.disable('x-powered-by');
    app.set('etag', false);
    // While closing, each answer ends its connection: senders that keep a connection busy with
    // back-to-back requests would otherwise hold server.close() open for ever.
    app.use((_req, res, next) => {
      if (this.#closing) res.setHeader('Connection', 'close');
      next();
    });
    // Bound to the loopback, only requests for a loopback host are answered (DNS rebinding).
    app.use(loopbackHostGuard(() => this.#host, this.#config.allowedHosts));
    const raw = bodyReader(this.#config.maxBodyBytes);
    const auth = ingestAuth(this.#config.ingestKeys);
    const routes: RouteContext = { options: this.#config, store: (rows) => this.#store(rows) };
    const otlp = contentType([PROTOBUF, JSON_TYPE]);
    const json = contentType([JSON_TYPE]);

    app.post('/v1/traces', otlp, auth, raw, tracesRoute(routes));
    app.post('/v1/logs', otlp, auth, raw, logsRoute(routes));
    app.post('/v1/token-events', json, auth, raw, eventsRoute('token', routes));
    app.post('/v1/task-events', json, auth, raw, eventsRoute('task', routes));
    app.get('/healthz', healthRoute());

    app.use((req, _res, next) => {
      next(
        new HttpError(
          404,
          'not_found',
          `no route for ${req.method} ${req.path}; the collector serves POST /v1/traces, /v1/logs, /v1/token-events and /v1/task-events`,
        ),
      );
    });
    app.use(this.#errorHandler());
    return app;
  }

  async #store(rows: RowBatch): Promise<void> {
    await this.writer.write(rows);
    for (const listener of this.#committed) {
      try {
        listener(rows);
      } catch (e) {
        this.#log.error({ err: String(e) }, 'a listener of committed rows failed');
      }
    }
    received.inc({ kind: 'span' }, rows.spans.length);
    received.inc({ kind: 'token_event' }, rows.tokenEvents.length);
    received.inc({ kind: 'task_event' }, rows.taskEvents.length);
  }

  #errorHandler(): ErrorRequestHandler {
    return (err, req, res, _next) => {
      const e = toHttpError(err, this.#config.maxBodyBytes);
      if (e instanceof LimitExceededError) refused.inc({ limit: e.limit });
      if (e.status >= 500) this.#log.warn({ path: req.path, status: e.status, code: e.code }, e.message);
      requests.inc({ endpoint: req.path.replace(/^\/v1\//, ''), status: String(e.status) });
      for (const [k, v] of Object.entries(e.headers)) res.setHeader(k, v);
      const encoding: Encoding | undefined = res.locals.encoding ?? (req.is(PROTOBUF) ? 'protobuf' : undefined);
      const otlp = req.path === '/v1/traces' || req.path === '/v1/logs';
      if (otlp && encoding === 'protobuf') {
        // OTLP/HTTP: an error answer carries a google.rpc.Status in the request's encoding.
        const status = RpcStatus.encode(RpcStatus.create({ code: grpcCode(e.status), message: e.message })).finish();
        res.status(e.status).type(PROTOBUF).send(Buffer.from(status));
        return;
      }
      const payload: Record<string, unknown> = { error: { code: e.code, message: e.message } };
      if (otlp) Object.assign(payload, { code: grpcCode(e.status), message: e.message });
      res.status(e.status).json(payload);
    };
  }
}

/** Maps body-parser's and our own errors to an HttpError. */
function toHttpError(err: unknown, limit: number): HttpError {
  if (err instanceof HttpError) return err;
  const e = err as { type?: string; status?: number; message?: string };
  switch (e?.type) {
    case 'entity.too.large':
      return new HttpError(413, 'body_too_large', `the body is larger than ${limit} bytes (after decompression); send smaller batches`);
    case 'encoding.unsupported':
      return new HttpError(415, 'unsupported_encoding', `${e.message}; use gzip, deflate or no Content-Encoding`);
    case 'request.aborted':
      return new HttpError(400, 'aborted', 'the request was aborted before its body was read');
    default:
      break;
  }
  if (e?.status === 400) return new HttpError(400, 'invalid_body', `the body cannot be read: ${e.message ?? 'malformed'}`);
  return new HttpError(500, 'internal', 'internal error', { cause: err });
}

function grpcCode(status: number): number {
  if (status === 400 || status === 413 || status === 415) return 3; // INVALID_ARGUMENT
  if (status === 401) return 16; // UNAUTHENTICATED
  if (status === 429) return 8; // RESOURCE_EXHAUSTED
  if (status === 503) return 14; // UNAVAILABLE
  return 13; // INTERNAL
}
