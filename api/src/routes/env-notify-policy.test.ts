import { mkdtempSync, rmSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store, migrate, composeSettings, coreSettings } from '@intentwatch/core';
import { collectorSettings } from '@intentwatch/collector';
import { detectorSettings } from '@intentwatch/detectors';
import { apiSettings } from '../settings.js';
import { responderSettings } from '@intentwatch/responders';
import { ChatNotifier, ENV_NOTIFY_POLICY_ID, OcsfExporter, Responder } from '@intentwatch/responders';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeys } from '../api-keys.js';
import { Api } from '../server.js';
import { respondersRouter } from './responders.js';

/** The settings these tests read: the core settings and those of the workspaces they start. */
const configuration = composeSettings(coreSettings, collectorSettings, detectorSettings, apiSettings, responderSettings);
const loadConfig = configuration.load;
type Config = ReturnType<typeof configuration.load>;

/*
 * The notify policy INTENTWATCH_NOTIFY_WEBHOOK makes is named `notify:chat` (its audit trail kept
 * that name from before policies had targets). A colon in a path: the policy must still be
 * addressable by id, as written and percent-encoded.
 */

const ANALYST = 'analyst-key-0123456789abcdef';
const ADMIN = 'admin-key-0123456789abcdef01';
const HOOK_PATH = '/services/T0003/B0003/ChatSecretPath0003';

let dataDir: string;
let store: Store;
let config: Readonly<Config>;
let responder: Responder;
let api: Api;
let base: string;
let receiver: Server;

const call = async (method: string, path: string, key: string, body?: unknown) => {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, text, json: (text ? JSON.parse(text) : undefined) as Record<string, unknown> };
};

beforeAll(async () => {
  receiver = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'));
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;
  dataDir = mkdtempSync(join(tmpdir(), 'iw-api-env-notify-'));
  config = loadConfig(
    {
      INTENTWATCH_DATA_DIR: dataDir,
      INTENTWATCH_API_KEYS: `analyst:${ANALYST},admin:${ADMIN}`,
      INTENTWATCH_WEBHOOK_ALLOW: '127.0.0.1/32',
      INTENTWATCH_RESPONDER_POLL_MS: '25',
      INTENTWATCH_NOTIFY_WEBHOOK: `${origin}${HOOK_PATH}`,
    },
    { dotenv: false },
  );
  store = await Store.open(config);
  await migrate(store, { retentionDays: 30 });
  responder = await Responder.open({ store, config, channels: [ChatNotifier.create({ store, config })], lagMs: 1000 });
  await responder.start();
  api = new Api({
    store,
    keys: ApiKeys.load(config.apiKeys, dataDir).keys,
    routers: [respondersRouter(responder, new OcsfExporter(store))],
  });
  base = `http://127.0.0.1:${await api.listen(0, '127.0.0.1')}`;
}, 60_000);

afterAll(async () => {
  await api?.close();
  await responder?.close();
  await store?.close();
  receiver?.closeAllConnections();
  await new Promise<void>((r) => (receiver ? receiver.close(() => r()) : r()));
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('the notify policy INTENTWATCH_NOTIFY_WEBHOOK makes', () => {
  it('is read by its id notify:chat, as written and percent-encoded, without its URL', async () => {
    expect(ENV_NOTIFY_POLICY_ID).toBe('notify:chat');
    for (const path of [
      '/v1/responders/policies/notify%3Achat',
      '/v1/responders/policies/notify%3achat',
      '/v1/responders/policies/notify:chat',
    ]) {
      const read = await call('GET', path, ANALYST);
      expect(read.status, path).toBe(200);
      expect(read.json).toMatchObject({ id: 'notify:chat', target: 'notify', source: 'env' });
      expect(read.text, 'the incoming-webhook URL is a secret').not.toContain('ChatSecretPath0003');
    }
  });

  it('is resumed by its id after it was paused', async () => {
    await responder.policies.setState(ENV_NOTIFY_POLICY_ID, 'paused', 'paused for the test', 'test');
    const paused = await call('GET', '/v1/responders/policies/notify%3Achat', ANALYST);
    expect(paused.json).toMatchObject({ state: { state: 'paused' } });
    const resumed = await call('POST', '/v1/responders/policies/notify%3Achat/resume', ADMIN, { release: true });
    expect(resumed.status).toBe(200);
    expect(resumed.json.policy).toMatchObject({ id: 'notify:chat', state: { state: 'active' } });
    expect((await call('GET', '/v1/responders/policies/notify:chat', ANALYST)).json).toMatchObject({ state: { state: 'active' } });
  });

  it('stays read-only through the API: replacing or deleting it is refused, saying it comes from the environment', async () => {
    const put = await call('PUT', '/v1/responders/policies/notify%3Achat', ADMIN, {
      target: 'notify',
      match: { minSeverity: 'low' },
      endpoint: { url: 'env:SOMEWHERE' },
    });
    expect(put.status).toBe(409);
    expect(put.text).toMatch(/environment/);
    const del = await call('DELETE', '/v1/responders/policies/notify:chat', ADMIN);
    expect(del.status).toBe(409);
    expect((await call('GET', '/v1/responders/policies/notify:chat', ANALYST)).status).toBe(200);
  });

  it('does not open colons to other ids: any other id with one is refused, naming what an id may hold', async () => {
    const bad = await call('GET', '/v1/responders/policies/notify%3Aother', ANALYST);
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/letters, digits, - and _/);
    expect(bad.text).toContain('notify:chat');
    expect((await call('GET', '/v1/responders/policies/missing-policy', ANALYST)).status).toBe(404);
  });
});
