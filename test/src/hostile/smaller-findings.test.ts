import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { existsSync } from 'node:fs';
import { AlertStore, SuppressionStore } from '@intentwatch/alerts';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AllInOne, INGEST_KEY, KEYS, type PlantedAlert, apiFetch, plantAlerts, sendMisuse, startAll } from './running-all.js';
import { hex } from './support.js';

/**
 * Regressions of the smaller findings of the hostile review, on one `intentwatch all` (collector,
 * detectors, API) over the embedded store: times the store cannot hold, audit names, token ids
 * with any characters, and the Host check of loopback-bound ports.
 */
let m: AllInOne;
/** Token ids that ingest accepts and the API once refused: longer than 512 characters, control characters, wide characters. */
const ids = {
  long: `tok-long-${hex(4)}-${'x'.repeat(700)}`,
  control: `tok-ctl-${hex(4)}\u0001\u001b[2J\u007f\ttab`,
  wide: `tok-wide-${hex(4)}-${'é漢😀'.repeat(1000)}`.slice(0, 4096),
};
const tokens = { audit: `tok-audit-${hex(4)}`, legacy: `tok-legacy-${hex(4)}`, ...ids };
/** One alert per token of `tokens`, planted once for the whole file (each plant waits for the detectors). */
let planted: PlantedAlert[];
const alertOf = (token: string) => {
  const a = planted.find((p) => p.tokenId === token);
  if (!a) throw new Error(`no alert planted for ${token.slice(0, 30)}`);
  return a;
};
beforeAll(async () => {
  m = await startAll();
  planted = await plantAlerts(m, Object.values(tokens));
});
afterAll(async () => {
  await m?.stop();
});

const errorOf = async (res: Response) => ((await res.json()) as { error: { code: string; message: string } }).error;
const cursor = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');

describe('a time filter outside what the store holds (DateTime64(9): 1900 to 2262)', () => {
  const outside = ['0001-01-01T00:00:00Z', '1899-12-31T23:59:59Z', '2262-04-12T00:00:00Z', '9999-12-31T23:59:59.999999999Z'];

  it.each(['/v1/alerts?since=', '/v1/alerts/summary?since=', '/v1/agents?since=', '/v1/agents/agent-x?since=', '/v1/export/ocsf?since='])(
    'is a 400 naming since and the range accepted, not a 500: %s',
    async (path) => {
      for (const since of outside) {
        const res = await apiFetch(m, `${path}${encodeURIComponent(since)}`, 'admin');
        expect(res.status, `${path}${since}`).toBe(400);
        const e = await errorOf(res);
        expect(e.message).toContain('since');
        expect(e.message).toContain('from 1900-01-01T00:00:00Z to 2262-04-11T23:47:16Z');
      }
    },
  );

  it('is a 400 naming the cursor and the range when a cursor was edited to hold one', async () => {
    for (const k of ['0001-01-01T00:00:00Z', '9999-12-31T23:59:59Z']) {
      for (const c of [
        cursor({ s: 'lastSeen', o: 'desc', k: [k], id: 'x' }),
        cursor([k, 'x']),
        cursor({ s: 'count', o: 'desc', k: ['5', k], id: 'x' }),
      ]) {
        const sort = c === cursor({ s: 'count', o: 'desc', k: ['5', k], id: 'x' }) ? '&sort=count' : '';
        const res = await apiFetch(m, `/v1/alerts?cursor=${c}${sort}`, 'viewer');
        expect(res.status).toBe(400);
        const e = await errorOf(res);
        expect(e.message).toContain('cursor');
        expect(e.message).toContain('from 1900-01-01T00:00:00Z to 2262-04-11T23:47:16Z');
      }
    }
  });

  it('still takes the first and last times the store holds', async () => {
    for (const since of ['1900-01-01T00:00:00Z', '2262-04-11T23:47:16Z']) {
      expect((await apiFetch(m, `/v1/alerts?since=${since}`, 'viewer')).status).toBe(200);
      expect((await apiFetch(m, `/v1/agents?since=${since}`, 'viewer')).status).toBe(200);
    }
  });

  it('in a suppression expiry is a 400 naming expiresAt, not a 500', async () => {
    const res = await apiFetch(m, '/v1/suppressions', 'analyst', {
      method: 'POST',
      body: JSON.stringify({ detector: '*', scope: 'token', value: 't', reason: 'maintenance', expiresAt: '9999-12-31T00:00:00Z' }),
    });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).message).toContain('expiresAt');
  });
});

describe('the audit name of an API key', () => {
  /** What of the key a name could show: its first characters (as earlier versions did) or a digest-like run of it. */
  const reveals = (name: string, key: string) => name.includes(`${key.slice(0, 6)}…`) || key.includes(name.split(':').at(-1) ?? '');
  const legacyName = (key: string) => `key:${key.slice(0, 6)}…${createHash('sha256').update(key).digest('hex').slice(0, 4)}`;

  it('tells the role and nothing of the key, in /v1/me and in an alert history', async () => {
    const me = (await (await apiFetch(m, '/v1/me', 'analyst')).json()) as { name: string };
    expect(me.name).toMatch(/^key:analyst:[0-9a-f]{8}$/);
    expect(reveals(me.name, KEYS.analyst)).toBe(false);

    const alert = alertOf(tokens.audit);
    const patch = await apiFetch(m, `/v1/alerts/${encodeURIComponent(alert.id)}`, 'analyst', {
      method: 'PATCH',
      body: JSON.stringify({ status: 'acknowledged', note: 'looking' }),
    });
    expect(patch.status).toBe(200);
    const detail = (await (await apiFetch(m, `/v1/alerts/${encodeURIComponent(alert.id)}`, 'viewer')).json()) as {
      history: { actor: string; action: string }[];
      notes: { author: string }[];
    };
    const actors = [...detail.history.map((h) => h.actor), ...detail.notes.map((n) => n.author)];
    expect(actors).toContain(me.name);
    for (const a of actors) expect(reveals(a, KEYS.analyst)).toBe(false);
  });

  it('keeps rows written under the former name readable, without the key’s first characters, and the suppression still its author’s', async () => {
    const former = legacyName(KEYS.analyst);
    const digest4 = former.slice(-4);
    const alert = alertOf(tokens.legacy);
    await new AlertStore(m.running.store).updateTriage(alert.id, { status: 'acknowledged', note: 'old note' }, former);
    const suppression = await new SuppressionStore(m.running.store).create(
      {
        detector: '*',
        scope: 'agent',
        value: `agent-${hex(4)}`,
        reason: 'written by an earlier version',
        expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
      },
      former,
    );

    const detail = (await (await apiFetch(m, `/v1/alerts/${encodeURIComponent(alert.id)}`, 'viewer')).json()) as {
      history: { actor: string }[];
      notes: { author: string; text: string }[];
    };
    expect(detail.history.map((h) => h.actor)).toContain(`key:…${digest4}`);
    expect(detail.notes).toContainEqual(expect.objectContaining({ author: `key:…${digest4}`, text: 'old note' }));
    const listed = (await (await apiFetch(m, '/v1/suppressions', 'viewer')).json()) as { suppressions: { id: string; author: string }[] };
    expect(listed.suppressions.find((s) => s.id === suppression.id)?.author).toBe(`key:…${digest4}`);
    expect(JSON.stringify(listed)).not.toContain(`${KEYS.analyst.slice(0, 6)}…`);

    // The analyst whose key wrote it may still lift it; a viewer may not.
    expect((await apiFetch(m, `/v1/suppressions/${suppression.id}`, 'viewer', { method: 'DELETE' })).status).toBe(403);
    expect((await apiFetch(m, `/v1/suppressions/${suppression.id}`, 'analyst', { method: 'DELETE' })).status).toBe(200);
  });
});

describe('a token id that ingest accepts', () => {
  it('can be looked up, filtered on and suppressed through the API, whatever its length (to 4096) and characters', async () => {
    for (const id of Object.values(ids)) {
      const token = await apiFetch(m, `/v1/tokens/${encodeURIComponent(id)}`, 'viewer');
      expect(token.status, `GET /v1/tokens/ for ${JSON.stringify(id.slice(0, 30))}`).toBe(200);
      expect(((await token.json()) as { tokenId: string }).tokenId).toBe(id);

      const filtered = await apiFetch(m, `/v1/alerts?tokenId=${encodeURIComponent(id)}`, 'viewer');
      expect(filtered.status).toBe(200);
      const listed = ((await filtered.json()) as { alerts: { id: string; tokenId: string }[] }).alerts;
      expect(listed.map((a) => a.tokenId)).toEqual([id]);
      expect(listed[0]?.id).toBe(alertOf(id).id);

      const suppress = await apiFetch(m, '/v1/suppressions', 'analyst', {
        method: 'POST',
        body: JSON.stringify({
          detector: 'cross_service_reuse',
          scope: 'token',
          value: id,
          reason: 'known test token',
          expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
        }),
      });
      expect(suppress.status).toBe(201);
      const open = (await (await apiFetch(m, `/v1/alerts?tokenId=${encodeURIComponent(id)}`, 'viewer')).json()) as { alerts: unknown[] };
      expect(open.alerts).toHaveLength(0);
      const muted = (await (await apiFetch(m, `/v1/alerts?suppressed=only&tokenId=${encodeURIComponent(id)}`, 'viewer')).json()) as {
        alerts: { tokenId: string }[];
      };
      expect(muted.alerts.map((a) => a.tokenId)).toEqual([id]);
    }
  });

  it('holding a lone surrogate, which ingest stores as U+FFFD, is a 400 in a suppression, not a store error', async () => {
    const res = await apiFetch(m, '/v1/suppressions', 'analyst', {
      method: 'POST',
      // JSON.stringify would escape the surrogate the same way; written out so the escape is plain to see.
      body: `{"detector":"*","scope":"token","value":"tok-\\ud800","reason":"lone surrogate","expiresAt":"${new Date(Date.now() + 3_600_000).toISOString()}"}`,
    });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).message).toContain('value');
  });

  it('longer than 4096 characters is stored cut to 4096, and found by what was stored', async () => {
    const id = `tok-huge-${hex(4)}-${'y'.repeat(6000)}`;
    const stored = id.slice(0, 4096);
    // A grant and a use, sent with the whole id (a 200 means both are committed).
    await sendMisuse(m, [id]);
    const res = await apiFetch(m, `/v1/tokens/${encodeURIComponent(stored)}`, 'viewer');
    expect(res.status).toBe(200);
    const token = (await res.json()) as { tokenId: string; events: { event: string }[]; uses: { total: number } };
    expect(token.tokenId).toBe(stored);
    expect(token.events.map((e) => e.event)).toContain('issued');
    expect(token.uses.total).toBe(1);
    // One past the limit is refused with a message, not looked up.
    const over = await apiFetch(m, `/v1/tokens/${encodeURIComponent(`${stored}z`)}`, 'viewer');
    expect(over.status).toBe(400);
    expect((await errorOf(over)).message).toContain('at most 4096 characters');
  });
});

/** A raw HTTP request with the given Host header (fetch would not let a test set it). */
function withHost(url: string, host: string, options: { method?: string; body?: string; headers?: Record<string, string> } = {}) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: { ...options.headers, host }, setHost: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('a port bound to the loopback', () => {
  const traces = (host: string) =>
    withHost(`${m.collector}/v1/traces`, host, {
      method: 'POST',
      body: JSON.stringify({ resourceSpans: [] }),
      headers: { authorization: `Bearer ${INGEST_KEY}`, 'content-type': 'application/json' },
    });

  it('refuses a request for another host name (DNS rebinding) on the collector, with 421 and a message saying why', async () => {
    for (const host of ['attacker.example', 'attacker.example:4318', '127.0.0.1.nip.io', '10.0.0.5:4318', '[fe80::1]:4318']) {
      const res = await traces(host);
      expect(res.status, host).toBe(421);
      expect(res.body).toContain('loopback');
    }
    expect((await withHost(`${m.collector}/healthz`, 'attacker.example')).status).toBe(421);
  });

  it('answers what OpenTelemetry exporters send: 127.0.0.1, localhost and [::1], with or without a port', async () => {
    const port = new URL(m.collector).port;
    for (const host of [
      `127.0.0.1:${port}`,
      `localhost:${port}`,
      'localhost',
      `[::1]:${port}`,
      `LOCALHOST.:${port}`,
      `app.localhost:${port}`,
    ]) {
      expect((await traces(host)).status, host).toBe(200);
    }
  });

  it('refuses a request for another host name on the API too, before any key check', async () => {
    for (const path of ['/healthz', '/', '/v1/me']) {
      const res = await withHost(`${m.api}${path}`, 'attacker.example:8080', { headers: { authorization: `Bearer ${KEYS.viewer}` } });
      expect(res.status, path).toBe(421);
      expect(res.body).toContain('loopback');
    }
    const port = new URL(m.api).port;
    const ok = await withHost(`${m.api}/v1/me`, `localhost:${port}`, { headers: { authorization: `Bearer ${KEYS.viewer}` } });
    expect(ok.status).toBe(200);
  });
});

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

describe('the web UI given an address with malformed percent-encoding', () => {
  it('shows "no such page" instead of throwing, and the queue again from its link', async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    try {
      const page = await browser.newPage();
      page.setDefaultTimeout(15_000);
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${m.api}/`);
      await page.fill('#api-key', KEYS.viewer);
      await page.press('#api-key', 'Enter');
      await page.waitForSelector('table.queue');

      for (const hash of ['#/alerts/%E0%A4%A', '#/tokens/%E0%A4%A', '#/agents/%ZZ', '#/alerts/%']) {
        await page.evaluate(`location.hash = ${JSON.stringify(hash)}`);
        await expect.poll(() => page.textContent('.page-error'), { timeout: 10_000 }).toContain('No such page');
      }
      // Opened as a link, not only reached by navigating.
      await page.goto(`${m.api}/#/alerts/%E0%A4%A`);
      await expect.poll(() => page.textContent('.page-error'), { timeout: 10_000 }).toContain('No such page');
      await page.click('.page-error a');
      await page.waitForSelector('table.queue');
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
