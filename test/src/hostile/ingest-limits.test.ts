import { request as httpRequest } from 'node:http';
import { rootLogger } from '@intentwatch/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  arrayItems,
  emptyDeflateBlocks,
  emptySpans,
  gzip,
  invalidEvents,
  manyAttributes,
  maximalRequest,
} from '../support/hostile-bodies.js';
import { Sender, hex, openStore, reconcile, startCollector, storedSpanIds, until } from './support.js';

// The attack figures of issue 12, each against a real collector over the real embedded store with
// the default limits, while a valid sender keeps sending beside them: every hostile body is
// refused at once with 413 naming the limit and its variable (nothing of it stored), answers
// stay small whatever the input holds, and a maximal legal request is stored whole while
// /healthz keeps answering.

let t: Awaited<ReturnType<typeof openStore>>;
let collector: Awaited<ReturnType<typeof startCollector>>;
let bystander: Sender;
const bystanderRun = `bystander-${hex(3)}`;

beforeAll(async () => {
  rootLogger().level = 'error';
  t = await openStore({ INTENTWATCH_BATCH_MS: '10' });
  collector = await startCollector(t.store, t.config);
  bystander = new Sender({ url: collector.url, run: bystanderRun, spansPerRequest: 20, concurrency: 2, timeoutMs: 60_000 }).start();
});

afterAll(async () => {
  await bystander?.stop();
  await collector?.collector.close();
  await t?.dispose();
});

interface Answer {
  status: number;
  text: string;
}

async function post(path: string, body: string | Uint8Array, headers: Record<string, string>, timeoutMs = 120_000): Promise<Answer> {
  const res = await fetch(`${collector.url}${path}`, { method: 'POST', body, headers, signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.status, text: await res.text() };
}

const protobufGzip = { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' };
const jsonGzip = { 'content-type': 'application/json', 'content-encoding': 'gzip' };
const messageOf = (a: Answer) => JSON.parse(a.text).error.message as string;
const protobufMessageOf = (a: Answer) => a.text; // a google.rpc.Status: its message is readable text inside

async function count(sql: string, params: Record<string, unknown>): Promise<number> {
  const rows = await t.store.query<{ n: string | number }>(sql, params);
  return Number(rows[0]?.n ?? 0);
}

describe('Collector refuses the kilobyte-sized hostile bodies at once, naming the limit', () => {
  it('refuses 8 M empty spans in a 15 KB gzip body with 413 naming INTENTWATCH_MAX_SPANS_PER_REQUEST', async () => {
    const body = gzip(emptySpans(8_000_000));
    expect(body.length).toBeLessThan(20_000);
    const a = await post('/v1/traces', body, protobufGzip);
    expect(a.status).toBe(413);
    expect(protobufMessageOf(a)).toContain('more than 65536 spans in one request (INTENTWATCH_MAX_SPANS_PER_REQUEST)');
  });

  it('refuses 8 M items in one attribute with 413 naming INTENTWATCH_MAX_ARRAY_ITEMS', async () => {
    const body = gzip(arrayItems(8_000_000));
    expect(body.length).toBeLessThan(20_000);
    const a = await post('/v1/traces', body, protobufGzip);
    expect(a.status).toBe(413);
    expect(protobufMessageOf(a)).toContain('more than 8192 items in one array or key-value list (INTENTWATCH_MAX_ARRAY_ITEMS)');
  });

  it('refuses 1 M attributes on one span with 413 naming INTENTWATCH_MAX_DECODED_ATTRIBUTES', async () => {
    const a = await post('/v1/traces', gzip(manyAttributes(1_000_000)), protobufGzip);
    expect(a.status).toBe(413);
    expect(protobufMessageOf(a)).toContain('more than 2048 attributes on one span or resource (INTENTWATCH_MAX_DECODED_ATTRIBUTES)');
  });

  it('refuses one valid event followed by 4 M invalid items with 413, storing not even the valid one', async () => {
    const tokenId = `tok-${hex(4)}`;
    const body = gzip(invalidEvents(4_000_000, tokenId));
    expect(body.length).toBeLessThan(20_000);
    const a = await post('/v1/token-events', body, jsonGzip);
    expect(a.status).toBe(413);
    expect(messageOf(a)).toMatch(/more than 65536 events in one request \(INTENTWATCH_MAX_SPANS_PER_REQUEST\)/);
    expect(a.text.length).toBeLessThan(1000);
    expect(await count('SELECT count() AS n FROM token_events WHERE token_id = {t:String}', { t: tokenId })).toBe(0);
  });

  it('answers one valid event among 60,000 invalid items with 200, the count and the first ten, in under 4 KB', async () => {
    const tokenId = `tok-${hex(4)}`;
    const a = await post('/v1/token-events', gzip(invalidEvents(60_000, tokenId)), jsonGzip);
    expect(a.status).toBe(200);
    expect(a.text.length).toBeLessThan(4096);
    const answer = JSON.parse(a.text);
    expect(answer).toMatchObject({ accepted: 1, rejectedCount: 60_000 });
    expect(answer.rejected).toHaveLength(10);
    expect(answer.rejected[0]).toEqual({ index: 1, message: 'each event must be a JSON object' });
    expect(await count('SELECT count() AS n FROM token_events WHERE token_id = {t:String}', { t: tokenId })).toBe(1);
  });

  it('answers 60,000 invalid events with a 400 that names the first few and counts the rest', async () => {
    const a = await post('/v1/task-events', gzip(`[${Array.from({ length: 60_000 }, () => '{"task.event":"nope"}').join(',')}]`), jsonGzip);
    expect(a.status).toBe(400);
    expect(a.text.length).toBeLessThan(4096);
    expect(messageOf(a)).toMatch(/^no event was accepted: \[0\] task\.event must be one of .*; and 59990 more$/);
  });

  it('refuses 48 MB of empty deflate blocks by their Content-Length, before inflating anything', async () => {
    const bomb = emptyDeflateBlocks(48_000_000);
    const a = await post('/v1/traces', bomb, { 'content-type': 'application/x-protobuf', 'content-encoding': 'deflate' });
    expect(a.status).toBe(413);
    expect(protobufMessageOf(a)).toMatch(/larger than 16777216 bytes as sent \(INTENTWATCH_MAX_BODY_BYTES/);
  });

  it('refuses 48 MB of empty deflate blocks sent without a length once 16 MiB have arrived, reading no further', async () => {
    const bomb = emptyDeflateBlocks(48_000_000);
    const answer = await streamUntilAnswered(`${collector.url}/v1/traces`, bomb, {
      'content-type': 'application/json',
      'content-encoding': 'deflate',
    });
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.text).error.message).toMatch(/larger than 16777216 bytes as sent/);
    // The answer came while the body was still being sent: the collector read no more than it had to.
    expect(answer.sentBeforeAnswer).toBeLessThan(bomb.length);
  });
});

describe('Collector under a maximal legal request', () => {
  it('stores every span of a maximal request while /healthz keeps answering in between', async () => {
    const runs = [`maximal-${hex(3)}`];
    const requests = runs.map((service) => maximalRequest({ service, tokenId: `tok-${service}` }));
    for (const r of requests) {
      expect(r.spans).toBe(65_536);
      expect(r.body.length).toBeLessThan(16 * 1024 * 1024);
    }
    let inFlight = true;
    const sent = Promise.all(
      requests.map((r) => post('/v1/traces', r.body, { 'content-type': 'application/x-protobuf' }, 300_000)),
    ).finally(() => {
      inFlight = false;
    });
    // /healthz, one probe after the other, each with a generous deadline, while the requests are processed.
    const probes: { status: number | string; duringRequests: boolean }[] = [];
    while (inFlight) {
      const status = await fetch(`${collector.url}/healthz`, { signal: AbortSignal.timeout(10_000) }).then(
        (res) => res.status,
        (e: Error) => e.name,
      );
      probes.push({ status, duringRequests: inFlight });
      await new Promise((r) => setTimeout(r, 20));
    }
    const answers = await sent;
    expect(answers.map((a) => a.status)).toEqual([200]);
    expect(probes.every((p) => p.status === 200)).toBe(true);
    expect(probes.filter((p) => p.duringRequests).length).toBeGreaterThan(2);
    for (const service of runs) {
      expect(await count('SELECT count() AS n FROM spans WHERE caller = {s:String}', { s: service })).toBe(65_536);
    }
  }, 400_000);
});

describe('the valid sender beside all of the above', () => {
  it('saw nothing but 200, every acknowledged span stored', async () => {
    await until('the bystander to send', () => bystander.acknowledged.size > 0);
    await bystander.stop();
    const run = reconcile(bystander, await storedSpanIds(t.store, bystanderRun));
    expect(Object.keys(run.outcomes)).toEqual(['200']);
    expect(run.lost).toBe(0);
  });
});

/**
 * POSTs `body` chunked (no Content-Length), 64 KB at a time, until the server answers; resolves
 * with the answer and how much was sent before it came.
 */
function streamUntilAnswered(
  url: string,
  body: Buffer,
  headers: Record<string, string>,
): Promise<{ status: number; text: string; sentBeforeAnswer: number }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers: { ...headers, 'transfer-encoding': 'chunked' } });
    let sent = 0;
    let answered = false;
    req.on('response', (res) => {
      answered = true;
      const sentBeforeAnswer = sent;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), sentBeforeAnswer }));
    });
    // Writing on after the answer closed the connection fails; only an error before it counts.
    req.on('error', (e) => {
      if (!answered) reject(e);
    });
    const pump = () => {
      while (!answered && sent < body.length) {
        const chunk = body.subarray(sent, sent + 65_536);
        sent += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', pump);
          return;
        }
      }
      if (!answered) req.end();
    };
    pump();
  });
}
