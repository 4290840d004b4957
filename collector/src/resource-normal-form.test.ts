import { MAX_GLOB_LENGTH, MAX_GLOB_WILDCARDS, type Store } from '@intentwatch/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Collector } from './server.js';
import { hex, otlpJson, postJson, startCollector } from '@intentwatch/testkit/collector';
import { openTestStore } from '@intentwatch/testkit';

let store: Store;
let dispose: () => Promise<void>;
let collector: Collector;
let base: string;

beforeAll(async () => {
  ({ store, dispose } = await openTestStore({}, { serverFromEnv: true }));
  ({ collector, url: base } = await startCollector(store));
});

afterAll(async () => {
  await collector?.close();
  await dispose?.();
});

const tooManyStars = `${'**a'.repeat(MAX_GLOB_WILDCARDS / 2 + 1)}!`;
const tooLong = `buckets/${'x'.repeat(MAX_GLOB_LENGTH)}/**`;

describe('token.resources patterns at ingest', () => {
  it('refuses a lifecycle span whose pattern has too many wildcards, keeping the rest of the request (OTLP)', async () => {
    const good = `tok-ok-${hex(4)}`;
    const bad = `tok-bad-${hex(4)}`;
    const request = otlpJson({ 'service.name': 'broker' }, [
      { attributes: { 'token.event': 'issued', 'token.id': bad, 'token.resources': ['buckets/**', tooManyStars] } },
      { attributes: { 'token.event': 'issued', 'token.id': good, 'token.resources': ['buckets/logs/**'] } },
    ]);
    const res = await postJson(`${base}/v1/traces`, request);
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({
      partialSuccess: {
        rejectedSpans: '1',
        errorMessage: expect.stringContaining(
          `token.resources[1] has ${MAX_GLOB_WILDCARDS + 2} wildcards (*); at most ${MAX_GLOB_WILDCARDS} are allowed`,
        ),
      },
    });
    const stored = await store.query<{ token_id: string; resources: string[] }>(
      'SELECT token_id, resources FROM token_events WHERE token_id IN ({ids:Array(String)})',
      { ids: [good, bad] },
    );
    expect(stored).toEqual([{ token_id: good, resources: ['buckets/logs/**'] }]);
  });

  it('refuses a JSON token event whose pattern is too long, by index, with the reason', async () => {
    const id = `tok-json-${hex(4)}`;
    const res = await postJson(`${base}/v1/token-events`, [
      { 'token.event': 'issued', 'token.id': `${id}-a`, 'token.resources': [tooLong] },
      { 'token.event': 'issued', 'token.id': `${id}-b`, 'token.resources': ['repos/acme/*'] },
      { 'token.event': 'issued', 'token.id': `${id}-c`, 'token.resources': ['a\u0000b'] },
    ]);
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({
      accepted: 1,
      rejected: [
        { index: 0, message: `token.resources[0] is ${tooLong.length} characters long; at most ${MAX_GLOB_LENGTH} are allowed` },
        { index: 2, message: 'token.resources[0] contains a control character' },
      ],
      rejectedCount: 2,
    });
  });
});

describe('resources of token uses', () => {
  it('are stored in normal form, the raw form beside them when it differs', async () => {
    const traceId = hex(16);
    const resources = ['buckets/logs/x%2F..%2F..%2Fsecrets%2Fkey', 'buckets//logs/./a', 'repos/acme/api'];
    const request = otlpJson(
      { 'service.name': 'agent' },
      resources.map((r) => ({ traceId, attributes: { 'token.id': 'tok-norm', 'token.resource': r } })),
    );
    expect((await postJson(`${base}/v1/traces`, request)).status).toBe(200);
    const rows = await store.query<{ resource: string; resource_raw: string }>(
      'SELECT resource, resource_raw FROM spans WHERE trace_id = {t:String} ORDER BY resource',
      { t: traceId },
    );
    expect(rows).toEqual([
      { resource: 'buckets/logs/a', resource_raw: 'buckets//logs/./a' },
      { resource: 'buckets/secrets/key', resource_raw: 'buckets/logs/x%2F..%2F..%2Fsecrets%2Fkey' },
      { resource: 'repos/acme/api', resource_raw: '' },
    ]);
  });

  it('never store a credential that percent-escapes hid', async () => {
    const traceId = hex(16);
    const secret = `Qs3cr3t${hex(8)}`;
    const request = otlpJson({ 'service.name': 'agent' }, [
      { traceId, attributes: { 'token.id': 'tok-norm', 'url.path': `/cb%3Fcode%3D${secret}%26x%3D1` } },
    ]);
    expect((await postJson(`${base}/v1/traces`, request)).status).toBe(200);
    const rows = await store.query<Record<string, unknown>>('SELECT * FROM spans WHERE trace_id = {t:String}', { t: traceId });
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(secret);
    expect(rows[0]?.resource).toMatch(/^\/cb\?code=sha256:[0-9a-f]{64}&x=1$/);
  });
});
