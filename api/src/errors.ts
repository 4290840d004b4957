import {
  ConflictError,
  HttpError,
  InvalidInputError,
  NotFoundError,
  StoreError,
  TooManyRequestsError,
  UnavailableError,
} from '@intentwatch/core';

/**
 * The one place where the domain's errors become HTTP answers: each typed refusal keeps its
 * `code` and message and gets its status here. Returns undefined for anything else (a bug, or an
 * error the caller must log), which the server answers as 500 without details.
 */
export function toHttpError(err: unknown): HttpError | undefined {
  if (err instanceof HttpError) return err;
  if (err instanceof InvalidInputError) return new HttpError(400, err.code, err.message);
  if (err instanceof NotFoundError) return new HttpError(404, err.code, err.message);
  if (err instanceof ConflictError) return new HttpError(409, err.code, err.message);
  if (err instanceof TooManyRequestsError) {
    return new HttpError(429, err.code, err.message, { headers: { 'Retry-After': String(Math.max(1, Math.ceil(err.retryAfterS))) } });
  }
  if (err instanceof UnavailableError) return new HttpError(503, err.code, err.message);
  if (err instanceof StoreError && err.code === 'store_unavailable') {
    return new HttpError(503, 'store_unavailable', 'the store is unavailable; retry shortly', { headers: { 'Retry-After': '5' } });
  }
  return undefined;
}
