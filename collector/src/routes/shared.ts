import type { IngestLimits } from '../settings.js';
import { HttpError, counter } from '@intentwatch/core';
import type { Request, Response } from 'express';
import type { NormalizeOptions } from '../normalize.js';
import type { RowBatch } from '../rows.js';

/** What every ingest route is given: the normalizing options and limits, and where rows go. */
export interface RouteContext {
  options: NormalizeOptions & { ingestLimits: IngestLimits };
  /** Resolves once every row is committed to the store (the batch writer). */
  store: (rows: RowBatch) => Promise<void>;
}

export const PROTOBUF = 'application/x-protobuf';
export const JSON_TYPE = 'application/json';

export type Encoding = 'protobuf' | 'json';

export const rejected = counter('intentwatch_spans_rejected_total', 'Spans and events rejected, by endpoint', ['endpoint']);
export const redacted = counter('intentwatch_secrets_redacted_total', 'Secret-looking attribute values replaced by fingerprints at ingest');
export const truncated = counter('intentwatch_attributes_truncated_total', 'Attributes dropped or cut by the per-span limits');
export const requests = counter('intentwatch_ingest_requests_total', 'Ingest requests by endpoint and status', ['endpoint', 'status']);

/** 415 unless the request's Content-Type is one of `types` (checked before the body is read). */
export function contentType(types: string[]) {
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
