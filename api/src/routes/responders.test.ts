import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { type IncomingHttpHeaders, type Server, createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store, migrate, quoteIdentifier, composeSettings, coreSettings } from '@intentwatch/core';
import { collectorSettings } from '@intentwatch/collector';
import { detectorSettings } from '@intentwatch/detectors';
import { apiSettings } from '../settings.js';
import { responderSettings } from '@intentwatch/responders';
import { AlertStore, type Finding, alertId } from '@intentwatch/alerts';
import { OcsfExporter, Responder } from '@intentwatch/responders';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeys } from '../api-keys.js';
import { Api } from '../server.js';
import { respondersRouter } from './responders.js';
import { eventually } from '@intentwatch/testkit';

/** The settings these tests read: the core settings and those of the workspaces they start. */
const configuration = composeSettings(coreSettings, collectorSettings, detectorSettings, apiSettings, responderSettings);
const loadConfig = configuration.load;
type Config = ReturnType<typeof configuration.load>;

const VIEWER = 'viewer-key-0123456789abcdef';
const ANALYST = 'analyst-key-0123456789abcdef';
const ADMIN = 'admin-key-0123456789abcdef01';
const SECRET = `whsec_${Buffer.from('api-responder-test-secret-32-b!!').toString('base64')}`;

let dataDir: string;
let store: Store;
let config: Readonly<Config>;
let responder: Responder;
let api: Api;
let base: string;
let receiver: Server;
let receiverUrl: string;
const received: { id: string; verified: boolean; body: string; status: number }[] = [];
/** Tokens whose first revoke request the receiver fails (503). */
const failFirst = new Set<string>();
const tokenOf = (body: string) => (JSON.parse(body) as { data: { revoke: { token: string } } }).data.revoke.token;
const one = (h: IncomingHttpHeaders, name: string) => String(h[name] ?? '');

const call = (method: string, path: string, key: string, body?: unknown) =>
  fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

function finding(token: string, environment: string): Finding {
  return {
    key: 'slack',
    severity: 'critical',
    reason: `token ${token} was used against slack outside its audience`,
    tokenId: token,
    rootTokenId: token,
    agentId: 'triage-bot',
    taskId: 'T-9',
    caller: 'triage-svc',
    target: 'slack',
    environment,
    evidence: { traceId: 'e'.repeat(32), spanId: token.padStart(16, '0').slice(-16), time: new Date().toISOString() },
  };
}

const SOURCE = {
  id: 'cross_service_reuse',
  title: 'Token used outside its audience',
  frameworks: ['OWASP-ASI03', 'MITRE-ATTACK-T1550.001'],
};

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let verified = false;
      try {
        new Webhook(SECRET).verify(body, {
          'webhook-id': one(req.headers, 'webhook-id'),
          'webhook-timestamp': one(req.headers, 'webhook-timestamp'),
          'webhook-signature': one(req.headers, 'webhook-signature'),
        });
        verified = true;
      } catch {
        verified = false;
      }
      const status = !verified ? 401 : failFirst.delete(tokenOf(body)) ? 503 : 204;
      received.push({ id: String(req.headers['webhook-id']), verified, body, status });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/revoke`;

  dataDir = mkdtempSync(join(tmpdir(), 'iw-api-resp-'));
  config = loadConfig(
    {
      INTENTWATCH_DATA_DIR: dataDir,
      INTENTWATCH_API_KEYS: `viewer:${VIEWER},analyst:${ANALYST},admin:${ADMIN}`,
      INTENTWATCH_WEBHOOK_ALLOW: '127.0.0.1/32',
      INTENTWATCH_RESPONDER_POLL_MS: '25',
      INTENTWATCH_SECRETS_KEY: randomBytes(32).toString('base64'),
    },
    { dotenv: false },
  );
  store = await Store.open(config);
  await migrate(store, { retentionDays: 30 });
  responder = await Responder.open({ store, config });
  await responder.start();
  api = new Api({
    store,
    keys: ApiKeys.load(config.apiKeys, dataDir).keys,
    routers: [respondersRouter(responder, new OcsfExporter(store))],
  });
  base = `http://127.0.0.1:${await api.listen(0, '127.0.0.1')}`;
});
afterAll(async () => {
  await api?.close();
  await responder?.close();
  await store?.close();
  receiver.closeAllConnections();
  await new Promise<void>((r) => receiver.close(() => r()));
  rmSync(dataDir, { recursive: true, force: true });
});

describe('responder routes', () => {
  it('lets an admin create a policy, shows it without its secret, and refuses it to analysts', async () => {
    const policy = {
      id: 'broker',
      match: { environments: ['prod'], minSeverity: 'high' },
      endpoint: { url: receiverUrl, secrets: [SECRET] },
    };

    expect((await call('POST', '/v1/responders/policies', ANALYST, policy)).status).toBe(403);
    const created = await call('POST', '/v1/responders/policies', ADMIN, policy);
    expect(created.status).toBe(201);
    const shown = (await created.json()) as { id: string; endpoint: { secrets: string[] }; state: { state: string } };
    expect(shown).toMatchObject({ id: 'broker', state: { state: 'active' }, revoke: 'session', dryRun: false });
    expect(JSON.stringify(shown)).not.toContain(SECRET);

    const list = (await (await call('GET', '/v1/responders/policies', ANALYST)).json()) as { policies: { id: string }[] };
    expect(list.policies.map((p) => p.id)).toEqual(['broker']);
    expect((await call('GET', '/v1/responders/policies', VIEWER)).status).toBe(403);
    expect((await call('POST', '/v1/responders/policies', ADMIN, policy)).status).toBe(409);
  });

  it('refuses a policy whose endpoint is a private address, naming the reason', async () => {
    const res = await call('PUT', '/v1/responders/policies/internal', ADMIN, {
      endpoint: { url: 'https://192.168.10.5/revoke', secrets: [SECRET] },
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string; message: string } }).error).toMatchObject({
      code: 'endpoint_refused',
      message: expect.stringContaining('192.168.10.5'),
    });
  });

  it('revokes a matching alert automatically and shows the deliveries on the alert', async () => {
    await new AlertStore(store).record(SOURCE, [finding('auto1', 'prod')]);
    const id = alertId(SOURCE.id, 'auto1', 'slack');

    const body = await eventually(
      async () => (await (await call('GET', `/v1/alerts/${id}/deliveries`, VIEWER)).json()) as { deliveries: { status: string }[] },
      (b) => b.deliveries[0]?.status === 'delivered',
    );

    expect(body.deliveries[0]).toMatchObject({
      status: 'delivered',
      policyId: 'broker',
      attemptLog: [expect.objectContaining({ httpStatus: 204 })],
    });
    expect(received.filter((r) => r.verified)).toHaveLength(1);
  });

  it('stores the secret of a policy created through the API nowhere in plain text, and still signs with it', async () => {
    // Deliveries were made under the policy (previous test): the secret has been used to sign.
    expect(received.length).toBeGreaterThan(0);
    expect(received.every((r) => r.verified)).toBe(true);

    const stored = await everythingStored();

    expect(stored).toContain('responder_policies');
    expect(stored).toContain('enc:v1:');
    expect(stored).not.toContain(SECRET);
    expect(stored).not.toContain(SECRET.slice('whsec_'.length));
    expect(stored).not.toContain(Buffer.from(SECRET.slice('whsec_'.length), 'base64').toString('hex'));
  });

  it('refuses a literal secret where no secrets key is set, saying what to do, and takes an env: reference', async () => {
    const keyless = await Responder.open({ store, config: { ...config, responders: { ...config.responders, secretsKey: undefined } } });
    const other = new Api({
      store,
      keys: ApiKeys.load(config.apiKeys, dataDir).keys,
      routers: [respondersRouter(keyless, new OcsfExporter(store))],
    });
    const url = `http://127.0.0.1:${await other.listen(0, '127.0.0.1')}`;
    try {
      const post = (secrets: string[]) =>
        fetch(`${url}/v1/responders/policies`, {
          method: 'POST',
          headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
          body: JSON.stringify({ id: `keyless-${secrets[0]?.slice(0, 3)}`, dryRun: true, endpoint: { url: receiverUrl, secrets } }),
        });

      const refused = await post([SECRET]);
      expect(refused.status).toBe(400);
      const { error } = (await refused.json()) as { error: { code: string; message: string } };
      expect(error.message).toMatch(/env:NAME/);
      expect(error.message).toMatch(/INTENTWATCH_SECRETS_KEY/);
      expect(error.message).not.toContain(SECRET);
      expect((await post(['env:BROKER_WEBHOOK_SECRET'])).status).toBe(201);
      expect(await everythingStored()).not.toContain(SECRET.slice('whsec_'.length));
    } finally {
      await other.close();
      await keyless.policyService.deletePolicy('keyless-env', 'key:test').catch(() => undefined);
      await keyless.close();
    }
  });

  it('lets an analyst revoke by hand from an alert, once', async () => {
    await new AlertStore(store).record(SOURCE, [finding('hand1', 'staging')]);
    const id = alertId(SOURCE.id, 'hand1', 'slack');

    expect((await call('POST', `/v1/alerts/${id}/revoke`, VIEWER, { policyId: 'broker' })).status).toBe(403);
    const res = await call('POST', `/v1/alerts/${id}/revoke`, ANALYST, { policyId: 'broker', mode: 'token' });
    expect(res.status).toBe(202);
    const answer = (await res.json()) as { revocation: object; revocations: object[] };
    expect(answer.revocation).toMatchObject({ status: 'queued', mode: 'token', tokens: ['hand1'], token: 'hand1', relation: 'self' });
    expect(answer.revocations).toEqual([answer.revocation]);
    const again = await call('POST', `/v1/alerts/${id}/revoke`, ANALYST, { policyId: 'broker', mode: 'token' });
    expect(again.status).toBe(409);
    await eventually(
      async () => received.length,
      (n) => n === 2,
    );
    expect(received.every((r) => r.verified)).toBe(true);
  });

  it('serves an alert as an OCSF Detection Finding and every changed alert as NDJSON', async () => {
    const id = alertId(SOURCE.id, 'auto1', 'slack');
    const one = (await (await call('GET', `/v1/alerts/${id}?format=ocsf`, VIEWER)).json()) as Record<string, unknown>;
    expect(one).toMatchObject({ class_uid: 2004, category_uid: 2, finding_info: { uid: id }, severity_id: 5 });
    expect((await call('GET', `/v1/alerts/${id}?format=xml`, VIEWER)).status).toBe(400);
    // Without format=ocsf the request is left to the alerts router (absent here).
    expect((await call('GET', `/v1/alerts/${id}`, VIEWER)).status).toBe(404);

    const res = await call('GET', '/v1/export/ocsf?since=2020-01-01T00:00:00Z', VIEWER);
    expect(res.headers.get('content-type')).toContain('application/x-ndjson');
    const lines = (await res.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { class_uid: number; finding_info: { uid: string } });
    expect(lines.map((l) => l.finding_info.uid).sort()).toEqual([id, alertId(SOURCE.id, 'hand1', 'slack')].sort());
    expect(lines.every((l) => l.class_uid === 2004)).toBe(true);
    expect((await call('GET', '/v1/export/ocsf?since=yesterday', VIEWER)).status).toBe(400);
  });

  it("sends an analyst's revoke of a delegation chain as one signed request per token, each token once though one first attempt fails", async () => {
    const now = new Date().toISOString();
    const event = (token: string, kind: string, parent: string, agent: string) => ({
      time: now,
      ingested_at: now,
      event: kind,
      token_id: token,
      parent_id: parent,
      agent_id: agent,
      source: 'test',
    });
    await store.insertPartial('token_events', [
      event('ch-root', 'issued', '', 'planner'),
      event('ch-root-r', 'refreshed', 'ch-root', 'planner'),
      event('ch-sub', 'exchanged', 'ch-root-r', 'coder'),
    ]);
    await new AlertStore(store).record(SOURCE, [{ ...finding('ch-sub', 'staging'), rootTokenId: 'ch-sub' }]);
    const id = alertId(SOURCE.id, 'ch-sub', 'slack');
    failFirst.add('ch-root');
    const before = received.length;

    const res = await call('POST', `/v1/alerts/${id}/revoke`, ANALYST, { policyId: 'broker', mode: 'chain' });

    expect(res.status).toBe(202);
    const { revocation, revocations } = (await res.json()) as {
      revocation: { token: string };
      revocations: { token: string; relation: string; webhookId: string; status: string }[];
    };
    expect(revocation.token).toBe('ch-sub');
    expect(revocations.map((r) => [r.token, r.relation, r.status])).toEqual([
      ['ch-sub', 'self', 'queued'],
      ['ch-root', 'delegator', 'queued'],
      ['ch-root-r', 'delegator', 'queued'],
    ]);
    const mine = () => received.slice(before);
    await eventually(
      async () => mine().filter((r) => r.status === 204).length,
      (n) => n === 3,
    );
    expect(mine().every((r) => r.verified)).toBe(true);
    expect(mine().map((r) => [tokenOf(r.body), r.status])).toContainEqual(['ch-root', 503]);
    const accepted = mine().filter((r) => r.status === 204);
    expect(accepted.map((r) => tokenOf(r.body)).sort()).toEqual(['ch-root', 'ch-root-r', 'ch-sub']);
    expect(accepted.map((r) => r.id).sort()).toEqual(revocations.map((r) => r.webhookId).sort());
    // The receiver answers before the responder records the answer: read until every request is
    // settled. Only the broker's: a dry-run policy an earlier test created and deleted may still
    // have been in the responder's list of policies when this alert was raised.
    const shown = await eventually(
      async () => {
        const all = (await (await call('GET', `/v1/alerts/${id}/deliveries`, VIEWER)).json()) as {
          deliveries: { policyId: string; token: string; relation: string; status: string; attempts: number }[];
        };
        return all.deliveries.filter((d) => d.policyId === 'broker');
      },
      (v) => v.length === 3 && v.every((d) => d.status === 'delivered'),
    );
    expect(shown.map((d) => [d.token, d.relation, d.status, d.attempts]).sort()).toEqual([
      ['ch-root', 'delegator', 'delivered', 2],
      ['ch-root-r', 'delegator', 'delivered', 1],
      ['ch-sub', 'self', 'delivered', 1],
    ]);
    expect((await call('POST', `/v1/alerts/${id}/revoke`, ANALYST, { policyId: 'broker', mode: 'chain' })).status).toBe(409);
  });

  it('lets an admin resume a paused policy, and delete an API policy', async () => {
    await responder.policies.setState('broker', 'paused', 'test pause', 'key:test');
    const res = await call('POST', '/v1/responders/policies/broker/resume', ADMIN, { release: false });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ policy: { state: { state: 'active' } }, released: 0, discarded: 0 });
    expect((await call('DELETE', '/v1/responders/policies/broker', ADMIN)).status).toBe(204);
    expect((await call('GET', '/v1/responders/policies/broker', ADMIN)).status).toBe(404);
  });
});

/** Every column of every table of the store, as text: where a stored secret would show. */
async function everythingStored(): Promise<string> {
  const tables = await store.query<{ name: string }>('SELECT name FROM system.tables WHERE database = currentDatabase()');
  const parts: string[] = [];
  for (const { name } of tables) {
    const rows = await store.query(`SELECT * FROM ${quoteIdentifier(name)}`, undefined, {
      asterisk_include_materialized_columns: 1,
      asterisk_include_alias_columns: 1,
    });
    parts.push(`${name}\n${rows.map((r) => JSON.stringify(r)).join('\n')}`);
  }
  return parts.join('\n');
}
