import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Alert } from '@intentwatch/alerts';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeskHarness, KEYS } from '../testing/desk-harness.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = fileURLToPath(new URL('../../test-results/ui/', import.meta.url));

/**
 * The alert page of a deployment that runs the responders and a Shared Signals stream, in
 * headless Chromium: the Response panel lists the events sent about the alert. Any page error
 * or CSP violation fails the test.
 */
describe('the alert page with Shared Signals streams, in a real browser', () => {
  let h: DeskHarness;
  let alerts: Alert[];
  let browser: Browser;
  const problems: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
    mkdirSync(SHOTS, { recursive: true });
    h = await DeskHarness.start(
      { INTENTWATCH_SECRETS_KEY: randomBytes(32).toString('base64'), INTENTWATCH_RESPONDER_POLL_MS: '25' },
      { responders: true },
    );
    const stream = await h.call('/ssf/streams', {
      method: 'POST',
      key: KEYS.admin,
      body: JSON.stringify({ aud: 'https://idp.example.test', delivery: { method: 'urn:ietf:rfc:8936' } }),
    });
    expect(stream.status).toBe(201);
    alerts = await h.playMisuse();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  it('lists the Shared Signals events sent about an alert in its Response panel', async () => {
    const stolen = alerts.find((a) => a.detector === 'cross_service_reuse' && a.agentId === 'exfil-bot') as Alert;
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    await page.goto(`${h.apiUrl}/`);
    await page.fill('#api-key', KEYS.viewer);
    await page.press('#api-key', 'Enter');
    await page.waitForSelector('table.queue tbody tr.row');
    // The responders record the SETs a moment after the alert: the page shows them once opened again.
    await expect
      .poll(
        async () => {
          await page.goto(`${h.apiUrl}/#/alerts/${encodeURIComponent(stolen.id)}`);
          await page.reload();
          await page.waitForSelector('[data-testid=intent-vs-actual]');
          return page.locator('[data-testid=ssf-deliveries] li').allTextContents();
        },
        { timeout: 30_000, interval: 200 },
      )
      .toEqual(
        expect.arrayContaining([expect.stringContaining('CAEP risk-level-change'), expect.stringContaining('RISC credential-compromise')]),
      );
    expect(await page.textContent('[data-testid=ssf-deliveries]')).toContain('awaiting poll');
    const width = await page.evaluate('document.documentElement.scrollWidth');
    expect(width).toBeLessThanOrEqual(1280);
    await page.screenshot({ path: `${SHOTS}8-alert-shared-signals.png`, fullPage: true });
    await context.close();
    expect(problems).toEqual([]);
  }, 60_000);
});
