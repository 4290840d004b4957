import { rootLogger } from '@intentwatch/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maximalJsonRequest } from '../support/hostile-bodies.js';
import { type AllInOne, INGEST_KEY, startAll, waitForAlerts } from './running-all.js';
import { hex, otlpRequest } from './support.js';

// A maximal legal OTLP/JSON request (30,000 spans, 15 MB) against `intentwatch all` in one
// process: collector, detectors, responders and API share one event loop. While the request is
// decoded, normalised, stored and then detected, health checks on both ports and a small sender
// beside it must keep being answered.

let m: AllInOne;

beforeAll(async () => {
  rootLogger().level = 'error';
  m = await startAll();
});

afterAll(async () => {
  await m?.stop();
});

const ingest = { authorization: `Bearer ${INGEST_KEY}`, 'content-type': 'application/json' };

interface Probe {
  what: string;
  status: number | string;
}

/** GET /healthz on both ports and one small OTLP/JSON request, one after the other, until `stop()`. */
function probeUntilStopped(run: string): { probes: Probe[]; stop(): Promise<void> } {
  const probes: Probe[] = [];
  let stopped = false;
  // A generous deadline per answer: what is asserted is that each one comes, not how fast.
  const answer = (what: string, url: string, init: RequestInit = {}) =>
    fetch(url, { ...init, signal: AbortSignal.timeout(60_000) }).then(
      async (res) => {
        await res.arrayBuffer();
        probes.push({ what, status: res.status });
      },
      (e: Error) => {
        probes.push({ what, status: e.name });
      },
    );
  const loop = (async () => {
    let i = 0;
    while (!stopped) {
      await answer('collector /healthz', `${m.collector}/healthz`);
      await answer('api /healthz', `${m.api}/healthz`);
      const small = otlpRequest({ 'service.name': run }, [
        { start: BigInt(Date.now()) * 1_000_000n, attributes: { 'token.id': `tok-${run}-${i++}`, 'server.address': 'api.example.com' } },
      ]);
      await answer('small sender', `${m.collector}/v1/traces`, { method: 'POST', headers: ingest, body: JSON.stringify(small) });
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    probes,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

describe('intentwatch all under a maximal OTLP/JSON request', () => {
  it('answers /healthz on both ports and a small sender while the request is stored and its misuse detected', async () => {
    const token = `tok-loop-${hex(4)}`;
    const now = Date.now();
    const grant = {
      'token.event': 'issued',
      'token.id': token,
      'task.id': 'task-maximal',
      'gen_ai.agent.id': 'maximal-agent',
      'token.audience': ['github'],
      time: new Date(now - 60_000).toISOString(),
    };
    const g = await fetch(`${m.collector}/v1/token-events`, { method: 'POST', headers: ingest, body: JSON.stringify([grant]) });
    expect(g.status).toBe(200);
    // 30,000 uses of a token granted for github, against slack: one cross_service_reuse alert.
    const maximal = maximalJsonRequest({
      service: `maximal-${hex(3)}`,
      tokenId: token,
      serverAddress: 'slack',
      startNanos: BigInt(now - 30_000) * 1_000_000n,
    });
    expect(maximal.body.length).toBeGreaterThan(14 * 1024 * 1024);

    const during = probeUntilStopped(`small-${hex(3)}`);
    const answer = await fetch(`${m.collector}/v1/traces`, {
      method: 'POST',
      headers: ingest,
      body: maximal.body,
      signal: AbortSignal.timeout(300_000),
    });
    expect(`${answer.status} ${answer.status === 200 ? '' : await answer.text()}`).toBe('200 ');
    const probesWhileStored = during.probes.length;
    const [alert] = await waitForAlerts(m, [token], 300_000);
    await during.stop();

    expect(alert?.detector).toBe('cross_service_reuse');
    expect(alert?.count).toBe(maximal.spans);
    // Every probe was answered, and answered OK: none timed out or failed while the loop was shared.
    expect(during.probes.filter((p) => p.status !== 200)).toEqual([]);
    expect(probesWhileStored).toBeGreaterThan(0);
    for (const what of ['collector /healthz', 'api /healthz', 'small sender']) {
      expect(during.probes.some((p) => p.what === what)).toBe(true);
    }
  }, 600_000);
});
