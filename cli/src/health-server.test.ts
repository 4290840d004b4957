import { afterEach, describe, expect, it } from 'vitest';
import { HealthServer } from './health-server.js';

describe('HealthServer', () => {
  let server: HealthServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function serve(ready: () => Promise<boolean>): Promise<string> {
    server = new HealthServer({ readiness: ready });
    const port = await server.listen(0, '127.0.0.1');
    return `http://127.0.0.1:${port}`;
  }

  it('answers liveness always and readiness only while the check holds', async () => {
    let ready = false;
    const base = await serve(async () => ready);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    ready = true;
    const res = await fetch(`${base}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ready' });
  });

  it('reports not ready when the check throws, instead of failing the probe request', async () => {
    const base = await serve(() => Promise.reject(new Error('store down')));
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
  });

  it('serves the Prometheus registry at /metrics and 404 elsewhere', async () => {
    const base = await serve(async () => true);
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    const other = await fetch(`${base}/v1/alerts`);
    expect(other.status).toBe(404);
    expect(((await other.json()) as { error: { code: string } }).error.code).toBe('not_found');
  });
});
