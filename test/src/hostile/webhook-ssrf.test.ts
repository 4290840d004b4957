import { randomBytes } from 'node:crypto';
import { type Server, createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AllInOne, type PlantedAlert, apiFetch, plantAlerts, startAll } from './running-all.js';
import { until } from './support.js';

// Revoke webhooks are requests this server makes on an admin's word: they must not reach the
// cloud metadata service, loopback, private networks or other schemes, unless the operator
// allow-listed them (here 127.0.0.1 on one port only), and a redirect from an allowed endpoint is
// not followed. An IPv6 address that carries a loopback or private IPv4 address is that address.

const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
let m: AllInOne;
let alert: PlantedAlert;
const hits: { server: string; path: string }[] = [];
let allowed: Server;
let elsewhere: Server;
let otherPort: Server;
let allowedPort: number;
let elsewherePort: number;
let otherPortPort: number;

function listen(server: Server, host: string): Promise<number> {
  return new Promise((resolve) => server.listen(0, host, () => resolve((server.address() as { port: number }).port)));
}

beforeAll(async () => {
  allowed = createServer((req, res) => {
    hits.push({ server: 'allowed', path: req.url ?? '' });
    req.resume();
    // Every delivery is sent on to an address that is not allow-listed.
    if (req.url?.startsWith('/redirect')) res.writeHead(307, { location: `http://[::1]:${elsewherePort}/metadata` }).end();
    else res.writeHead(204).end();
  });
  elsewhere = createServer((req, res) => {
    hits.push({ server: 'elsewhere', path: req.url ?? '' });
    req.resume();
    res.writeHead(204).end();
  });
  // The allowed address on a port the allow-list does not name.
  otherPort = createServer((req, res) => {
    hits.push({ server: 'other-port', path: req.url ?? '' });
    req.resume();
    res.writeHead(204).end();
  });
  allowedPort = await listen(allowed, '127.0.0.1');
  elsewherePort = await listen(elsewhere, '::1');
  otherPortPort = await listen(otherPort, '127.0.0.1');
  m = await startAll({ INTENTWATCH_WEBHOOK_ALLOW: `127.0.0.1/32:${allowedPort}`, INTENTWATCH_RESPONDER_POLL_MS: '100' });
  [alert] = (await plantAlerts(m, ['tok-ssrf'])) as [PlantedAlert];
});

afterAll(async () => {
  await m?.stop();
  for (const s of [allowed, elsewhere, otherPort]) await new Promise<void>((resolve) => s?.close(() => resolve()));
});

const policy = (id: string, url: string) => ({
  id,
  description: 'ssrf test',
  match: { detectors: ['cross_service_reuse'] },
  endpoint: { url, secrets: [SECRET], timeoutMs: 2000 },
  retry: { maxAttempts: 2, baseDelayMs: 100, maxDelayMs: 200 },
});

const createPolicy = (id: string, url: string) =>
  apiFetch(m, '/v1/responders/policies', 'admin', { method: 'POST', body: JSON.stringify(policy(id, url)) });

describe('Revoke webhook endpoints', () => {
  it('refuse internal, metadata, non-https and non-http endpoints that are not allow-listed, naming the problem', async () => {
    const refused = [
      'https://169.254.169.254/latest/meta-data/',
      'http://169.254.169.254/latest/meta-data/',
      'https://[::ffff:169.254.169.254]/latest/',
      'https://[fd00:ec2::254]/',
      'https://10.0.0.1/revoke',
      'https://172.16.5.4/revoke',
      'https://192.168.1.1/revoke',
      'https://100.64.0.1/revoke',
      'https://127.0.0.2/revoke',
      'https://2130706434/revoke',
      'https://0x7f.0.0.2/revoke',
      'https://0/revoke',
      'https://[::1]/revoke',
      'https://[::]/revoke',
      'https://[fe80::1]/revoke',
      'https://[64:ff9b::a9fe:a9fe]/revoke',
      // IPv6 forms that carry a loopback, private or metadata IPv4 address
      'https://[::127.0.0.1]/revoke',
      `http://[::127.0.0.1]:${allowedPort}/revoke`,
      'https://[2002:7f00:1::]/revoke',
      'https://[2002:a9fe:a9fe::1]/latest/',
      'https://[::ffff:7f00:1]/revoke',
      `http://[::ffff:127.0.0.1]:${otherPortPort}/revoke`,
      'https://[::ffff:0:a00:1]/revoke',
      'https://[64:ff9b::7f00:1]/revoke',
      'https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/revoke',
      'https://[2001:0:a9fe:a9fe::1]/revoke',
      // the allowed address on a port the allow-list does not name
      `http://127.0.0.1:${otherPortPort}/revoke`,
      `https://127.0.0.1:${otherPortPort}/revoke`,
      'https://127.0.0.1/revoke',
      `http://[::1]:${elsewherePort}/revoke`,
      'http://93.184.215.14/revoke',
      'https://user:password@example.com/revoke',
      'file:///etc/passwd',
      'gopher://127.0.0.1:6379/_FLUSHALL',
      'ftp://example.com/x',
      'https://no-such-host.invalid/revoke',
    ];
    for (const [i, url] of refused.entries()) {
      const res = await createPolicy(`ssrf-${i}`, url);
      const body = (await res.json()) as { error?: { code: string; message: string } };
      expect(res.status, `${url}: ${JSON.stringify(body)}`).toBe(400);
      expect(body.error?.message.length, url).toBeGreaterThan(10);
    }
    const list = await apiFetch(m, '/v1/responders/policies', 'admin');
    const ids = ((await list.json()) as { policies: { id: string }[] }).policies.map((p) => p.id);
    expect(ids.filter((id) => id.startsWith('ssrf-'))).toEqual([]);
    expect(hits).toEqual([]);
  });

  it('accept an allow-listed endpoint over plain http, show its secret only as a fingerprint, and deliver to it', async () => {
    const res = await createPolicy('allowed-local', `http://127.0.0.1:${allowedPort}/revoke`);
    const created = await res.text();
    expect(res.status, created).toBe(201);
    expect(created).not.toContain(SECRET);
    const listed = await (await apiFetch(m, '/v1/responders/policies', 'admin')).text();
    expect(listed).not.toContain(SECRET);
    const revoke = await apiFetch(m, `/v1/alerts/${encodeURIComponent(alert.id)}/revoke`, 'analyst', {
      method: 'POST',
      body: JSON.stringify({ policyId: 'allowed-local', mode: 'token' }),
    });
    expect(revoke.status, await revoke.clone().text()).toBe(202);
    await until('the revoke at the allowed endpoint', () => hits.some((h) => h.server === 'allowed' && h.path === '/revoke'));
  });

  it('do not follow a redirect from an allowed endpoint to one that is not', async () => {
    const res = await createPolicy('redirecting', `http://127.0.0.1:${allowedPort}/redirect`);
    expect(res.status, await res.clone().text()).toBe(201);
    const revoke = await apiFetch(m, `/v1/alerts/${encodeURIComponent(alert.id)}/revoke`, 'analyst', {
      method: 'POST',
      body: JSON.stringify({ policyId: 'redirecting', mode: 'token' }),
    });
    expect(revoke.status).toBe(202);
    await until(
      'every attempt at the redirecting endpoint',
      async () => {
        const d = await apiFetch(m, `/v1/alerts/${encodeURIComponent(alert.id)}/deliveries`, 'viewer');
        const { deliveries } = (await d.json()) as { deliveries: { policyId: string; status: string }[] };
        return deliveries.some((x) => x.policyId === 'redirecting' && ['failed', 'dead'].includes(x.status));
      },
      30_000,
      250,
    );
    expect(hits.filter((h) => h.server === 'allowed' && h.path === '/redirect').length).toBeGreaterThan(0);
    expect(hits.filter((h) => h.server === 'elsewhere')).toEqual([]);
  });
});
