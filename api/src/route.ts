import { HttpError } from '@intentwatch/core';
import type { Request, Response, Router } from 'express';
import type { z } from 'zod';
import type { KeyIdentity } from './api-keys.js';
import { requireRole } from './auth.js';
import type { RouteSpec } from './contract/routes.js';

type Parsed<T> = T extends z.ZodType ? z.output<T> : Record<string, never>;

export interface RouteInput<S extends RouteSpec> {
  params: Parsed<S['params']>;
  query: Parsed<S['query']>;
  body: Parsed<S['body']>;
  identity: KeyIdentity;
  req: Request;
  res: Response;
}

/** A handler's answer with a status other than the spec's first success status (e.g. 201 rather than 200). */
export class Answer {
  constructor(
    readonly status: number,
    readonly body?: unknown,
  ) {}
}

/**
 * Mounts `handler` on `router` as `spec` declares it: the role check, then path, query and body
 * validated by the spec's schemas (400 naming the field, 415 for a body that is not JSON), then
 * the handler, whose result is sent as JSON with the spec's first success status — or as an
 * {@link Answer} says; with no body when the spec declares none for that status. A handler that
 * answers itself (a stream) has sent its headers, and is left to finish.
 */
export function bind<S extends RouteSpec>(router: Router, spec: S, handler: (input: RouteInput<S>) => Promise<unknown>): void {
  const status = Number(Object.keys(spec.responses)[0] ?? 200);
  router[spec.method](spec.path, requireRole(spec.role ?? 'viewer'), async (req: Request, res: Response) => {
    const params = parse(spec.params, req.params, 'path');
    const query = parse(spec.query, req.query, 'query');
    let body: unknown = {};
    if (spec.body) {
      const sent = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
      if (spec.bodyOptional && !sent) body = parse(spec.body, {}, 'body');
      else {
        if (!req.is('application/json')) throw new HttpError(415, 'unsupported_media_type', 'send the body as application/json');
        body = parse(spec.body, req.body, 'body');
      }
    }
    const identity = res.locals.identity as KeyIdentity;
    const result = await handler({ params, query, body, identity, req, res } as RouteInput<S>);
    if (res.headersSent) return;
    const answer = result instanceof Answer ? result : new Answer(status, result);
    const declared = spec.responses[answer.status];
    if (declared && !declared.schema && !declared.contentType) res.status(answer.status).end();
    else res.status(answer.status).json(answer.body);
  });
}

type Where = 'path' | 'query' | 'body';

function parse(schema: z.ZodType | undefined, value: unknown, where: Where): unknown {
  if (!schema) {
    if (where === 'query' && value && typeof value === 'object' && Object.keys(value).length > 0) {
      throw new HttpError(400, 'invalid_parameter', `unknown parameter ${Object.keys(value).join(', ')}: this route takes none`);
    }
    return {};
  }
  if (where === 'query' && value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (typeof v !== 'string') {
        throw new HttpError(400, 'invalid_parameter', `${k} must be given once, as a single value (use commas for several values)`);
      }
    }
  }
  const result = schema.safeParse(value ?? {}, { reportInput: true });
  if (result.success) return result.data;
  throw new HttpError(400, where === 'body' ? 'invalid_body' : 'invalid_parameter', describeIssues(result.error.issues, where));
}

/** One readable sentence per problem, each naming the field: "severity: expected one of low, medium, high, critical (got "urgent")". */
export function describeIssues(issues: readonly z.core.$ZodIssue[], where: Where): string {
  const noun = where === 'body' ? 'field' : 'parameter';
  return issues
    .slice(0, 5)
    .map((i) => {
      if (i.code === 'unrecognized_keys') return `unknown ${noun}${i.keys.length > 1 ? 's' : ''} ${i.keys.join(', ')}`;
      // A comma-separated query value is one parameter: name it, not the position in its list.
      const path = (where === 'body' ? i.path : i.path.filter((p) => typeof p === 'string')).map(String).join('.');
      const field = path || where;
      let message = i.message.replace(/^Invalid input: /, '').replace(/^Invalid option: /, '');
      if (i.code === 'invalid_value' && 'values' in i) message = `expected one of ${i.values.map(String).join(', ')}`;
      if (i.code === 'invalid_type' && i.input === undefined) message = 'required';
      const got = i.input;
      const shown = typeof got === 'string' ? ` (got "${got.length > 60 ? `${got.slice(0, 60)}…` : got}")` : '';
      return `${field}: ${message}${shown}`;
    })
    .join('; ');
}
