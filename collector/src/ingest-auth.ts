import { createHash, timingSafeEqual } from 'node:crypto';
import { HttpError } from '@intentwatch/core';
import type { RequestHandler } from 'express';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/**
 * Requires `Authorization: Bearer <key>` with one of `keys` when any are configured. Keys are
 * compared as SHA-256 digests in constant time, so neither their length nor a prefix leaks.
 */
export function ingestAuth(keys: readonly string[] | undefined): RequestHandler {
  if (!keys || keys.length === 0) return (_req, _res, next) => next();
  const digests = keys.map(digest);
  return (req, _res, next) => {
    const header = req.headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) {
      next(
        new HttpError(401, 'unauthenticated', 'ingest requires Authorization: Bearer <ingest key>', {
          headers: { 'WWW-Authenticate': 'Bearer' },
        }),
      );
      return;
    }
    const presented = digest(m[1] as string);
    let ok = false;
    for (const d of digests) ok = timingSafeEqual(d, presented) || ok;
    if (!ok) {
      next(new HttpError(401, 'unauthenticated', 'the ingest key is not valid', { headers: { 'WWW-Authenticate': 'Bearer' } }));
      return;
    }
    next();
  };
}
