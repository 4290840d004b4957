import type { Server } from 'node:http';
import { type Config, HttpError, type Store, counter, createLogger, loopbackHostGuard } from '@intentwatch/core';
import express, { type ErrorRequestHandler, type Request, type Response } from 'express';
import { BatchWriter } from './batch-writer.js';
import { bodyReader } from './body-reader.js';
import { ingestAuth } from './ingest-auth.js';
import { logsHandler } from './logs-route.js';
import { eventsFromJsonInSlices } from './json-events.js';
import { jsonLimitSteps } from './json-limits.js';
import { DecodeBudget, LimitExceededError } from './limits.js';
import { normalizeInSlices, nextTurn } from './normalize-in-slices.js';
import { JsonShapeError } from './otlp/decode-json.js';
import { DecodeThreadError, decodeJsonRequestOffThread } from './otlp/json-off-thread.js';
import type { DecodedResourceSpans } from './otlp/model.js';
import { readTraceRequestYielding } from './otlp/protobuf-reader.js';
import { ExportTraceServiceResponse, RpcStatus } from './otlp/proto.js';
import type { RowBatch } from './rows.js';

export type CollectorConfig = Pick<
  Config,
  | 'maxBodyBytes'
  | 'keepContextSpans'
  | 'maxAttributes'
  | 'maxAttributeLength'
  | 'batchRows'
  | 'batchMs'
  | 'maxPendingRows'
  | 'ingestKeys'
  | 'ingestLimits'
> &
  Partial<Pick<Config, 'allowedHosts'>>;

/** Work (spans, attributes, nested items) decoded between two turns of the event loop. */
const DECODE_SLICE_WORK = 5000;
/** Characters of a JSON body checked against the limits between two turns of the event loop. */
const JSON_TEXT_SLICE = 1 << 20;

const received = counter('intentwatch_spans_received_total', 'Spans and events received, by kind of row stored', ['kind']);
const rejected = counter('intentwatch_spans_rejected_total', 'Spans and events rejected, by endpoint', ['endpoint']);
const redacted = counter('intentwatch_secrets_redacted_total', 'Secret-looking attribute values replaced by fingerprints at ingest');
const truncated = counter('intentwatch_attributes_truncated_total', 'Attributes dropped or cut by the per-span limits');
const requests = counter('intentwatch_ingest_requests_total', 'Ingest requests by endpoint and status', ['endpoint', 'status']);
const refused = counter('intentwatch_ingest_limit_refusals_total', 'Requests refused with 413 by an ingest limit, by limit', ['limit']);

const PROTOBUF = 'application/x-protobuf';
const JSON_TYPE = 'application/json';

type Encoding = 'protobuf' | 'json';

/**
 * The collector: OTLP/HTTP (`POST /v1/traces`, protobuf or JSON, optionally gzip) and the JSON
 * event endpoints (`POST /v1/token-events`, `POST /v1/task-events`). A 2xx means every stored
 * row is committed to the store; spans that could not be stored are reported, not silently lost.
 */
export class Collector {
  readonly app: express.Express;
  readonly writer: BatchWriter;
  readonly #config: CollectorConfig;
  readonly #log = createLogger('collector.http');
  #server: Server | undefined;
  #closing = false;
  /** The address listened on (for the Host check of a loopback-bound collector). */
  #host: string | undefined;

  constructor(store: Store, config: CollectorConfig) {
    this.#config = config;
    this.writer = new BatchWriter(store, { batchRows: config.batchRows, batchMs: config.batchMs, maxPendingRows: config.maxPendingRows });
    this.app = this.#buildApp();
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
    const limits = this.#config.ingestLimits;
    const auth = ingestAuth(this.#config.ingestKeys);

    app.post('/v1/traces', contentType([PROTOBUF, JSON_TYPE]), auth, raw, async (req, res) => {
      const encoding: Encoding = req.is(PROTOBUF) ? 'protobuf' : 'json';
      res.locals.encoding = encoding;
      const body = req.body instanceof Buffer ? req.body : Buffer.alloc(0);
      let decoded: DecodedResourceSpans[];
      try {
        decoded =
          encoding === 'protobuf'
            ? await readTraceRequestYielding(body, new DecodeBudget(limits, 'spans'), DECODE_SLICE_WORK)
            : await decodeJsonRequestOffThread(body, limits, DECODE_SLICE_WORK);
      } catch (e) {
        if (e instanceof LimitExceededError || e instanceof DecodeThreadError) throw e;
        const detail = e instanceof JsonShapeError || e instanceof SyntaxError ? e.message : describeDecodeError(e);
        throw new HttpError(400, 'invalid_body', `the body is not an OTLP ExportTraceServiceRequest in ${encoding}: ${detail}`);
      }
      // A small JSON body was parsed here in one go: what waits on the loop goes first.
      if (encoding === 'json') await nextTurn();
      const result = await normalizeInSlices(decoded, this.#config);
      if (result.secretsRedacted) redacted.inc(result.secretsRedacted);
      if (result.truncated) truncated.inc(result.truncated);
      await this.#store(result.rows);
      if (result.rejectedCount) rejected.inc({ endpoint: 'traces' }, result.rejectedCount);
      requests.inc({ endpoint: 'traces', status: '200' });
      sendExportResponse(res, encoding, result.rejected, result.rejectedCount);
    });

    app.post(
      '/v1/logs',
      contentType([PROTOBUF, JSON_TYPE]),
      auth,
      raw,
      logsHandler(this.#config, (rows) => this.#store(rows)),
    );

    const eventRoute = (kind: 'token' | 'task') => async (req: Request, res: Response) => {
      const body = req.body instanceof Buffer ? req.body.toString('utf8') : '';
      // Limits first, on the text: JSON.parse then builds only what they let through.
      const check = jsonLimitSteps(body, limits, 'events', JSON_TEXT_SLICE);
      while (!check.next().done) await nextTurn();
      let items: unknown;
      try {
        items = JSON.parse(body);
      } catch (e) {
        throw new HttpError(400, 'invalid_body', `the body is not JSON: ${(e as Error).message.slice(0, 200)}`);
      }
      if (!Array.isArray(items)) items = [items];
      await nextTurn();
      const result = await eventsFromJsonInSlices(kind, items as unknown[], this.#config);
      if (result.secretsRedacted) redacted.inc(result.secretsRedacted);
      if (result.truncated) truncated.inc(result.truncated);
      const list = items as unknown[];
      if (list.length > 0 && result.rejectedCount === list.length) {
        rejected.inc({ endpoint: `${kind}-events` }, list.length);
        const shown = result.rejected.map((r) => `[${r.index}] ${r.message}`).join('; ');
        const more = result.rejectedCount - result.rejected.length;
        throw new HttpError(400, 'invalid_events', `no event was accepted: ${shown}${more > 0 ? `; and ${more} more` : ''}`);
      }
      await this.#store(result.rows);
      if (result.rejectedCount) rejected.inc({ endpoint: `${kind}-events` }, result.rejectedCount);
      requests.inc({ endpoint: `${kind}-events`, status: '200' });
      res
        .status(200)
        .json({ accepted: list.length - result.rejectedCount, rejected: result.rejected, rejectedCount: result.rejectedCount });
    };
    app.post('/v1/token-events', contentType([JSON_TYPE]), auth, raw, eventRoute('token'));
    app.post('/v1/task-events', contentType([JSON_TYPE]), auth, raw, eventRoute('task'));

    app.get('/healthz', (_req, res) => {
      res.json({ status: 'ok' });
    });

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

/** 415 unless the request's Content-Type is one of `types` (checked before the body is read). */
function contentType(types: string[]) {
  return (req: Request, _res: Response, next: (e?: unknown) => void) => {
    if (!req.is(types)) {
      next(
        new HttpError(
          415,
          'unsupported_media_type',
          `Content-Type must be ${types.join(' or ')} (got ${req.headers['content-type'] ?? 'none'})`,
        ),
      );
      return;
    }
    next();
  };
}

/** The answer to an export: `rejectedCount` spans refused, of which `firstMessages` say why. */
function sendExportResponse(res: Response, encoding: Encoding, firstMessages: string[], rejectedCount: number): void {
  const partial = rejectedCount > 0 ? { rejectedSpans: rejectedCount, errorMessage: summarize(firstMessages, rejectedCount) } : undefined;
  if (encoding === 'protobuf') {
    const msg = ExportTraceServiceResponse.create(partial ? { partialSuccess: partial } : {});
    res
      .status(200)
      .type(PROTOBUF)
      .send(Buffer.from(ExportTraceServiceResponse.encode(msg).finish()));
  } else {
    res
      .status(200)
      .json(partial ? { partialSuccess: { rejectedSpans: String(partial.rejectedSpans), errorMessage: partial.errorMessage } } : {});
  }
}

function summarize(messages: string[], count: number): string {
  const shown = messages.slice(0, 5);
  return count > shown.length ? `${shown.join('; ')}; and ${count - shown.length} more` : shown.join('; ');
}

function describeDecodeError(e: unknown): string {
  if (e instanceof RangeError) return 'the message is truncated or nested too deeply';
  return e instanceof Error ? e.message : String(e);
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
