import { randomBytes } from 'node:crypto';
import { type Server, createServer } from 'node:http';
import type { Alert } from '@intentwatch/alerts';
import { type Browser, chromium } from 'playwright-core';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeskHarness, KEYS, propagationScenario } from '../testing/desk-harness.js';

/** The Chromium this run found (test/src/prerequisites/chromium.ts); empty when none, and then these tests are skipped. */
const CHROMIUM = process.env.INTENTWATCH_TEST_CHROMIUM ?? '';
const SECRET = `whsec_${Buffer.from('browser-revoke-test-secret-32b!!').toString('base64')}`;
const until = <T>(read: () => Promise<T> | T, timeout = 15_000) => expect.poll(read, { timeout, interval: 50 });

/**
 * An analyst revokes a delegation chain from the alert page, in headless Chromium: the broker
 * (a real HTTP receiver verifying with the `standardwebhooks` package) gets one signed request
 * per token, and the Response panel lists each request with its token and how it stands to the
 * alert's token. Any page error or CSP violation fails the test.
 */
describe.skipIf(!CHROMIUM)("an analyst's Revoke… in a real browser", () => {
  let h: DeskHarness;
  let browser: Browser;
  let broker: Server;
  const received: { id: string; verified: boolean; token: string }[] = [];
  const problems: string[] = [];

  beforeAll(async () => {
    broker = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const header = (name: string) => String(req.headers[name] ?? '');
        let verified = true;
        try {
          new Webhook(SECRET).verify(body, {
            'webhook-id': header('webhook-id'),
            'webhook-timestamp': header('webhook-timestamp'),
            'webhook-signature': header('webhook-signature'),
          });
        } catch {
          verified = false;
        }
        const token = verified ? (JSON.parse(body) as { data: { revoke: { token: string } } }).data.revoke.token : '';
        received.push({ id: header('webhook-id'), verified, token });
        res.writeHead(verified ? 204 : 401).end();
      });
    });
    await new Promise<void>((r) => broker.listen(0, '127.0.0.1', r));
    h = await DeskHarness.start(
      {
        INTENTWATCH_WEBHOOK_ALLOW: '127.0.0.1/32',
        INTENTWATCH_RESPONDER_POLL_MS: '25',
        INTENTWATCH_SECRETS_KEY: randomBytes(32).toString('base64'),
      },
      { responders: true },
    );
    const policy = await h.call('/v1/responders/policies', {
      method: 'POST',
      key: KEYS.admin,
      body: JSON.stringify({
        id: 'broker',
        description: 'the token broker',
        // No alert matches it: only an analyst's revoke goes through it.
        match: { environments: ['nowhere'] },
        endpoint: { url: `http://127.0.0.1:${(broker.address() as { port: number }).port}/revoke`, secrets: [SECRET] },
      }),
    });
    expect(policy.status).toBe(201);
    const base = Date.now() - 25 * 60_000;
    await h.send(propagationScenario(base), base);
    await h.detect();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await h?.close();
    broker?.closeAllConnections();
    await new Promise<void>((r) => (broker ? broker.close(() => r()) : r()));
  });

  it('sends one verified request per token of the chain and lists each with its relation in the Response panel', async () => {
    const listed = (await (await h.call('/v1/alerts?detector=stale_token_use&tokenId=tok-prop-x1')).json()) as { alerts: Alert[] };
    const alert = listed.alerts[0] as Alert;
    expect(alert).toBeDefined();
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    await page.goto(`${h.apiUrl}/`);
    await page.fill('#api-key', KEYS.analyst);
    await page.press('#api-key', 'Enter');
    await page.waitForSelector('table.queue tbody tr.row');
    await page.goto(`${h.apiUrl}/#/alerts/${encodeURIComponent(alert.id)}`);
    await page.waitForSelector('[data-testid=intent-vs-actual]');

    await page.click('button:has-text("Revoke…")');
    await page.selectOption('.dialog select[name=policy]', 'broker');
    await page.selectOption('.dialog select[name=mode]', 'chain');
    await page.click('.dialog button[type=submit]');
    await until(() => page.textContent('#toasts')).toContain('Revoke requested for 4 tokens, one request each');

    await until(() => received.length).toBe(4);
    expect(received.every((r) => r.verified)).toBe(true);
    expect(new Set(received.map((r) => r.id)).size).toBe(4);
    expect(received.map((r) => r.token).sort()).toEqual(['tok-prop-0', 'tok-prop-1', 'tok-prop-x', 'tok-prop-x1']);
    // The panel shows where each request stands once the page reads it again.
    await until(async () => {
      await page.reload();
      await page.waitForSelector('[data-testid=deliveries] li');
      return page.locator('[data-testid=deliveries] li .delivery-status').allTextContents();
    }).toEqual(['delivered', 'delivered', 'delivered', 'delivered']);
    const rows = (await page.locator('[data-testid=delivery-token]').allTextContents()).sort();
    expect(rows).toEqual([
      'tok-prop-0 up its delegation chain',
      'tok-prop-1 up its delegation chain',
      'tok-prop-x its session',
      "tok-prop-x1 the alert's token",
    ]);
    await context.close();
    expect(problems).toEqual([]);
  });
});
