import { Store } from '@intentwatch/core';
import { loadConfig } from '@intentwatch/cli';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDataDir } from '../support/monitor.js';
import { type Program, intentwatch, listeningPorts } from './program.js';
import { hex, otlpRequest, toProtobuf, until } from './support.js';

// Raw credentials planted everywhere an agent, a broker or an analyst might leak one: span and
// resource attributes, span names, URLs, lifecycle event JSON, triage notes, and the
// Authorization headers of refused requests. After a run of the whole program (collector,
// detectors, responders, API) no column of any table and no line the program wrote holds one.

const jwt = [
  Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url'),
  Buffer.from('{"sub":"agent-7","scope":"repo","iat":1795600000}').toString('base64url'),
  'cGxhbnRlZC1zaWduYXR1cmUtN2Y0YzJh',
].join('.');

/** Each planted credential, as it would be searched for (the part that must never be stored). */
const SECRETS = {
  githubToken: `ghp_${'Pl4nt3dGh'.repeat(4)}`,
  jwt,
  bearerOpaque: 'f3a9c2e5b1d8064f2a7c9e3b5d1f8a6c',
  awsAccessKeyId: 'AKIAZ7PLANTEDKEY2026',
  awsSecretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYPLANTED2026',
  openAiKey: `sk-proj-${'Pl4ntedOpenAi'.repeat(3)}`,
  anthropicKey: `sk-ant-${'Pl4ntedAnthr0pic'.repeat(3)}`,
  stripeKey: 'sk_live_Pl4ntedStripe0123456789',
  googleKey: `AIza${'Pl4ntedGoogleKey0123456789abcdefghij'.slice(0, 35)}`,
  accessTokenParam: 'Pl4ntedAccessTokenParam0123456789',
  urlPassword: 'Pl4nted-Passw0rd-in-url-2026',
  apiKeyHeader: 'q8Zr2vX9Pl4ntedApiKeyHeader7Kd',
  slackToken: 'xoxb-2026000000-Pl4ntedSlackBotToken',
  noteSecret: `ghp_${'N0teP4st3d'.repeat(4)}`,
  wrongIngestKey: 'Pl4ntedWrongIngestKey0123456789',
  wrongApiKey: 'iw_Pl4ntedWrongApiKey0123456789',
};

const INGEST_KEY = 'ingest-key-planted-secrets-test-0123';
const API_KEY = 'admin-key-planted-secrets-test-0123';
const data = tempDataDir();
let program: Program | undefined;

afterAll(() => {
  if (program && program.child.exitCode === null && program.child.signalCode === null) program.child.kill('SIGKILL');
  data.remove();
});

describe('Planted secrets', () => {
  it('reach no column of any table and no line the program wrote', async () => {
    program = intentwatch({
      INTENTWATCH_DATA_DIR: data.dir,
      INTENTWATCH_INGEST_KEYS: INGEST_KEY,
      INTENTWATCH_API_KEYS: `admin:${API_KEY}`,
      DETECT_INTERVAL_MS: '200',
      INTENTWATCH_GRACE_MS: '500',
      // Every line the program can write, debug included.
      LOG_LEVEL: 'debug',
    });
    const { otlp, api } = await listeningPorts(program);
    const collector = `http://127.0.0.1:${otlp}`;
    const ingest = { authorization: `Bearer ${INGEST_KEY}` };
    const now = Date.now();
    const at = (s: number) => BigInt(now - 60_000 + s * 1000) * 1_000_000n;
    const S = SECRETS;

    // A broker that puts the raw token where its id belongs, and reasons quoting keys.
    const events = await fetch(`${collector}/v1/token-events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...ingest },
      body: JSON.stringify([
        {
          'token.event': 'issued',
          'token.id': S.githubToken,
          'task.id': 'T-secret',
          'gen_ai.agent.id': 'secret-bot',
          'token.audience': ['github'],
          'token.scopes': ['repo:read'],
          'broker.request': `grant_type=client_credentials&client_secret=${S.accessTokenParam}`,
          time: new Date(now - 60_000).toISOString(),
        },
        {
          'token.event': 'revoked',
          'token.id': `Bearer ${S.openAiKey}`,
          'token.revoked_reason': `leaked ${S.anthropicKey}`,
          time: new Date(now - 1000).toISOString(),
        },
      ]),
    });
    expect(events.status, await events.text()).toBe(200);
    const tasks = await fetch(`${collector}/v1/task-events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...ingest },
      body: JSON.stringify([
        {
          'task.event': 'started',
          'task.id': 'T-secret',
          'gen_ai.agent.id': 'secret-bot',
          'task.intent': `deploy with ${S.awsAccessKeyId}`,
          time: new Date(now - 61_000).toISOString(),
        },
      ]),
    });
    expect(tasks.status, await tasks.text()).toBe(200);

    // Uses of the raw token against another service (an alert), leaking more on the way.
    const uses = otlpRequest(
      { 'service.name': 'secret-bot', 'aws.access_key_id': S.awsAccessKeyId, 'aws.secret_access_key': S.awsSecretAccessKey },
      [
        {
          name: `POST https://hooks.slack.com/x?token=${S.slackToken}`,
          start: at(10),
          attributes: {
            'token.id': S.githubToken,
            'gen_ai.agent.id': 'secret-bot',
            'task.id': 'T-secret',
            'server.address': 'slack',
            'http.request.header.authorization': `Bearer ${S.jwt}`,
            'http.request.header.x-api-key': S.apiKeyHeader,
            'url.full': `https://bot:${S.urlPassword}@api.slack.com/chat?access_token=${S.accessTokenParam}&channel=ops`,
            'error.message': `401 from upstream: Authorization: Bearer ${S.bearerOpaque} rejected`,
          },
        },
        {
          name: `call ${S.stripeKey}`,
          start: at(11),
          attributes: { 'token.id': S.githubToken, 'server.address': 'slack', 'gen_ai.agent.id': 'secret-bot' },
        },
      ],
    );
    const json = await fetch(`${collector}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...ingest },
      body: JSON.stringify(uses),
    });
    expect(json.status).toBe(200);
    const proto = otlpRequest({ 'service.name': 'secret-bot' }, [
      {
        name: 'use',
        start: at(12),
        attributes: {
          'token.id': S.githubToken,
          'server.address': 'slack',
          'gcp.key': S.googleKey,
          'http.request.header.cookie': `session=${S.bearerOpaque}`,
        },
      },
    ]);
    const pb = await fetch(`${collector}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf', ...ingest },
      body: toProtobuf(proto),
    });
    expect(pb.status).toBe(200);

    // Requests refused for their key: the key presented is a secret too.
    const refusedIngest = await fetch(`${collector}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${S.wrongIngestKey}` },
      body: JSON.stringify(otlpRequest({}, [{ spanId: hex(8) }])),
    });
    expect(refusedIngest.status).toBe(401);
    expect((await fetch(`http://127.0.0.1:${api}/v1/alerts`, { headers: { authorization: `Bearer ${S.wrongApiKey}` } })).status).toBe(401);

    // The detectors see the misuse; an analyst pastes a token into a triage note.
    const headers = { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' };
    let alerts: { id: string; tokenId: string }[] = [];
    await until(
      'an alert for the planted token',
      async () => {
        const res = await fetch(`http://127.0.0.1:${api}/v1/alerts?limit=100`, { headers });
        alerts = ((await res.json()) as { alerts: typeof alerts }).alerts;
        return alerts.length > 0;
      },
      60_000,
    );
    const alert = alerts[0] as { id: string; tokenId: string };
    expect(alert.tokenId).toMatch(/^sha256:/);
    const patch = await fetch(`http://127.0.0.1:${api}/v1/alerts/${encodeURIComponent(alert.id)}`, {
      method: 'PATCH',
      headers,
      body: JSON.stringify({ status: 'acknowledged', note: `the agent's log shows ${S.noteSecret}; rotating` }),
    });
    expect(patch.status, await patch.text()).toBe(200);
    // Reads that pass secrets in the query string.
    await fetch(`http://127.0.0.1:${api}/v1/alerts?q=${encodeURIComponent(S.githubToken.slice(0, 40))}`, { headers });
    await fetch(`http://127.0.0.1:${api}/v1/tokens/${encodeURIComponent(S.githubToken)}`, { headers });

    program.child.kill('SIGTERM');
    expect(await program.exited, program.output()).toBe(0);

    const store = await Store.open(loadConfig({ INTENTWATCH_DATA_DIR: data.dir }, { dotenv: false }));
    const dumps: Record<string, string> = {};
    try {
      const tables = await store.query<{ name: string }>('SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name');
      expect(tables.map((t) => t.name)).toEqual(expect.arrayContaining(['spans', 'token_events', 'task_events', 'alerts', 'alert_events']));
      for (const { name } of tables) {
        const rows = await store.query(`SELECT * FROM ${'`'}${name.replace(/`/g, '')}${'`'}`);
        dumps[name] = rows.map((r) => JSON.stringify(r)).join('\n');
      }
    } finally {
      await store.close();
    }
    // The data really is there (as fingerprints): the search below is over real rows.
    expect(dumps.spans).toContain('sha256:');
    expect(dumps.alert_events).toContain('rotating');

    const leaks: string[] = [];
    for (const [what, secret] of Object.entries(SECRETS)) {
      for (const [table, text] of Object.entries(dumps)) if (text.includes(secret)) leaks.push(`${what} in table ${table}`);
      if (program.output().includes(secret)) leaks.push(`${what} in the program's output`);
    }
    console.info(
      'planted secrets:',
      JSON.stringify({ planted: Object.keys(SECRETS).length, tables: Object.keys(dumps).length, logBytes: program.output().length, leaks }),
    );
    expect(leaks).toEqual([]);
  });
});
