import {
  ConflictError,
  HttpError,
  InvalidInputError,
  NotFoundError,
  StoreError,
  TooManyRequestsError,
  UnavailableError,
} from '@intentwatch/core';
import { describe, expect, it } from 'vitest';
import { toHttpError } from './errors.js';

describe('the domain errors as HTTP answers', () => {
  it('gives each refusal its status and keeps its code and message', () => {
    const cases: [Error, number, string][] = [
      [new InvalidInputError('invalid_parameter', 'limit must be a whole number'), 400, 'invalid_parameter'],
      [new NotFoundError('no alert with id x'), 404, 'not_found'],
      [new ConflictError('read_only_policy', 'policy p is not managed through the API'), 409, 'read_only_policy'],
      [new TooManyRequestsError('too_many_requests', 'at most once every 30 s', 29.2), 429, 'too_many_requests'],
      [new UnavailableError('ssf_unavailable', 'needs INTENTWATCH_SECRETS_KEY'), 503, 'ssf_unavailable'],
    ];
    for (const [err, status, code] of cases) {
      expect(toHttpError(err)).toMatchObject({ status, code, message: err.message });
    }
  });

  it('tells a client asked to slow down when to ask again, in whole seconds', () => {
    expect(toHttpError(new TooManyRequestsError('too_many_requests', 'slow down', 29.2))?.headers).toEqual({ 'Retry-After': '30' });
  });

  it('answers an unreachable store with 503 and Retry-After, without the store’s own message', () => {
    const e = toHttpError(new StoreError('connect ECONNREFUSED 10.0.0.5:8123', { code: 'store_unavailable' }));
    expect(e).toMatchObject({ status: 503, code: 'store_unavailable', headers: { 'Retry-After': '5' } });
    expect(e?.message).not.toContain('10.0.0.5');
  });

  it('leaves bugs and other failures to the 500 path', () => {
    expect(toHttpError(new TypeError('x is undefined'))).toBeUndefined();
    expect(toHttpError(new StoreError('syntax error'))).toBeUndefined();
    const http = new HttpError(421, 'misdirected_request', 'wrong host');
    expect(toHttpError(http)).toBe(http);
  });
});
