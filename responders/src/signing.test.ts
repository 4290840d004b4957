import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { backoffDelay, nextDelay, parseRetryAfter } from './backoff.js';
import { signedHeaders, webhookId } from './signing.js';

const OLD = `whsec_${Buffer.from('old-secret-old-secret-32-bytes!!').toString('base64')}`;
const NEW = `whsec_${Buffer.from('new-secret-new-secret-32-bytes!!').toString('base64')}`;

describe('signedHeaders', () => {
  it('produces headers the standardwebhooks package verifies', () => {
    const body = JSON.stringify({ type: 'token.revoke_requested', data: { x: 1 } });
    const headers = signedHeaders('msg_1', body, [NEW]);
    expect(new Webhook(NEW).verify(body, headers)).toEqual({ type: 'token.revoke_requested', data: { x: 1 } });
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
  });

  it('signs with both secrets during rotation, so a receiver holding either one accepts', () => {
    const body = '{"a":1}';
    const headers = signedHeaders('msg_2', body, [OLD, NEW]);
    expect(headers['webhook-signature']?.split(' ')).toHaveLength(2);
    expect(() => new Webhook(OLD).verify(body, headers)).not.toThrow();
    expect(() => new Webhook(NEW).verify(body, headers)).not.toThrow();
  });

  it('is refused by a receiver when the body or id was altered', () => {
    const headers = signedHeaders('msg_3', '{"a":1}', [NEW]);
    expect(() => new Webhook(NEW).verify('{"a":2}', headers)).toThrow(WebhookVerificationError);
    expect(() => new Webhook(NEW).verify('{"a":1}', { ...headers, 'webhook-id': 'msg_4' })).toThrow(WebhookVerificationError);
  });
});

describe('webhookId', () => {
  it('is the same for the same policy, dedup key and generation, and differs otherwise', () => {
    expect(webhookId('p', 'session:t1', 0)).toBe(webhookId('p', 'session:t1', 0));
    expect(webhookId('p', 'session:t1', 0)).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(new Set([webhookId('p', 'session:t1', 0), webhookId('p', 'session:t1', 1), webhookId('q', 'session:t1', 0)]).size).toBe(3);
  });
});

describe('backoff', () => {
  const opts = { baseDelayMs: 500, maxDelayMs: 60_000 };

  it('doubles with each attempt, jittered between half and all of it, and stops at the cap', () => {
    expect(backoffDelay(1, opts, () => 0)).toBe(250);
    expect(backoffDelay(1, opts, () => 1)).toBe(500);
    expect(backoffDelay(4, opts, () => 0)).toBe(2000);
    expect(backoffDelay(4, opts, () => 1)).toBe(4000);
    expect(backoffDelay(20, opts, () => 1)).toBe(60_000);
  });

  it('reads Retry-After as seconds or an HTTP date, and caps it at an hour', () => {
    const now = Date.parse('2026-11-25T10:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('Wed, 25 Nov 2026 10:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('999999', now)).toBe(3_600_000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });

  it('waits at least what the receiver asked', () => {
    expect(nextDelay(1, opts, 10_000)).toBe(10_000);
    expect(nextDelay(1, opts)).toBeLessThanOrEqual(500);
  });
});
