import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import type { Store } from '@intentwatch/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExportTraceServiceResponse, RpcStatus } from './otlp/proto.js';
import type { Collector } from './server.js';
import { collectorConfig, hex, otlpJson, post, postJson, postProtobuf, startCollector, toProtobuf } from '@intentwatch/testkit/collector';
import { openTestStore } from '@intentwatch/testkit';

const fixture = (name: string) => readFileSync(new URL(`../../test/fixtures/${name}`, import.meta.url), 'utf8');
const MAX_BODY = 64 * 1024;

let store: Store;
let dispose: () => Promise<void>;
let collector: Collector;
let base: string;

beforeAll(async () => {
  ({ store, dispose } = await openTestStore({}, { serverFromEnv: true }));
  ({ collector, url: base } = await startCollector(store, collectorConfig({ INTENTWATCH_MAX_BODY_BYTES: String(MAX_BODY) })));
});

afterAll(async () => {
  await collector?.close();
  await dispose?.();
});

const traces = () => `${base}/v1/traces`;
const spansOf = (traceId: string) =>
  store.query<Record<string, unknown>>('SELECT * FROM spans WHERE trace_id = {t:String} ORDER BY span_id', { t: traceId });

describe('POST /v1/traces with OTLP/JSON', () => {
  it('accepts the OTLP example file and stores its span with the exact start time', async () => {
    const res = await postJson(traces(), fixture('otlp-example-trace.json'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.json()).toEqual({});
    const rows = await spansOf('5b8efff798038103d269b633813fc60c');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      time: '2018-12-13T14:51:00.000000000Z',
      end_time: '2018-12-13T14:51:01.000000000Z',
      trace_id: '5b8efff798038103d269b633813fc60c',
      span_id: 'eee19b7ec3c1b174',
      parent_span_id: 'eee19b7ec3c1b173',
      name: "I'm a server span",
      kind: 2,
      caller: 'my.service',
      agent_id: 'my.service',
      scope_name: 'my.library',
      attributes: { 'my.span.attr': 'some value' },
      resource_attributes: { 'service.name': 'my.service' },
    });
  });

  it('reads nanosecond times given as strings just as exactly', async () => {
    const traceId = hex(16);
    const body = fixture('otlp-example-trace-string-times.json')
      .replace('5B8EFFF798038103D269B633813FC60C', traceId.toUpperCase())
      .replace('"1544712660000000000"', '"1544712660123456789"');
    expect((await postJson(traces(), body)).status).toBe(200);
    const rows = await spansOf(traceId);
    expect(rows.map((r) => [r.time, r.end_time])).toEqual([['2018-12-13T14:51:00.123456789Z', '2018-12-13T14:51:01.000000000Z']]);
  });

  it('stores a time of the first second of the epoch exactly', async () => {
    const traceId = hex(16);
    expect((await postJson(traces(), otlpJson({}, [{ traceId, start: 1n, end: 2n, attributes: { 'token.id': 't' } }]))).status).toBe(200);
    expect((await spansOf(traceId)).map((r) => r.time)).toEqual(['1970-01-01T00:00:00.000000001Z']);
  });

  it('accepts a gzip-compressed body', async () => {
    const traceId = hex(16);
    const body = gzipSync(JSON.stringify(otlpJson({ 'service.name': 'zipped' }, [{ traceId }, { traceId }])));
    const res = await post(traces(), body, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    expect(res.status).toBe(200);
    expect(await spansOf(traceId)).toHaveLength(2);
  });

  it('answers 200 with partialSuccess and stores the other spans when one span is malformed', async () => {
    const traceId = hex(16);
    const body = otlpJson({}, [{ traceId }, { traceId: 'ab'.repeat(15), spanId: 'badbadbadbadbad1' }, { traceId }]);
    const res = await postJson(traces(), body);
    expect(res.status).toBe(200);
    const answer = res.json();
    expect(answer.partialSuccess).toEqual({
      rejectedSpans: '1',
      errorMessage: expect.stringMatching(/span 1 \(badbadbadbadbad1\): traceId must be 16 bytes/),
    });
    expect(await spansOf(traceId)).toHaveLength(2);
  });

  it('answers 400 with a message for a body that is not OTLP/JSON, and stores nothing', async () => {
    for (const body of ['{"resourceSpans": [', 'garbage', '[1,2,3]', '{"resourceSpans": 5}']) {
      const res = await postJson(traces(), body);
      expect(res.status, body).toBe(400);
      expect(res.json(), body).toMatchObject({
        error: { code: 'invalid_body', message: expect.stringMatching(/OTLP ExportTraceServiceRequest in json: .+/) },
        code: 3,
      });
    }
  });

  it('answers 415 for other content types', async () => {
    for (const type of ['text/plain', 'application/xml', 'application/grpc']) {
      const res = await post(traces(), fixture('otlp-example-trace.json'), { 'content-type': type });
      expect(res.status, type).toBe(415);
      expect(res.json().error).toMatchObject({
        code: 'unsupported_media_type',
        message: expect.stringContaining('application/x-protobuf or application/json'),
      });
    }
    const none = await post(traces(), 'x', {});
    expect(none.status).toBe(415);
  });

  it('answers 413 for a body past the limit', async () => {
    const traceId = hex(16);
    const big = otlpJson({}, [{ traceId, attributes: { filler: 'x'.repeat(MAX_BODY) } }]);
    const res = await postJson(traces(), big);
    expect(res.status).toBe(413);
    expect(res.json().error.code).toBe('body_too_large');
    expect(await spansOf(traceId)).toHaveLength(0);
  });

  it('answers 413 for a small gzip body that inflates past the limit', async () => {
    const traceId = hex(16);
    const bomb = gzipSync(JSON.stringify(otlpJson({}, [{ traceId, attributes: { filler: 'x'.repeat(50 * MAX_BODY) } }])));
    expect(bomb.length).toBeLessThan(MAX_BODY / 4);
    const res = await post(traces(), bomb, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    expect(res.status).toBe(413);
    expect(res.json().error.message).toMatch(/after decompression/);
    expect(await spansOf(traceId)).toHaveLength(0);
  });

  it('answers 400 for a body that is not valid gzip', async () => {
    const res = await post(traces(), 'not gzip at all', { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    expect(res.status).toBe(400);
    expect(res.json().error.message).toBeTruthy();
  });
});

describe('POST /v1/traces with OTLP/protobuf', () => {
  it('stores the spans and answers an ExportTraceServiceResponse in protobuf', async () => {
    const traceId = hex(16);
    const body = toProtobuf(
      otlpJson({ 'service.name': 'pb-agent' }, [{ traceId, start: 1_544_712_660_123_456_789n, attributes: { 'token.id': 'pb-1' } }]),
    );
    const res = await postProtobuf(traces(), body);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/x-protobuf/);
    expect(ExportTraceServiceResponse.toObject(ExportTraceServiceResponse.decode(res.bytes))).toEqual({});
    const rows = await spansOf(traceId);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ time: '2018-12-13T14:51:00.123456789Z', token_id: 'pb-1', caller: 'pb-agent' });
  });

  it('accepts a gzip-compressed protobuf body', async () => {
    const traceId = hex(16);
    const res = await postProtobuf(traces(), gzipSync(toProtobuf(otlpJson({}, [{ traceId }]))), { 'content-encoding': 'gzip' });
    expect(res.status).toBe(200);
    expect(await spansOf(traceId)).toHaveLength(1);
  });

  it('reports a malformed span in partial_success, in protobuf', async () => {
    const traceId = hex(16);
    const request = otlpJson({}, [{ traceId }, { traceId: 'ab'.repeat(15) }]);
    const res = await postProtobuf(traces(), toProtobuf(request));
    expect(res.status).toBe(200);
    const answer = ExportTraceServiceResponse.toObject(ExportTraceServiceResponse.decode(res.bytes), { longs: String });
    expect(answer).toEqual({ partialSuccess: { rejectedSpans: '1', errorMessage: expect.stringMatching(/traceId must be 16 bytes/) } });
    expect(await spansOf(traceId)).toHaveLength(1);
  });

  it('answers errors as a google.rpc.Status in protobuf', async () => {
    const res = await postProtobuf(traces(), Buffer.alloc(32, 0xff));
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/x-protobuf/);
    expect(RpcStatus.toObject(RpcStatus.decode(res.bytes))).toEqual({
      code: 3,
      message: expect.stringMatching(/OTLP ExportTraceServiceRequest in protobuf/),
    });
    const tooBig = await postProtobuf(traces(), Buffer.alloc(MAX_BODY + 1));
    expect(tooBig.status).toBe(413);
    expect(RpcStatus.toObject(RpcStatus.decode(tooBig.bytes))).toMatchObject({ code: 3, message: expect.stringMatching(/larger than/) });
  });
});

describe('hostile text', () => {
  it('stores lone UTF-16 surrogates in OTLP/JSON as U+FFFD instead of failing the batch', async () => {
    const traceId = hex(16);
    const body = `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc\\udc00"}}]},
      "scopeSpans":[{"spans":[{"traceId":"${traceId}","spanId":"${hex(8)}","startTimeUnixNano":"1795600800000000000","name":"cut \\ud83d",
      "attributes":[{"key":"token.id","value":{"stringValue":"tok\\ud800"}},{"key":"k\\udfff","value":{"stringValue":"\\ud83d\\ude00 ok"}}]}]}]}]}`;
    const res = await postJson(traces(), body);
    expect(res.status).toBe(200);
    const rows = await spansOf(traceId);
    expect(rows.map((r) => [r.name, r.token_id, r.caller, r.attributes])).toEqual([
      ['cut \ufffd', 'tok\ufffd', 'svc\ufffd', { 'token.id': 'tok\ufffd', 'k\ufffd': '\u{1f600} ok' }],
    ]);
  });

  it('stores lone surrogates in JSON events, keys included, as U+FFFD', async () => {
    const tokenId = `sur-${hex(4)}`;
    const body = `[{"token.event":"revoked","token.id":"${tokenId}","token.revoked_reason":"bad \\ud800","x\\udc00":"y"}]`;
    const res = await postJson(`${base}/v1/token-events`, body);
    expect(res.status).toBe(200);
    const rows = await store.query<{ revoked_reason: string; attributes: Record<string, string> }>(
      'SELECT revoked_reason, attributes FROM token_events WHERE token_id = {t:String}',
      { t: tokenId },
    );
    expect(rows).toEqual([{ revoked_reason: 'bad \ufffd', attributes: expect.objectContaining({ 'x\ufffd': 'y' }) }]);
  });

  it('stores invalid UTF-8 in OTLP/protobuf strings as U+FFFD instead of refusing the request', async () => {
    const traceId = hex(16);
    const body = toProtobuf(otlpJson({}, [{ traceId, name: 'ABCDEFGH', attributes: { 'token.id': 'utf8' } }]));
    const at = body.indexOf(Buffer.from('ABCDEFGH'));
    body.set([0xed, 0xa0, 0xbd], at); // a lone surrogate as OpenTelemetry JS encodes one
    const res = await postProtobuf(traces(), body);
    expect(res.status).toBe(200);
    expect((await spansOf(traceId)).map((r) => r.name)).toEqual(['\ufffd\ufffd\ufffdDEFGH']);
  });
});

describe('lifecycle spans on /v1/traces', () => {
  it('land in token_events and task_events with arrays and times parsed', async () => {
    const traceId = hex(16);
    const tokenId = `tok-${hex(4)}`;
    const taskId = `task-${hex(4)}`;
    const res = await postJson(
      traces(),
      otlpJson({ 'service.name': 'broker', 'deployment.environment.name': 'prod' }, [
        {
          traceId,
          start: 1_795_600_800_000_000_123n,
          attributes: {
            'token.event': 'issued',
            'token.id': tokenId,
            'task.id': taskId,
            'gen_ai.agent.id': 'triage-bot',
            'workload.id': 'spiffe://acme/triage',
            'token.audience': ['github', 'jira'],
            'token.scopes': 'repo:read, issues:write',
            'token.resources': ['repos/acme/*', 'repos/acme/api/**'],
            'token.expires_at': '2026-11-25T11:00:00.250Z',
            'token.max_session_s': 7200,
          },
        },
        {
          traceId,
          start: 1_795_600_801_000_000_000n,
          attributes: {
            'token.event': 'refreshed',
            'token.id': `${tokenId}-2`,
            'token.parent_id': tokenId,
            'token.expires_at': 1_795_608_000,
            'token.max_session_s': '3600',
          },
        },
        {
          traceId,
          start: 1_795_600_700_000_000_000n,
          attributes: {
            'task.event': 'started',
            'task.id': taskId,
            'gen_ai.agent.id': 'triage-bot',
            'task.intent': 'triage new issues in acme/api',
            'task.tools': 'list_issues,label_issue',
            'task.deadline': 1_795_604_400,
          },
        },
        { traceId, start: 1_795_601_000_000_000_000n, attributes: { 'task.event': 'completed', 'task.id': taskId } },
        { traceId, attributes: { 'token.event': 'issued' } },
      ]),
    );
    expect(res.status).toBe(200);
    expect(res.json().partialSuccess).toMatchObject({ rejectedSpans: '1', errorMessage: expect.stringMatching(/needs token.id/) });

    const tokens = await store.query<Record<string, unknown>>(
      'SELECT * EXCEPT (ingested_at, attributes) FROM token_events WHERE trace_id = {t:String} ORDER BY time',
      {
        t: traceId,
      },
    );
    expect(tokens).toEqual([
      expect.objectContaining({
        time: '2026-11-25T10:00:00.000000123Z',
        event: 'issued',
        token_id: tokenId,
        parent_id: '',
        task_id: taskId,
        agent_id: 'triage-bot',
        workload_id: 'spiffe://acme/triage',
        audience: ['github', 'jira'],
        scopes: ['repo:read', 'issues:write'],
        resources: ['repos/acme/*', 'repos/acme/api/**'],
        expires_at: '2026-11-25T11:00:00.250Z',
        max_session_s: 7200,
        environment: 'prod',
        caller: 'broker',
        source: 'otlp',
      }),
      expect.objectContaining({
        time: '2026-11-25T10:00:01.000000000Z',
        event: 'refreshed',
        parent_id: tokenId,
        expires_at: '2026-11-25T12:00:00.000Z',
        max_session_s: 3600,
      }),
    ]);
    const tasks = await store.query<Record<string, unknown>>(
      'SELECT * EXCEPT (ingested_at, attributes) FROM task_events WHERE trace_id = {t:String} ORDER BY time',
      {
        t: traceId,
      },
    );
    expect(tasks).toEqual([
      expect.objectContaining({
        time: '2026-11-25T09:58:20.000000000Z',
        event: 'started',
        task_id: taskId,
        agent_id: 'triage-bot',
        intent: 'triage new issues in acme/api',
        tools: ['list_issues', 'label_issue'],
        deadline: '2026-11-25T11:00:00.000Z',
        caller: 'broker',
        source: 'otlp',
      }),
      expect.objectContaining({ event: 'completed', task_id: taskId, deadline: null }),
    ]);
    expect(await spansOf(traceId)).toEqual([]);
  });
});

describe('POST /v1/token-events and /v1/task-events', () => {
  it('stores token events, reporting rejected items by index', async () => {
    const tokenId = `json-${hex(4)}`;
    const res = await postJson(`${base}/v1/token-events`, [
      {
        'token.event': 'issued',
        'token.id': tokenId,
        'task.id': 'task-j',
        'gen_ai.agent.id': 'deploy-bot',
        'token.audience': 'k8s, registry',
        'token.scopes': ['deploy'],
        'token.resources': 'clusters/prod/**',
        'token.expires_at': '2026-11-25T12:00:00+02:00',
        'token.max_session_s': '900',
        'deployment.environment.name': 'prod',
        time: '2026-11-25T09:00:00.5Z',
      },
      { 'token.event': 'lent', 'token.id': tokenId },
      { 'token.event': 'revoked', 'token.id': tokenId, 'token.revoked_reason': 'leaked', time: 1_795_600_000 },
      'not an object',
      { 'token.event': 'issued', 'token.id': tokenId, time: '3000-01-01T00:00:00Z' },
      { 'token.id': tokenId },
    ]);
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({
      accepted: 2,
      rejected: [
        { index: 1, message: expect.stringMatching(/token.event must be one of/) },
        { index: 3, message: 'each event must be a JSON object' },
        { index: 4, message: expect.stringMatching(/time must be a time between 1900 and 2262/) },
        { index: 5, message: 'token.event is required' },
      ],
      rejectedCount: 4,
    });
    const rows = await store.query<Record<string, unknown>>(
      'SELECT * EXCEPT (ingested_at) FROM token_events WHERE token_id = {t:String} ORDER BY time',
      { t: tokenId },
    );
    expect(rows).toEqual([
      expect.objectContaining({
        time: '2026-11-25T09:00:00.500000000Z',
        event: 'issued',
        task_id: 'task-j',
        agent_id: 'deploy-bot',
        audience: ['k8s', 'registry'],
        scopes: ['deploy'],
        resources: ['clusters/prod/**'],
        expires_at: '2026-11-25T10:00:00.000Z',
        max_session_s: 900,
        environment: 'prod',
        source: 'json',
        trace_id: '',
      }),
      expect.objectContaining({ time: '2026-11-25T09:46:40.000000000Z', event: 'revoked', revoked_reason: 'leaked', expires_at: null }),
    ]);
  });

  it('stores task events, a single object as well as an array, gzip too', async () => {
    const taskId = `json-task-${hex(4)}`;
    const one = await postJson(`${base}/v1/task-events`, {
      'task.event': 'started',
      'task.id': taskId,
      'gen_ai.agent.id': 'triage-bot',
      'task.intent': 'label issues',
      'task.tools': ['list_issues', 'label_issue'],
      'task.deadline': '2026-11-25T10:30:00Z',
      time: '2026-11-25T10:00:00Z',
    });
    expect(one.status).toBe(200);
    expect(one.json()).toEqual({ accepted: 1, rejected: [], rejectedCount: 0 });
    const zipped = await post(
      `${base}/v1/task-events`,
      gzipSync(JSON.stringify([{ 'task.event': 'failed', 'task.id': taskId, time: 1_795_602_600 }])),
      {
        'content-type': 'application/json',
        'content-encoding': 'gzip',
      },
    );
    expect(zipped.status).toBe(200);
    const rows = await store.query<Record<string, unknown>>(
      'SELECT time, event, agent_id, intent, tools, deadline, source FROM task_events WHERE task_id = {t:String} ORDER BY time',
      {
        t: taskId,
      },
    );
    expect(rows).toEqual([
      {
        time: '2026-11-25T10:00:00.000000000Z',
        event: 'started',
        agent_id: 'triage-bot',
        intent: 'label issues',
        tools: ['list_issues', 'label_issue'],
        deadline: '2026-11-25T10:30:00.000Z',
        source: 'json',
      },
      { time: '2026-11-25T10:30:00.000000000Z', event: 'failed', agent_id: '', intent: '', tools: [], deadline: null, source: 'json' },
    ]);
  });

  it('answers 400 when no event is accepted, 400 for bodies that are not JSON, 415 for other types', async () => {
    const none = await postJson(`${base}/v1/task-events`, [{ 'task.event': 'started' }, { 'task.event': 'nope', 'task.id': 'x' }]);
    expect(none.status).toBe(400);
    expect(none.json().error).toEqual({
      code: 'invalid_events',
      message: expect.stringMatching(/\[0\] task.event started needs task.id; \[1\] task.event must be one of/),
    });
    const garbage = await postJson(`${base}/v1/token-events`, '{"token.event":');
    expect(garbage.status).toBe(400);
    expect(garbage.json().error).toMatchObject({ code: 'invalid_body', message: expect.stringMatching(/not JSON/) });
    const wrongType = await post(`${base}/v1/token-events`, '[]', { 'content-type': 'text/csv' });
    expect(wrongType.status).toBe(415);
  });
});

describe('ingest keys', () => {
  it('refuses requests without the right Bearer key with 401 and accepts the right one', async () => {
    const key = 'ingest-key-0123456789abcdef';
    const { collector: guarded, url } = await startCollector(
      store,
      collectorConfig({ INTENTWATCH_INGEST_KEYS: `other-key-0123456789,${key}` }),
    );
    try {
      const traceId = hex(16);
      const body = otlpJson({}, [{ traceId }]);
      const missing = await postJson(`${url}/v1/traces`, body);
      expect(missing.status).toBe(401);
      expect(missing.headers.get('www-authenticate')).toBe('Bearer');
      const wrong = await postJson(`${url}/v1/traces`, body, { authorization: 'Bearer not-the-key-0123456789' });
      expect(wrong.status).toBe(401);
      const wrongPb = await postProtobuf(`${url}/v1/traces`, toProtobuf(body), { authorization: 'Basic abc' });
      expect(wrongPb.status).toBe(401);
      expect(RpcStatus.toObject(RpcStatus.decode(wrongPb.bytes))).toMatchObject({ code: 16 });
      const events = await postJson(`${url}/v1/token-events`, [{ 'token.event': 'revoked', 'token.id': 'k' }]);
      expect(events.status).toBe(401);
      expect(await spansOf(traceId)).toHaveLength(0);
      const right = await postJson(`${url}/v1/traces`, body, { authorization: `Bearer ${key}` });
      expect(right.status).toBe(200);
      expect(await spansOf(traceId)).toHaveLength(1);
    } finally {
      await guarded.close();
    }
  });
});
