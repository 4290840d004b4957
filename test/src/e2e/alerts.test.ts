import { randomBytes } from 'node:crypto';
import { type Running, start } from '@intentwatch/cli';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDataDir } from '../support/monitor.js';

const data = tempDataDir();
const VIEWER = 'viewer-key-for-alerts-e2e-0123';
const args = { role: 'all', demo: false, help: false } as const;

type Attr = [string, string | string[]];
const kv = ([key, v]: Attr) => ({
  key,
  value: Array.isArray(v) ? { arrayValue: { values: v.map((s) => ({ stringValue: s })) } } : { stringValue: v },
});
const hex = (n: number) => randomBytes(n).toString('hex');

/** One OTLP/JSON request: spans of one service, each `[secondsAgo, name, attributes]`. */
function otlp(service: string, spans: [number, string, Attr[]][]): string {
  const now = BigInt(Date.now()) * 1_000_000n;
  return JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: [kv(['service.name', service])] },
        scopeSpans: [
          {
            spans: spans.map(([ago, name, attrs]) => {
              const t = now - BigInt(Math.round(ago * 1000)) * 1_000_000n;
              return {
                traceId: hex(16),
                spanId: hex(8),
                name,
                startTimeUnixNano: String(t),
                endTimeUnixNano: String(t + 1_000_000n),
                attributes: attrs.map(kv),
              };
            }),
          },
        ],
      },
    ],
  });
}

describe('intentwatch all: OTLP in, alerts out', () => {
  let running: Running;
  let api: string;
  let collector: string;
  beforeAll(async () => {
    running = await start(args, {
      INTENTWATCH_DATA_DIR: data.dir,
      HOST: '127.0.0.1',
      OTLP_PORT: '0',
      API_PORT: '0',
      INTENTWATCH_API_KEYS: `viewer:${VIEWER}`,
    });
    api = `http://127.0.0.1:${running.apiPort}`;
    collector = `http://127.0.0.1:${running.otlpPort}`;
  });
  afterAll(async () => {
    await running?.stop();
    data.remove();
  });

  const post = async (body: string) => {
    const res = await fetch(`${collector}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(res.status).toBe(200);
  };
  const alertsFor = async (tokenId: string) => {
    const res = await fetch(`${api}/v1/alerts?tokenId=${encodeURIComponent(tokenId)}`, { headers: { authorization: `Bearer ${VIEWER}` } });
    expect(res.status).toBe(200);
    return (
      (await res.json()) as { alerts: { detector: string; tokenId: string; severity: string; reason: string; evidence: unknown[] }[] }
    ).alerts;
  };
  const poll = async (tokenId: string, deadlineMs = 15_000) => {
    const until = Date.now() + deadlineMs;
    for (;;) {
      const alerts = await alertsFor(tokenId);
      if (alerts.length > 0 || Date.now() > until) return alerts;
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  it('shows a token used outside its audience as an alert within seconds', async () => {
    await post(
      otlp('token-broker', [
        [
          30,
          'token issued',
          [
            ['token.event', 'issued'],
            ['token.id', 'tok-e2e-1'],
            ['task.id', 'T-e2e'],
            ['gen_ai.agent.id', 'triage-bot'],
            ['token.audience', ['github']],
          ],
        ],
      ]),
    );
    await post(
      otlp('triage-svc', [
        [
          1,
          'call',
          [
            ['token.id', 'tok-e2e-1'],
            ['gen_ai.agent.id', 'triage-bot'],
            ['service.peer.name', 'slack'],
          ],
        ],
      ]),
    );
    const sent = Date.now();
    const alerts = await poll('tok-e2e-1');
    const seenAfterMs = Date.now() - sent;
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ detector: 'cross_service_reuse', tokenId: 'tok-e2e-1', severity: 'high' });
    expect(alerts[0]?.reason).toContain(
      'token tok-e2e-1 issued to agent triage-bot for task T-e2e with audience [github] was used against slack',
    );
    expect(alerts[0]?.evidence).toHaveLength(1);
    // Not a timing threshold: a loose bound that only a stalled pipeline would cross.
    expect(seenAfterMs).toBeLessThan(15_000);
  });

  it('shows a use after revocation as a critical stale-use alert, whatever the arrival order', async () => {
    await post(
      otlp('report-svc', [
        [
          2,
          'query',
          [
            ['token.id', 'tok-e2e-2'],
            ['gen_ai.agent.id', 'report-bot'],
            ['service.peer.name', 'bigquery'],
          ],
        ],
      ]),
    );
    await post(
      otlp('token-broker', [
        [
          60,
          'token issued',
          [
            ['token.event', 'issued'],
            ['token.id', 'tok-e2e-2'],
            ['gen_ai.agent.id', 'report-bot'],
            ['token.audience', ['bigquery']],
          ],
        ],
        [
          20,
          'token revoked',
          [
            ['token.event', 'revoked'],
            ['token.id', 'tok-e2e-2'],
          ],
        ],
      ]),
    );
    const alerts = await poll('tok-e2e-2');
    expect(alerts.map((a) => [a.detector, a.severity])).toEqual([['stale_token_use', 'critical']]);
    expect(alerts[0]?.reason).toContain('after it was revoked');
  });
});

describe('intentwatch all: live detection', () => {
  const liveData = tempDataDir();
  let running: Running;
  beforeAll(async () => {
    // The scheduled pass runs once at start and then not for ten minutes: an alert within the
    // test can only come from the live runs on committed batches.
    running = await start(args, {
      INTENTWATCH_DATA_DIR: liveData.dir,
      HOST: '127.0.0.1',
      OTLP_PORT: '0',
      API_PORT: '0',
      INTENTWATCH_API_KEYS: `viewer:${VIEWER}`,
      DETECT_INTERVAL_MS: '600000',
    });
  });
  afterAll(async () => {
    await running?.stop();
    liveData.remove();
  });

  it('alerts on a committed misuse without waiting for the scheduled pass', async () => {
    const collector = `http://127.0.0.1:${running.otlpPort}`;
    const post = async (body: string) => {
      const res = await fetch(`${collector}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(res.status).toBe(200);
    };
    // Wait for the first scheduled pass (at start) to have stored the last detector's watermark,
    // so that it cannot be the one that finds the misuse.
    const passed = async () =>
      (await running.store.query<{ n: string }>("SELECT count() AS n FROM detector_state WHERE detector = 'usage_anomaly'"))[0]?.n !== '0';
    for (const until = Date.now() + 30_000; !(await passed()) && Date.now() < until; ) await new Promise((r) => setTimeout(r, 50));
    expect(await passed()).toBe(true);
    await post(
      otlp('token-broker', [
        [
          30,
          'token issued',
          [
            ['token.event', 'issued'],
            ['token.id', 'tok-live-1'],
            ['gen_ai.agent.id', 'deploy-bot'],
            ['token.audience', ['github.com']],
            ['token.scopes', ['repo:read']],
          ],
        ],
      ]),
    );
    await post(
      otlp('deploy-svc', [
        [
          1,
          'call',
          [
            ['token.id', 'tok-live-1'],
            ['gen_ai.agent.id', 'deploy-bot'],
            ['service.peer.name', 'api.github.com'],
            ['token.scope', ['admin:org']],
          ],
        ],
      ]),
    );
    let alerts: { detector: string; reason: string }[] = [];
    for (const until = Date.now() + 20_000; alerts.length === 0 && Date.now() < until; ) {
      const res = await fetch(`http://127.0.0.1:${running.apiPort}/v1/alerts?tokenId=tok-live-1`, {
        headers: { authorization: `Bearer ${VIEWER}` },
      });
      alerts = ((await res.json()) as { alerts: { detector: string; reason: string }[] }).alerts;
      if (alerts.length === 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect(alerts.map((a) => a.detector)).toEqual(['scope_creep']);
    expect(alerts[0]?.reason).toContain('exercised scope admin:org outside its grant');
  });
});
