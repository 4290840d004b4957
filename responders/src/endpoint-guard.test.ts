import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EndpointGuard, EndpointRefusedError } from './endpoint-guard.js';
import { postWebhook } from './webhook-client.js';

describe('EndpointGuard', () => {
  const open = new EndpointGuard([]);

  it('refuses plain http outside the allow-list and accepts https to a public address', () => {
    expect(() => open.checkUrl('http://broker.example.com/hook')).toThrow(/must use https/);
    expect(open.checkUrl('https://93.184.215.14/hook').hostname).toBe('93.184.215.14');
  });

  it('refuses private, loopback, link-local and metadata addresses written as addresses, in any notation', () => {
    for (const url of [
      'https://10.1.2.3/x',
      'https://127.0.0.1/x',
      'https://2130706433/x',
      'https://0x7f.1/x',
      'https://169.254.169.254/latest/meta-data',
      'https://192.168.1.10/x',
      'https://172.20.0.5/x',
      'https://100.64.0.1/x',
      'https://[::1]/x',
      'https://[fd00::1]/x',
      'https://[fe80::1]/x',
      'https://[::ffff:127.0.0.1]/x',
      'https://0.0.0.0/x',
    ]) {
      expect(() => open.checkUrl(url), url).toThrow(EndpointRefusedError);
    }
  });

  it('refuses a host name that resolves to a loopback address (the check follows DNS)', async () => {
    await expect(open.check('https://localhost:9/hook')).rejects.toThrow(/resolves to (127\.0\.0\.1|::1)/);
  });

  it('refuses credentials in the URL and schemes other than http(s)', () => {
    expect(() => open.checkUrl('https://user:pw@broker.example.com/')).toThrow(/credentials/);
    expect(() => open.checkUrl('ftp://broker.example.com/')).toThrow(/https/);
  });

  it('lets allow-listed hosts, addresses and networks use http and private addresses', async () => {
    const guard = new EndpointGuard(['127.0.0.1/32', 'broker.internal', '*.corp.example', '::1']);
    expect(guard.checkUrl('http://127.0.0.1:8080/x').port).toBe('8080');
    expect(guard.checkUrl('http://broker.internal/x').hostname).toBe('broker.internal');
    expect(guard.checkUrl('http://vault.corp.example/x').hostname).toBe('vault.corp.example');
    expect(guard.addressAllowed('broker.internal', '10.0.0.7')).toBe(true);
    expect(guard.addressAllowed('other.example', '10.0.0.7')).toBe(false);
    expect(() => guard.checkUrl('http://127.0.0.2/x')).toThrow(/https/);
    expect(() => guard.checkUrl('http://corp.example/x')).toThrow(/https/);
  });

  it('refuses IPv6 addresses that carry a loopback, private or metadata IPv4 address, and keeps those carrying a public one', () => {
    for (const a of [
      '::127.0.0.1',
      '2002:7f00:1::',
      '::ffff:0:a00:1',
      '2001:0:4136:e378:8000:63bf:80ff:fffe',
      '2001:0:a9fe:a9fe::1',
      '::8.8.8.8',
    ]) {
      expect(open.addressAllowed('x', a), a).toBe(false);
    }
    for (const a of ['2002:808:808::1', '2001:0:808:808::f7f7:f7f7', '2001:4860:4860::8888'])
      expect(open.addressAllowed('x', a), a).toBe(true);
  });

  it('limits an allow-list entry with a port to that port', () => {
    const guard = new EndpointGuard([
      '127.0.0.1:9000',
      '[::1]:9001',
      '10.0.0.0/8:8443',
      '[fd00::/8]:443',
      'broker.internal:8080',
      '*.corp.example:8443',
    ]);
    expect(guard.checkUrl('http://127.0.0.1:9000/x').port).toBe('9000');
    expect(() => guard.checkUrl('http://127.0.0.1:9001/x')).toThrow(/https/);
    expect(() => guard.checkUrl('https://127.0.0.1/x')).toThrow(/loopback/);
    expect(guard.checkUrl('http://[::1]:9001/x').port).toBe('9001');
    expect(guard.addressAllowed('a', '10.1.2.3', 8443)).toBe(true);
    expect(guard.addressAllowed('a', '10.1.2.3', 443)).toBe(false);
    expect(guard.addressAllowed('a', 'fd00::5', 443)).toBe(true);
    expect(guard.addressAllowed('broker.internal', '10.9.9.9', 8080)).toBe(true);
    expect(guard.addressAllowed('broker.internal', '10.9.9.9', 80)).toBe(false);
    expect(guard.checkUrl('http://vault.corp.example:8443/x').port).toBe('8443');
    expect(() => guard.checkUrl('http://vault.corp.example/x')).toThrow(/https/);
    for (const bad of ['127.0.0.1:0', 'broker:65536', '[::1', '[::1]9000', '10.0.0.0/8:', 'fd00::/8:443']) {
      expect(() => new EndpointGuard([bad]), bad).toThrow(/INTENTWATCH_WEBHOOK_ALLOW/);
    }
  });

  it('rejects a malformed allow-list entry at start-up, naming it', () => {
    expect(() => new EndpointGuard(['10.0.0.0/33'])).toThrow(/INTENTWATCH_WEBHOOK_ALLOW.*10\.0\.0\.0\/33/);
    expect(() => new EndpointGuard(['http://x'])).toThrow(/INTENTWATCH_WEBHOOK_ALLOW/);
  });
});

describe('postWebhook', () => {
  let server: ReturnType<typeof createServer>;
  let port = 0;
  let hits = 0;

  beforeAll(async () => {
    server = createServer((req, res) => {
      hits++;
      if (req.url === '/slow') return; // never answers
      res.writeHead(req.url === '/busy' ? 503 : 200, req.url === '/busy' ? { 'retry-after': '7' } : {});
      res.end('busy right now');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('refuses at connection time a name that resolves to a private address, and never reaches it', async () => {
    const before = hits;
    const guard = new EndpointGuard([]);
    const r = await postWebhook(new URL(`https://localhost:${port}/`), {}, '{}', { timeoutMs: 2000, guard });
    expect(r.refused).toBe(true);
    expect(r.status).toBe(0);
    expect(r.error).toMatch(/loopback/);
    expect(hits).toBe(before);
  });

  it('reports status, error text and Retry-After of a failing receiver', async () => {
    const guard = new EndpointGuard(['127.0.0.1/32']);
    const r = await postWebhook(new URL(`http://127.0.0.1:${port}/busy`), {}, '{}', { timeoutMs: 2000, guard });
    expect(r).toMatchObject({ status: 503, refused: false, retryAfter: '7' });
    expect(r.error).toBe('HTTP 503: busy right now');
  });

  it('gives up after its timeout when the receiver never answers', async () => {
    const guard = new EndpointGuard(['127.0.0.1/32']);
    const r = await postWebhook(new URL(`http://127.0.0.1:${port}/slow`), {}, '{}', { timeoutMs: 200, guard });
    expect(r.status).toBe(0);
    expect(r.error).toBe('timed out after 200 ms');
  });
});
