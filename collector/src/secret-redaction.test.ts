import { createHash, randomBytes } from 'node:crypto';
import { type SpanRow, type Store, fingerprint, quoteIdentifier, registry } from '@intentwatch/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Collector } from './server.js';
import { hex, keyValues, otlpJson, postJson, postProtobuf, startCollector, toProtobuf } from '@intentwatch/testkit/collector';
import { openTestStore } from '@intentwatch/testkit';

/*
 * Defence in depth: agents should send only fingerprints (the SDK makes sure of it), but any
 * OpenTelemetry SDK can be pointed at the collector, and headers, URLs and error messages end
 * up in attributes. Whatever arrives, no raw credential may reach the store.
 */

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

const sha = (s: string) => `sha256:${createHash('sha256').update(s, 'utf8').digest('hex')}`;
const alnum = (n: number) =>
  randomBytes(n * 2)
    .toString('base64')
    .replace(/[^A-Za-z0-9]/g, '')
    .slice(0, n)
    .padEnd(n, '7');

/** Fresh credentials of several formats per test, so that a match in the store can only come from that test. */
function freshSecrets() {
  const jti = `tok-${hex(6)}`;
  return {
    jti,
    jwt: [
      Buffer.from('{"alg":"RS256"}').toString('base64url'),
      Buffer.from(JSON.stringify({ jti, sub: 'agent' })).toString('base64url'),
      randomBytes(32).toString('base64url'),
    ].join('.'),
    bearer: `b${hex(16)}`,
    aws: `AKIA${alnum(16)
      .toUpperCase()
      .replace(/[^0-9A-Z]/g, 'Q')}`,
    github: `ghp_${alnum(36)}`,
    openai: `sk-proj-${alnum(32)}`,
    slack: `xoxb-${hex(8)}-${alnum(24)}`,
    google: `AIza${alnum(35)}`,
    oauth: `o${hex(12)}`,
  };
}

async function redactedTotal(): Promise<number> {
  const metric = await registry.getSingleMetric('intentwatch_secrets_redacted_total')?.get();
  return metric?.values.reduce((sum, v) => sum + v.value, 0) ?? 0;
}

/** Every row of every table as text: "the store contains it" means any column anywhere. */
async function storedText(): Promise<string> {
  const tables = await store.query<{ name: string }>('SHOW TABLES');
  const parts: string[] = [];
  for (const { name } of tables) parts.push(JSON.stringify(await store.query(`SELECT * FROM ${quoteIdentifier(name)}`)));
  return parts.join('\n');
}

function expectNowhere(text: string, secrets: Record<string, string>): void {
  for (const [name, secret] of Object.entries(secrets)) {
    if (name === 'jti') continue;
    expect(text.includes(secret), `${name} stored`).toBe(false);
  }
}

/** A span whose every kind of attribute value carries a secret, as OTLP/JSON. */
function leakyRequest(s: ReturnType<typeof freshSecrets>, traceId: string) {
  const request = otlpJson({ 'service.name': 'careless-agent', 'deploy.aws_key': s.aws }, [
    {
      traceId,
      name: `POST /v1/chat with ${s.openai}`,
      attributes: {
        // The token itself where its fingerprint belongs.
        'token.id': `Bearer ${s.jwt}`,
        'http.request.header.authorization': [`Bearer ${s.bearer}`],
        'agent.tools': ['search', s.github],
        'url.full': `https://api.example.com/v1/items?access_token=${s.oauth}&page=2`,
        'exception.message': `401 Unauthorized: Authorization: Bearer ${s.bearer} rejected`,
        'service.peer.name': 'chat-api',
      },
    },
  ]);
  // A nested map value (kvlistValue) two levels deep.
  const span = (request.resourceSpans[0] as { scopeSpans: { spans: { attributes: object[] }[] }[] }).scopeSpans[0]?.spans[0];
  span?.attributes.push({
    key: 'request.context',
    value: {
      kvlistValue: { values: [{ key: 'auth', value: { kvlistValue: { values: keyValues({ slack: s.slack, keys: [s.google] }) } } }] },
    },
  });
  return request;
}

/** A span as `spanOf` reads it. */
type StoredSpan = Pick<SpanRow, 'name' | 'action' | 'token_id' | 'attributes' | 'resource_attributes'>;

async function spanOf(traceId: string): Promise<StoredSpan | undefined> {
  const rows = await store.query<StoredSpan>(
    'SELECT name, action, token_id, attributes, resource_attributes FROM spans WHERE trace_id = {t:String}',
    {
      t: traceId,
    },
  );
  return rows[0];
}

describe('the collector', () => {
  for (const encoding of ['json', 'protobuf'] as const) {
    it(`replaces raw secrets in span, resource, nested and array attributes and the span name by fingerprints (OTLP/${encoding})`, async () => {
      const s = freshSecrets();
      const traceId = hex(16);
      const before = await redactedTotal();
      const request = leakyRequest(s, traceId);
      const res =
        encoding === 'json' ? await postJson(`${base}/v1/traces`, request) : await postProtobuf(`${base}/v1/traces`, toProtobuf(request));
      expect(res.status).toBe(200);

      const row = await spanOf(traceId);
      expect(row?.token_id).toBe(s.jti);
      expect(row?.name).toBe(`POST /v1/chat with ${sha(s.openai)}`);
      expect(row?.action).toBe(row?.name);
      expect(row?.resource_attributes['deploy.aws_key']).toBe(sha(s.aws));
      expect(row?.attributes).toMatchObject({
        'token.id': s.jti,
        'http.request.header.authorization': JSON.stringify([sha(s.bearer)]),
        'agent.tools': JSON.stringify(['search', sha(s.github)]),
        'url.full': `https://api.example.com/v1/items?access_token=${sha(s.oauth)}&page=2`,
        'exception.message': `401 Unauthorized: Authorization: Bearer ${sha(s.bearer)} rejected`,
        'request.context': JSON.stringify({ auth: { slack: sha(s.slack), keys: [sha(s.google)] } }),
      });
      expectNowhere(await storedText(), s);
      // aws, openai (name), token.id, header, github, oauth, exception, slack, google.
      expect((await redactedTotal()) - before).toBe(9);
    });
  }

  it('replaces secrets in token and task events posted as JSON, and fingerprints a raw token.id as the SDK would', async () => {
    const s = freshSecrets();
    const before = await redactedTotal();
    const tokenRes = await postJson(`${base}/v1/token-events`, [
      {
        'token.event': 'issued',
        'token.id': s.github,
        'gen_ai.agent.id': 'careless-broker-client',
        'token.audience': ['github'],
        'token.scopes': ['repo:read'],
        'broker.debug': { request: { headers: [`Authorization: Bearer ${s.bearer}`] } },
        time: '2026-11-25T10:00:00Z',
      },
      { 'token.event': 'refreshed', 'token.id': `Bearer ${s.jwt}`, 'token.parent_id': s.github, time: '2026-11-25T10:05:00Z' },
    ]);
    expect(tokenRes.status).toBe(200);
    expect(tokenRes.json()).toMatchObject({ accepted: 2 });
    const taskRes = await postJson(`${base}/v1/task-events`, [
      {
        'task.event': 'started',
        'task.id': 'T-leaky',
        'gen_ai.agent.id': 'careless-broker-client',
        'task.intent': `sync the bucket with key ${s.aws} and report`,
        'task.tools': ['s3.sync', s.openai],
      },
    ]);
    expect(taskRes.status).toBe(200);

    const events = await store.query<{ event: string; token_id: string; parent_id: string; attributes: Record<string, string> }>(
      "SELECT event, token_id, parent_id, attributes FROM token_events WHERE agent_id = 'careless-broker-client' OR parent_id = {p:String} ORDER BY time",
      { p: sha(s.github) },
    );
    expect(events.map((e) => [e.event, e.token_id, e.parent_id])).toEqual([
      ['issued', sha(s.github), ''],
      ['refreshed', s.jti, sha(s.github)],
    ]);
    expect(events[0]?.attributes['broker.debug']).toBe(
      JSON.stringify({ request: { headers: [`Authorization: Bearer ${sha(s.bearer)}`] } }),
    );
    const [task] = await store.query<{ intent: string; tools: string[] }>(
      "SELECT intent, tools FROM task_events WHERE task_id = 'T-leaky'",
    );
    expect(task).toEqual({ intent: `sync the bucket with key ${sha(s.aws)} and report`, tools: ['s3.sync', sha(s.openai)] });
    expectNowhere(await storedText(), s);
    // github, bearer (nested), jwt, github as parent, aws (intent), openai (tools).
    expect((await redactedTotal()) - before).toBe(6);
  });

  it('does not let a "__proto__" key smuggle a raw token into a column of a JSON event', async () => {
    const s = freshSecrets();
    const body = `[{"token.event":"issued","time":"2026-11-25T10:00:00Z","__proto__":{"token.id":"${s.github}","gen_ai.agent.id":"smuggler"}}]`;
    const res = await postJson(`${base}/v1/token-events`, body);
    expect(res.status).toBe(400);
    expect(res.json().error.message).toMatch(/needs token\.id/);
    expectNowhere(await storedText(), s);
  });

  it('stores ordinary values unchanged and counts nothing', async () => {
    const traceId = hex(16);
    const before = await redactedTotal();
    const ordinary = {
      'token.id': sha('already-a-fingerprint'),
      'task.intent': 'Basic authentication review for the token service',
      'url.full': 'https://api.github.com/repos/acme/widgets/issues?state=open&per_page=100',
      'db.query.text': 'SELECT id FROM tokens WHERE token_type = $1',
      note: 'Token Verification passed',
    };
    const res = await postJson(
      `${base}/v1/traces`,
      otlpJson({ 'service.name': 'tidy-agent' }, [{ traceId, name: 'GET /repos', attributes: ordinary }]),
    );
    expect(res.status).toBe(200);
    const row = await spanOf(traceId);
    expect(row?.attributes).toEqual(ordinary);
    expect(row?.name).toBe('GET /repos');
    expect(await redactedTotal()).toBe(before);
  });
});

describe('fingerprint', () => {
  it('gives the id the SDK gives: the jti of a JWT, else sha256 of the bytes without the scheme', () => {
    const s = freshSecrets();
    expect(fingerprint(`Bearer ${s.jwt}`)).toBe(s.jti);
    expect(fingerprint(`Bearer ${s.bearer}`)).toBe(sha(s.bearer));
  });
});
