import { Store } from '@intentwatch/core';
import { loadConfig } from '@intentwatch/cli';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDataDir } from '../support/monitor.js';
import { type Program, intentwatch, listeningPorts } from './program.js';
import { hex, keyValues, toProtobuf, until } from './support.js';

// Property: a secret of any known kind, planted in any place a span or a lifecycle event can
// carry a string, reaches no column of any table and no line the program writes. Every kind is
// planted in every place at least once (the cross product), and fast-check adds random pairs
// (`FUZZ_RUNS` raises their number); every value, every name's letter case and the text around
// each secret are generated. All of it goes through `intentwatch all` (collector, detectors,
// responders, API) as a child process; afterwards every column of every table is dumped.

const INGEST_KEY = 'ingest-key-planted-everywhere-0123';
const API_KEY = 'admin-key-planted-everywhere-0123';
const RUNS = Number(process.env.FUZZ_RUNS ?? 60);
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 100_000);

const alnum = (min: number, max: number) => fc.stringMatching(new RegExp(`^[A-Za-z0-9]{${min},${max}}$`));
/** A value no format describes, unique enough to be searched for. */
const opaque = alnum(16, 28).map((s) => `Q${s}7z`);
const anyCase = (name: string) =>
  fc
    .array(fc.boolean(), { minLength: name.length, maxLength: name.length })
    .map((up) => [...name].map((ch, i) => (up[i] ? ch.toUpperCase() : ch.toLowerCase())).join(''));
const jwtOf = (header: string, payload: string, sig: string) =>
  [header, payload, sig].map((p) => Buffer.from(p).toString('base64url')).join('.');

interface Planted {
  kind: string;
  /** The text planted. */
  text: string;
  /** The part that must never be stored or logged. */
  needle: string;
}

/** One generator per kind of secret: the known formats, and the carriers known by name or place. */
const KINDS: Record<string, fc.Arbitrary<Omit<Planted, 'kind'>>> = {
  aws: alnum(16, 16)
    .map((s) => `AKIA${s.toUpperCase().replace(/[^0-9A-Z]/g, 'Q')}`)
    .map((t) => ({ text: t, needle: t })),
  github: alnum(36, 40).map((s) => ({ text: `ghp_${s}`, needle: `ghp_${s}` })),
  githubPat: alnum(40, 50).map((s) => ({ text: `github_pat_${s}`, needle: `github_pat_${s}` })),
  gitlab: alnum(20, 30).map((s) => ({ text: `glpat-${s}`, needle: `glpat-${s}` })),
  slack: alnum(12, 30).map((s) => ({ text: `xoxb-${s}`, needle: `xoxb-${s}` })),
  openai: alnum(24, 40).map((s) => ({ text: `sk-proj-${s}`, needle: `sk-proj-${s}` })),
  anthropic: alnum(24, 40).map((s) => ({ text: `sk-ant-${s}`, needle: `sk-ant-${s}` })),
  stripe: alnum(16, 30).map((s) => ({ text: `sk_live_${s}`, needle: `sk_live_${s}` })),
  google: alnum(35, 35).map((s) => ({ text: `AIza${s}`, needle: `AIza${s}` })),
  googleOauth: alnum(20, 40).map((s) => ({ text: `ya29.${s}`, needle: `ya29.${s}` })),
  vault: alnum(24, 40).map((s) => ({ text: `hvs.${s}`, needle: `hvs.${s}` })),
  npm: alnum(36, 36).map((s) => ({ text: `npm_${s}`, needle: `npm_${s}` })),
  privateKey: alnum(40, 64).map((s) => ({
    text: `-----BEGIN RSA PRIVATE KEY-----\n${s}\n-----END RSA PRIVATE KEY-----`,
    needle: s,
  })),
  jwt: fc.tuple(opaque, opaque).map(([sub, sig]) => {
    const t = jwtOf('{"alg":"RS256","typ":"JWT"}', `{"sub":"${sub}"}`, sig);
    return { text: t, needle: t.slice(t.indexOf('.') + 1) };
  }),
  jwtSpaced: fc.tuple(opaque, opaque).map(([sub, sig]) => {
    const t = jwtOf('{ "alg": "ES256" }', `{ "sub": "${sub}" }`, sig);
    return { text: t, needle: t.slice(t.indexOf('.') + 1) };
  }),
  bearer: opaque.map((s) => ({ text: `Bearer ${s}`, needle: s })),
  urlParameter: fc
    .tuple(
      fc
        .constantFrom('token', 'access_token', 'code', 'sig', 'signature', 'X-Amz-Security-Token', 'X-Amz-Signature', 'X-Amz-Credential')
        .chain(anyCase),
      fc.constantFrom('key', 'api_key', 'secret', 'password', 'pwd').chain(anyCase),
      opaque,
      fc.boolean(),
    )
    .map(([a, b, s, first]) => ({ text: `https://files.example/x?page=2&${first ? a : b}=${s}&y=1`, needle: s })),
  connectionString: fc
    .tuple(fc.constantFrom('Password', 'pwd').chain(anyCase), opaque)
    .map(([name, s]) => ({ text: `Server=db.internal;Database=app;User Id=sa;${name}=${s};Encrypt=true`, needle: s })),
  headerInText: fc
    .tuple(fc.constantFrom('x-api-key', 'authorization').chain(anyCase), opaque)
    .map(([name, s]) => ({ text: `upstream said 401 after ${name}: ${s} was sent`, needle: s })),
  urlPassword: opaque.map((s) => ({ text: `postgres://etl:${s}@db.internal:5432/warehouse`, needle: s })),
};

/** Text around a planted secret: generated words, never glued to it. */
const around = fc.tuple(fc.stringMatching(/^[a-z ]{0,12}$/), fc.stringMatching(/^[a-z ]{0,12}$/));

type Place = (p: string) => { request: object; json?: never } | { json: { path: string; body: object[] } };

const now = Date.now();
const time = () => String(BigInt(now - 30_000) * 1_000_000n);

/** An OTLP/JSON request of one resource, one scope and one span, with overrides. */
function request(o: {
  resource?: Record<string, unknown>;
  scope?: Record<string, unknown>;
  name?: string;
  attributes?: object[];
  extra?: Record<string, unknown>;
  tokenId?: string;
}): object {
  return {
    resourceSpans: [
      {
        resource: {
          attributes: [...keyValues({ 'service.name': 'planted-agent' }), ...((o.resource?.attributes as object[] | undefined) ?? [])],
        },
        scopeSpans: [
          {
            scope: { name: 'planted.scope', version: '1.0', ...o.scope },
            spans: [
              {
                traceId: hex(16),
                spanId: hex(8),
                name: o.name ?? 'use',
                kind: 3,
                startTimeUnixNano: time(),
                endTimeUnixNano: time(),
                attributes: [
                  ...keyValues({
                    'token.id': o.tokenId ?? `tok-planted-${hex(4)}`,
                    'gen_ai.agent.id': 'planted-agent',
                    'server.address': 'files',
                  }),
                  ...(o.attributes ?? []),
                ],
                ...o.extra,
              },
            ],
          },
        ],
      },
    ],
  };
}

const kv = (key: string, value: unknown) => ({ key, value });
const str = (s: string) => ({ stringValue: s });

/** Every place a span or a lifecycle event carries a string. */
const PLACES: Record<string, Place> = {
  spanAttributeValue: (p) => ({ request: request({ attributes: [kv('error.message', str(p))] }) }),
  spanAttributeKey: (p) => ({ request: request({ attributes: [kv(`debug.${p}`, str('x'))] }) }),
  spanArrayItem: (p) => ({ request: request({ attributes: [kv('agent.tools', { arrayValue: { values: [str('search'), str(p)] } })] }) }),
  spanNestedValue: (p) => ({
    request: request({
      attributes: [kv('request.context', { kvlistValue: { values: [kv('inner', { kvlistValue: { values: [kv('v', str(p))] } })] } })],
    }),
  }),
  spanNestedKey: (p) => ({ request: request({ attributes: [kv('request.context', { kvlistValue: { values: [kv(p, str('v'))] } })] }) }),
  urlFull: (p) => ({
    request: request({ attributes: [kv('url.full', str(`https://api.example/call?q=${encodeURIComponent('x')}&note=${p}`))] }),
  }),
  resourceOfUse: (p) => ({ request: request({ attributes: [kv('token.resource', str(p))] }) }),
  tokenId: (p) => ({ request: request({ tokenId: p }) }),
  spanName: (p) => ({ request: request({ name: `GET /x ${p}` }) }),
  resourceAttributeValue: (p) => ({ request: request({ resource: { attributes: [kv('deploy.note', str(p))] } }) }),
  resourceAttributeKey: (p) => ({ request: request({ resource: { attributes: [kv(`deploy.${p}`, str('x'))] } }) }),
  scopeName: (p) => ({ request: request({ scope: { name: `lib ${p}` } }) }),
  scopeVersion: (p) => ({ request: request({ scope: { version: p } }) }),
  scopeAttribute: (p) => ({ request: request({ scope: { attributes: [kv(p, str(p))] } }) }),
  spanEvent: (p) => ({
    request: request({ extra: { events: [{ timeUnixNano: time(), name: `exception ${p}`, attributes: [kv(p, str(p))] }] } }),
  }),
  spanLink: (p) => ({
    request: request({ extra: { links: [{ traceId: hex(16), spanId: hex(8), traceState: p, attributes: [kv(p, str(p))] }] } }),
  }),
  statusMessage: (p) => ({ request: request({ extra: { status: { code: 2, message: p } } }) }),
  lifecycleSpanValue: (p) => ({
    request: request({
      attributes: [
        kv('token.event', str('issued')),
        kv('broker.request', str(p)),
        kv('token.audience', { arrayValue: { values: [str('files')] } }),
      ],
    }),
  }),
  lifecycleSpanKey: (p) => ({ request: request({ attributes: [kv('token.event', str('issued')), kv(`broker.${p}`, str('x'))] }) }),
  jsonTokenEventValue: (p) => ({
    json: { path: '/v1/token-events', body: [{ 'token.event': 'revoked', 'token.id': `tok-json-${hex(4)}`, 'token.revoked_reason': p }] },
  }),
  jsonTokenEventKey: (p) => ({
    json: { path: '/v1/token-events', body: [{ 'token.event': 'issued', 'token.id': `tok-json-${hex(4)}`, [`broker.${p}`]: 'x' }] },
  }),
  jsonNested: (p) => ({
    json: {
      path: '/v1/token-events',
      body: [{ 'token.event': 'issued', 'token.id': `tok-json-${hex(4)}`, 'broker.debug': { [p]: [p, { k: p }] } }],
    },
  }),
  jsonTaskIntent: (p) => ({
    json: { path: '/v1/task-events', body: [{ 'task.event': 'started', 'task.id': `T-${hex(4)}`, 'task.intent': `sync with ${p}` }] },
  }),
  jsonTaskKey: (p) => ({ json: { path: '/v1/task-events', body: [{ 'task.event': 'started', 'task.id': `T-${hex(4)}`, [p]: 'x' }] } }),
};

interface Case {
  kind: string;
  place: string;
  planted: Planted;
  protobuf: boolean;
}

function cases(): Case[] {
  const out: Case[] = [];
  const value = (kind: string, seed: number) =>
    fc.sample(fc.tuple(KINDS[kind] as fc.Arbitrary<Omit<Planted, 'kind'>>, around), { numRuns: 1, seed })[0] as [
      Omit<Planted, 'kind'>,
      [string, string],
    ];
  let seed = SEED;
  const add = (kind: string, place: string, protobuf: boolean) => {
    const [p, [before, after]] = value(kind, seed++);
    out.push({ kind, place, protobuf, planted: { kind, text: `${before} ${p.text} ${after}`.trim(), needle: p.needle } });
  };
  for (const kind of Object.keys(KINDS)) for (const place of Object.keys(PLACES)) add(kind, place, false);
  const random = fc.sample(fc.tuple(fc.constantFrom(...Object.keys(KINDS)), fc.constantFrom(...Object.keys(PLACES)), fc.boolean()), {
    numRuns: RUNS,
    seed: SEED,
  });
  for (const [kind, place, protobuf] of random) add(kind, place, protobuf);
  return out;
}

const data = tempDataDir();
let program: Program | undefined;

afterAll(() => {
  if (program && program.child.exitCode === null && program.child.signalCode === null) program.child.kill('SIGKILL');
  data.remove();
});

describe('Secrets planted in every place a span or event carries', () => {
  it('reach no column of any table and no line the program wrote', async () => {
    program = intentwatch({
      INTENTWATCH_DATA_DIR: data.dir,
      INTENTWATCH_INGEST_KEYS: INGEST_KEY,
      INTENTWATCH_API_KEYS: `admin:${API_KEY}`,
      DETECT_INTERVAL_MS: '200',
      INTENTWATCH_GRACE_MS: '200',
      INTENTWATCH_BATCH_MS: '20',
      LOG_LEVEL: 'debug',
    });
    const { otlp, api } = await listeningPorts(program);
    const all = cases();
    const answers: string[] = [];
    let uses = 0;
    const send = async (c: Case) => {
      const built = (PLACES[c.place] as Place)(c.planted.text);
      const headers: Record<string, string> = { authorization: `Bearer ${INGEST_KEY}` };
      let res: Response;
      if ('json' in built && built.json) {
        res = await fetch(`http://127.0.0.1:${otlp}${built.json.path}`, {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json' },
          body: JSON.stringify(built.json.body),
        });
      } else {
        const body = (built as { request: { resourceSpans: object[] } }).request;
        if (!c.place.startsWith('lifecycle')) uses++;
        res = await fetch(`http://127.0.0.1:${otlp}/v1/traces`, {
          method: 'POST',
          headers: { ...headers, 'content-type': c.protobuf ? 'application/x-protobuf' : 'application/json' },
          body: c.protobuf ? toProtobuf(body) : JSON.stringify(body),
        });
      }
      const text = await res.text();
      // Every planted request is valid: it must be stored (and so searched), never refused.
      const refused = res.status !== 200 || (text.includes('rejected') && !text.includes('"rejected":[]'));
      if (refused) answers.push(`${c.kind} in ${c.place}: ${res.status} ${text}`);
    };
    for (let i = 0; i < all.length; i += 16) await Promise.all(all.slice(i, i + 16).map(send));
    expect(answers).toEqual([]);

    // The detectors have read the data (the uses have no grant: ungoverned_token) before the end.
    await until(
      'alerts about the planted uses',
      async () => {
        const res = await fetch(`http://127.0.0.1:${api}/v1/alerts?detector=ungoverned_token&limit=5`, {
          headers: { authorization: `Bearer ${API_KEY}` },
        });
        return ((await res.json()) as { alerts: unknown[] }).alerts.length > 0;
      },
      60_000,
    );
    program.child.kill('SIGTERM');
    expect(await program.exited, program.output()).toBe(0);

    const store = await Store.open(loadConfig({ INTENTWATCH_DATA_DIR: data.dir }, { dotenv: false }));
    const dumps: Record<string, string> = {};
    let storedUses = 0;
    try {
      const tables = await store.query<{ name: string }>('SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name');
      for (const { name } of tables) {
        const rows = await store.query(`SELECT * FROM \`${name.replace(/`/g, '')}\``);
        dumps[name] = rows.map((r) => JSON.stringify(r)).join('\n');
      }
      storedUses = Number((await store.query<{ n: string }>("SELECT count() AS n FROM spans WHERE caller = 'planted-agent'"))[0]?.n);
    } finally {
      await store.close();
    }
    // The search below is over real rows: every use span planted was stored.
    expect(storedUses).toBe(uses);
    expect(dumps.alerts).toContain('ungoverned_token');

    const leaks: string[] = [];
    const output = program.output();
    for (const c of all) {
      for (const [table, text] of Object.entries(dumps)) {
        if (text.includes(c.planted.needle)) leaks.push(`${c.kind} in ${c.place} → table ${table}`);
      }
      if (output.includes(c.planted.needle)) leaks.push(`${c.kind} in ${c.place} → the program's output`);
    }
    console.info(
      'planted secrets everywhere:',
      JSON.stringify({
        cases: all.length,
        kinds: Object.keys(KINDS).length,
        places: Object.keys(PLACES).length,
        seed: SEED,
        logBytes: output.length,
        leaks: leaks.length,
      }),
    );
    expect(leaks).toEqual([]);
  }, 240_000);
});
