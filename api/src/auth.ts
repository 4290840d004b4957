import { HttpError } from '@intentwatch/core';
import type { ApiRole } from './settings.js';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { type ApiKeys, type KeyIdentity, roleAllows } from './api-keys.js';

declare module 'express-serve-static-core' {
  interface Locals {
    identity?: KeyIdentity;
  }
}

/** Reads `Authorization: Bearer <key>`; 401 when missing or unknown. */
export function authenticate(keys: ApiKeys): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!m) {
      next(new HttpError(401, 'unauthenticated', 'send Authorization: Bearer <API key>', { headers: { 'WWW-Authenticate': 'Bearer' } }));
      return;
    }
    const identity = keys.identify(m[1] as string);
    if (!identity) {
      next(new HttpError(401, 'unauthenticated', 'the API key is not valid', { headers: { 'WWW-Authenticate': 'Bearer' } }));
      return;
    }
    res.locals.identity = identity;
    next();
  };
}

/** 403 unless the authenticated key's role is at least `role`. */
export function requireRole(role: ApiRole): RequestHandler {
  return (_req: Request, res: Response, next: NextFunction) => {
    const identity = res.locals.identity;
    if (!identity || !roleAllows(identity.role, role)) {
      next(new HttpError(403, 'forbidden', `this needs the ${role} role; the key presented has ${identity?.role ?? 'none'}`));
      return;
    }
    next();
  };
}
