import { openApiDocument } from '@intentwatch/api';
import { rootLogger } from '@intentwatch/core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AllInOne, type PlantedAlert, apiFetch, plantAlerts, startAll } from './running-all.js';
import { metricValue } from './support.js';

// Every query parameter, path parameter and body of every route the OpenAPI document declares,
// fed hostile values by an admin key: the API answers 2xx or a 4xx naming the problem, never a
// 5xx; injection strings in a filter match nothing (or are refused), and change nothing.

// Each key may make 600 requests a minute; the properties share them out between the three keys.
const RUNS = Number(process.env.FUZZ_RUNS ?? 40);

let m: AllInOne;
let planted: PlantedAlert[];
let tablesBefore: string[];

beforeAll(async () => {
  m = await startAll();
  planted = await plantAlerts(m, ['tok-fuzz-a', 'tok-fuzz-b', 'tok-fuzz-c', ...HOSTILE_TOKENS]);
  tablesBefore = await tableNames();
  // 4xx answers are expected by the hundred; only errors would matter here.
  rootLogger().level = 'error';
});

afterAll(async () => {
  await m?.stop();
});

/** Token ids an agent controls, sent through the collector and the detectors like any other. */
const HOSTILE_TOKENS = ["tok-'; DROP TABLE alerts; --", 'tok-{tokenId:String}', "tok-\\' OR 1=1 --", 'tok-%_*', 'tok-😀 \u00e9'];

const tableNames = async () =>
  (await m.running.store.query<{ name: string }>('SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name')).map(
    (r) => r.name,
  );

const INJECTIONS = [
  "' OR '1'='1",
  'raw:%E0%A4%A',
  'raw:%zz',
  "' OR 1=1 --",
  "tok-fuzz-a' OR token_id != '",
  '") OR 1=1 --',
  "'; DROP TABLE alerts; --",
  '1; DROP TABLE spans',
  "x' UNION ALL SELECT * FROM system.users --",
  '{tokenId:String}',
  '{id:String} OR 1=1',
  '%',
  '_',
  '.*',
  '\\',
  "\\' OR 1=1 --",
  '$(id)',
  '`id`',
  '../../etc/passwd',
  '%00',
  '\u0000',
  '*',
  'tok-fuzz-%',
  'TOK-FUZZ-A',
  ' tok-fuzz-a',
];

/** The alert fields `q` searches. */
const SEARCHED = [
  'id',
  'detector',
  'title',
  'reason',
  'tokenId',
  'rootTokenId',
  'agentId',
  'taskId',
  'target',
  'caller',
  'environment',
  'assignee',
];

/**
 * Percent-encodes the UTF-8 of `s` byte by byte (a lone surrogate as U+FFFD), except values that
 * start with `raw:`, which go out as written: malformed escapes such as `%E0%A4%A` or `%zz`.
 */
function encodePath(s: string): string {
  if (s.startsWith('raw:')) return s.slice(4);
  return [...Buffer.from(s, 'utf8')]
    .map((b) => (/[A-Za-z0-9_.~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, '0')}`))
    .join('');
}

interface Param {
  name: string;
  in: 'query' | 'path';
}
interface Op {
  method: string;
  template: string;
  params: Param[];
  hasBody: boolean;
}

const ops: Op[] = Object.entries(
  (openApiDocument() as { paths: Record<string, Record<string, { parameters?: Param[]; requestBody?: unknown }>> }).paths,
).flatMap(([template, byMethod]) =>
  Object.entries(byMethod).map(([method, op]) => ({
    method: method.toUpperCase(),
    template,
    params: op.parameters ?? [],
    hasBody: op.requestBody !== undefined,
  })),
);

const anyUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
const hostile = fc.oneof(
  fc.constantFrom(...INJECTIONS),
  fc.string(),
  fc.string({ unit: anyUnit, maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.integer({ min: 0, max: 20_000 }).map((n) => 'a'.repeat(n)),
  fc.constantFrom(
    '',
    '-1',
    '0',
    '1e9',
    '9999999999999999999999',
    'NaN',
    'true',
    'null',
    '[]',
    '{}',
    '2026-02-30T00:00:00Z',
    '0001-01-01T00:00:00Z',
  ),
  fc.constantFrom('raw:%', 'raw:%zz', 'raw:%E0%A4%A', 'raw:%ED%A0%80', 'raw:%00', 'raw:%2e%2e%2f%2e%2e', 'raw:..', 'raw:%FF%FE'),
);

/** A path with its parameters filled (encoded) and a query string of hostile values, some repeated. */
function url(op: Op, values: Map<string, string[]>, pathValue: (p: Param) => string): string {
  let path = op.template;
  for (const p of op.params.filter((x) => x.in === 'path')) path = path.replace(`{${p.name}}`, encodePath(pathValue(p)));
  const query = new URLSearchParams();
  for (const [k, vs] of values) for (const v of vs) query.append(k, v);
  const q = query.toString();
  return q ? `${path}?${q}` : path;
}

async function expectVerdict(res: Response, what: string): Promise<unknown> {
  const text = await res.text();
  expect(res.status, `${what.slice(0, 300)} → ${res.status} ${text.slice(0, 300)}`).toBeLessThan(500);
  // Node itself answers a request line or headers too large with an empty 431; everything else is ours.
  if (res.status >= 400 && res.status !== 431) {
    const body = JSON.parse(text) as { error: { code: string; message: string } };
    expect(body.error.message.length, what).toBeGreaterThan(5);
  }
  return res.headers.get('content-type')?.startsWith('application/json') && text ? JSON.parse(text) : text;
}

describe('API under hostile input', () => {
  it('keeps hostile token ids exact through ingest, detection and the filters: each finds its own alert and only it', async () => {
    for (const token of HOSTILE_TOKENS) {
      const res = await apiFetch(m, `/v1/alerts?${new URLSearchParams({ tokenId: token })}`, 'viewer');
      const { alerts } = (await res.json()) as { alerts: PlantedAlert[] };
      expect(
        alerts.map((a) => a.tokenId),
        token,
      ).toEqual([token]);
    }
    expect(await metricValue('intentwatch_detector_failures_total')).toBe(0);
  });

  it('answers hostile values in every query and path parameter of every GET route with 2xx or 4xx', async () => {
    const gets = ops.filter((o) => o.method === 'GET');
    const queryValues = (op: Op) =>
      fc.array(
        fc.tuple(
          fc.oneof(
            fc.constantFrom(
              ...op.params.filter((p) => p.in === 'query').map((p) => p.name),
              'unknown',
              '__proto__',
              'constructor',
              'limit[]',
            ),
            fc.string(),
          ),
          fc.array(hostile, { minLength: 1, maxLength: 2 }),
        ),
        { maxLength: 4 },
      );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...gets).chain((op) => fc.tuple(fc.constant(op), queryValues(op), hostile)),
        async ([op, pairs, pathValue]) => {
          const target = url(op, new Map(pairs), () => pathValue || 'x');
          await expectVerdict(await apiFetch(m, target, 'viewer'), `GET ${target}`);
        },
      ),
      { numRuns: RUNS * 3 },
    );
  });

  it('keeps injection strings in every filter inert: refused, or matching nothing', async () => {
    for (const path of ['/v1/alerts', '/v1/alerts/summary']) {
      const filters = ops.find((o) => o.method === 'GET' && o.template === path)?.params.filter((p) => p.in === 'query') ?? [];
      const textFilters = filters
        .map((p) => p.name)
        .filter((n) => !['since', 'suppressed', 'sort', 'order', 'limit', 'cursor'].includes(n))
        // The counts share the listing's filter code: three of its filters are enough there.
        .filter((n) => path === '/v1/alerts' || ['tokenId', 'agentId', 'q'].includes(n));
      expect(textFilters).toEqual(expect.arrayContaining(['tokenId', 'agentId', 'q']));
      for (const name of textFilters) {
        // Every string on the free-text and token filters; the first dozen on the others, which share their code.
        const strings = name === 'q' || name === 'tokenId' ? INJECTIONS : INJECTIONS.slice(0, 12);
        // A few at a time: the answers do not depend on each other.
        await inParallel(strings, async (injection) => {
          const target = `${path}?${new URLSearchParams({ [name]: injection })}`;
          const res = await apiFetch(m, target, 'analyst');
          const body = (await expectVerdict(res, target)) as { alerts?: unknown[]; total?: number };
          if (res.status !== 200) expect(res.status, target).toBe(400);
          else if (name === 'q') {
            // Free-text search is a literal, case-insensitive substring: whatever it finds really contains it.
            for (const a of (body.alerts ?? []) as Record<string, unknown>[]) {
              const fields = SEARCHED.map((f) => String(a[f] ?? ''))
                .join(' ')
                .toLowerCase();
              expect(fields, target).toContain(injection.trim().toLowerCase());
            }
          } else if (path === '/v1/alerts') expect(body.alerts, target).toEqual([]);
          else expect(body.total, target).toBe(0);
        });
      }
    }
    for (const template of ['/v1/alerts/{id}', '/v1/tokens/{id}', '/v1/agents/{id}']) {
      await inParallel(INJECTIONS, async (injection) => {
        const target = template.replace('{id}', encodePath(injection));
        const res = await apiFetch(m, target, 'analyst');
        const body = await expectVerdict(res, target);
        if (res.status === 200) {
          // An agent page for an id that matches nothing is empty; nothing of another agent or token shows.
          const text = JSON.stringify(body);
          for (const a of planted) expect(text, target).not.toContain(a.tokenId);
        } else expect([400, 404], target).toContain(res.status);
      });
    }
    // Nothing was dropped or changed on the way.
    expect(await tableNames()).toEqual(tablesBefore);
    const all = await apiFetch(m, '/v1/alerts?limit=500', 'admin');
    expect(((await all.json()) as { alerts: unknown[] }).alerts.length).toBeGreaterThanOrEqual(planted.length);
  });

  it('answers hostile cursors with 400, never a 5xx', async () => {
    const cursor = fc.oneof(
      fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'), maxLength: 200 }),
      fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v)).toString('base64url')),
      fc.constantFrom(...INJECTIONS).map((s) => Buffer.from(JSON.stringify({ lastSeen: s, id: s, v: s })).toString('base64url')),
      fc.constantFrom(...INJECTIONS).map((s) => Buffer.from(JSON.stringify([s, s, s])).toString('base64url')),
    );
    await fc.assert(
      fc.asyncProperty(cursor, fc.constantFrom('lastSeen', 'firstSeen', 'severity', 'count'), async (c, sort) => {
        const target = `/v1/alerts?${new URLSearchParams({ cursor: c, sort })}`;
        const res = await apiFetch(m, target, 'viewer');
        await expectVerdict(res, target);
      }),
      { numRuns: RUNS * 2 },
    );
  });

  it('answers hostile bodies on every write route with 2xx or 4xx, and a refused write changes nothing', async () => {
    const writes = ops.filter((o) => o.method !== 'GET');
    expect(writes.length).toBeGreaterThan(0);
    const field = fc.oneof(
      hostile,
      fc.jsonValue({ maxDepth: 2 }),
      fc.constantFrom('acknowledged', 'resolved', 'false_positive', 'open', 'token', '*'),
    );
    const body = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }),
      fc.dictionary(
        fc.constantFrom(
          'status',
          'assignee',
          'note',
          'detector',
          'scope',
          'value',
          'reason',
          'expiresAt',
          'id',
          'endpoint',
          'match',
          'policyId',
          'mode',
          'release',
          '__proto__',
          'constructor',
        ),
        field,
        {
          maxKeys: 6,
        },
      ),
      fc.constant('{"__proto__":{"status":"resolved"},"note":"x"}'),
      fc.constant('{"status":"resolved","status":"open"}'),
      fc.constant('{"note": '),
      fc.constant(''),
    );
    const id = fc.oneof(fc.constantFrom(...planted.map((a) => a.id)), hostile);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...writes),
        body,
        id,
        fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded'),
        async (op, b, pathId, type) => {
          const target = url(op, new Map(), () => pathId || 'x');
          const before = await auditRows();
          const res = await apiFetch(m, target, 'admin', {
            method: op.method,
            body: typeof b === 'string' ? b : JSON.stringify(b),
            headers: { 'content-type': type },
          });
          await expectVerdict(res, `${op.method} ${target}`);
          if (res.status >= 400) expect(await auditRows(), `${op.method} ${target} was refused`).toBe(before);
        },
      ),
      { numRuns: RUNS * 2 },
    );
    expect(await tableNames()).toEqual(tablesBefore);
  });
});

/** Runs `fn` over `items`, four at a time. */
async function inParallel<T>(items: readonly T[], fn: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += 4) await Promise.all(items.slice(i, i + 4).map(fn));
}

async function auditRows(): Promise<string> {
  const [row] = await m.running.store.query<{ c: string }>(
    `SELECT (SELECT count() FROM alert_events) + (SELECT count() FROM suppressions) + (SELECT count() FROM responder_policies)
       + (SELECT count() FROM revocations) AS c`,
  );
  return (row as { c: string }).c;
}
