import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Alert } from '@intentwatch/alerts';
import { type Browser, type BrowserContext, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeskHarness, KEYS, propagationScenario } from '../testing/desk-harness.js';

/** Polls until the UI shows the expected state (it fetches, debounces and re-renders). */
const until = <T>(read: () => Promise<T> | T) => expect.poll(read, { timeout: 10_000, interval: 50 });

/** The Chromium this run found (test/src/prerequisites/chromium.ts); empty when none, and then these tests are skipped. */
const CHROMIUM = process.env.INTENTWATCH_TEST_CHROMIUM ?? '';
/** Screenshots of each main page, kept as test artifacts (gitignored). */
const SHOTS = fileURLToPath(new URL('../../test-results/ui/', import.meta.url));

/**
 * The web UI in headless Chromium, over misuse that went through the real collector and was
 * raised by the real detectors: an analyst works an alert from the queue to resolved, a viewer
 * cannot triage. Any page error or CSP violation fails the test.
 */
describe.skipIf(!CHROMIUM)('the web UI in a real browser', () => {
  let h: DeskHarness;
  let alerts: Alert[];
  let browser: Browser;
  const problems: string[] = [];

  async function open(): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      // Refusals the tests provoke on purpose (a wrong key, a viewer's PATCH) are logged by the browser too.
      if (m.type() === 'error' && !/status of (401|403) /.test(m.text())) problems.push(`console: ${m.text()}`);
    });
    return { context, page };
  }

  async function signIn(page: Page, key: string) {
    await page.goto(`${h.apiUrl}/`);
    await page.fill('#api-key', key);
    await page.press('#api-key', 'Enter');
    await page.waitForSelector('table.queue tbody tr.row');
  }

  /** The page fits 1280 px: nothing scrolls sideways. */
  async function fits(page: Page, what: string) {
    const width = await page.evaluate('document.documentElement.scrollWidth');
    expect(width, `${what} is ${width}px wide at a 1280px viewport`).toBeLessThanOrEqual(1280);
  }

  const shot = (page: Page, name: string) => page.screenshot({ path: `${SHOTS}${name}.png`, fullPage: true });
  const statusOf = (page: Page) => page.textContent('[data-testid=alert-status]');

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    h = await DeskHarness.start();
    alerts = await h.playMisuse();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  it('takes an analyst from the queue through an alert to resolved, and the state survives a reload', async () => {
    const { context, page } = await open();
    await page.goto(`${h.apiUrl}/`);
    await page.waitForSelector('#api-key');
    await shot(page, '0-sign-in');
    await page.fill('#api-key', 'not-a-valid-key-0000');
    await page.press('#api-key', 'Enter');
    await until(() => page.textContent('.form-error')).toContain('not valid');

    await signIn(page, KEYS.analyst);
    await until(() => page.locator('table.queue tbody tr.row').count()).toBe(alerts.length);
    expect(await page.textContent('.whoami')).toContain('analyst');
    await fits(page, 'the queue');
    await shot(page, '1-queue');

    // Filter by severity, then search; the URL keeps the view.
    await page.click('button.sev-toggle[data-severity=critical]');
    await until(() => page.locator('table.queue tbody tr.row').count()).toBe(2);
    expect(await page.locator('table.queue tbody tr.row .sev').allTextContents()).toEqual(['critical', 'critical']);
    expect(page.url()).toContain('severity=critical');
    await page.click('button.sev-toggle[data-severity=critical]');
    await page.keyboard.press('/');
    await page.keyboard.type('billing');
    await until(() => page.locator('table.queue tbody tr.row').count()).toBe(1);
    await page.keyboard.press('Escape');

    // Open it from the keyboard.
    await page.keyboard.press('j');
    await page.keyboard.press('Enter');
    await page.waitForSelector('[data-testid=intent-vs-actual]');
    const alertUrl = page.url();
    expect(await page.textContent('[data-testid=alert-reason]')).toContain('repos/acme/billing/contents/config.yml');

    // Intent vs actual, side by side: the granted globs on one side, the billing repo outside them on the other.
    const resources = page.locator('.intent-table tbody tr', { hasText: 'Resources' });
    expect(await resources.locator('.intent-side .chip').allTextContents()).toEqual(['repos/acme/api/**', 'channels/triage']);
    expect(await resources.locator('.actual-side .chip-deviation').textContent()).toContain('repos/acme/billing/contents/config.yml');
    expect(await page.locator('.intent-table thead').textContent()).toMatch(/Intent — granted.*Actual — used/);
    expect(await page.locator('[data-testid=evidence] tbody tr').first().textContent()).toContain('triage-bot');
    expect(await page.locator('.chip-framework').allTextContents()).toContain('OWASP-ASI03');
    await fits(page, 'the alert page');
    await shot(page, '2-alert');

    // Acknowledge (keyboard), note, resolve (button).
    expect(await statusOf(page)).toBe('open');
    await page.keyboard.press('a');
    await until(() => statusOf(page)).toBe('acknowledged');
    await page.keyboard.press('n');
    await page.keyboard.type('Billing config push is not part of triage; token revoked with the broker.');
    await page.click('.note-form button[type=submit]');
    await until(() => page.textContent('[data-testid=notes]')).toContain('Billing config push is not part of triage');
    await page.click('button[data-action=resolved]');
    await until(() => statusOf(page)).toBe('resolved');

    await page.reload();
    await page.waitForSelector('[data-testid=intent-vs-actual]');
    expect(page.url()).toBe(alertUrl);
    expect(await statusOf(page)).toBe('resolved');
    expect(await page.textContent('[data-testid=notes]')).toContain('token revoked with the broker');
    const history = await page.textContent('[data-testid=history]');
    expect(history).toContain('status open → acknowledged');
    expect(history).toContain('status acknowledged → resolved');
    expect(history).toMatch(/key:analyst:[0-9a-f]{8}/);

    // The API says the same.
    const id = decodeURIComponent(alertUrl.split('#/alerts/')[1] as string);
    const stored = (await (await h.call(`/v1/alerts/${id}`)).json()) as { status: string; notes: { text: string }[] };
    expect(stored.status).toBe('resolved');
    expect(stored.notes.map((n) => n.text)).toEqual(['Billing config push is not part of triage; token revoked with the broker.']);

    // The token page: session and delegation drawn as chains, uses against the lifetime.
    await page.goto(`${h.apiUrl}/#/tokens/tok-7f3b`);
    await page.waitForSelector('[data-testid=uses-timeline] svg');
    expect(
      await page.locator('[data-testid=session-chain] .chain-node').evaluateAll((els) => els.map((e) => e.getAttribute('data-token'))),
    ).toEqual(['tok-7f3a', 'tok-7f3b']);
    expect(
      await page.locator('[data-testid=delegation-chain] .chain-node').evaluateAll((els) => els.map((e) => e.getAttribute('data-token'))),
    ).toEqual(['tok-7f3a', 'tok-9c21']);
    expect(await page.locator('[data-testid=session-chain] .chain-node.current').getAttribute('data-token')).toBe('tok-7f3b');
    await fits(page, 'the token page');
    await shot(page, '3-token');
    await page.goto(`${h.apiUrl}/#/tokens/tok-9c21`);
    await page.waitForSelector('[data-testid=uses-timeline] svg circle.use-flagged');
    await shot(page, '3b-token-delegated');

    // Agents, and one agent.
    await page.goto(`${h.apiUrl}/#/agents`);
    await page.waitForSelector('table.grid tbody tr.row');
    expect(await page.locator('table.grid tbody tr.row').count()).toBe(5);
    await fits(page, 'the agents page');
    await shot(page, '4-agents');
    await page.click('a[href="#/agents/exfil-bot"]');
    await page.waitForSelector('.agent-page');
    expect(await page.textContent('.agent-page')).toContain('summarizer-bot');
    await fits(page, 'the agent page');
    await shot(page, '5-agent');

    // Suppress a noisy detection from its alert: it leaves the open queue, is listed, and can be lifted.
    const ghost = alerts.find((a) => a.detector === 'ungoverned_token') as Alert;
    await page.goto(`${h.apiUrl}/#/alerts/${ghost.id}`);
    await page.waitForSelector('.alert-page [data-testid=intent-vs-actual]');
    await page.click('text=Suppress…');
    await page.selectOption('.overlay select[name=scope]', { label: 'agent report-bot' });
    await page.fill('.overlay textarea', 'report-bot migrates to broker-issued tokens this week');
    await page.click('.overlay button[type=submit]');
    await until(() => statusOf(page)).toBe('suppressed');
    await page.goto(`${h.apiUrl}/#/alerts?tab=suppressed`);
    await until(() => page.locator('table.queue tbody tr.row').count()).toBe(1);
    await page.goto(`${h.apiUrl}/#/suppressions`);
    await page.waitForSelector('.page table.grid tbody tr td');
    expect(await page.textContent('.page table.grid tbody')).toContain('report-bot migrates to broker-issued tokens');
    await fits(page, 'the suppressions page');
    await shot(page, '6-suppressions');
    await page.click('.page table.grid tbody button:has-text("Lift")');
    await until(() => page.textContent('.page table.grid tbody')).toContain('No suppression is in force');
    await context.close();
    expect(problems).toEqual([]);
  });

  it('shows a viewer everything but lets it triage nothing: no controls, and the API answers 403', async () => {
    const { context, page } = await open();
    await signIn(page, KEYS.viewer);
    expect(await page.textContent('.whoami')).toContain('viewer');
    expect(await page.textContent('.queue-footer')).toContain('read only');

    // The keyboard action explains itself and changes nothing.
    const first = await page.locator('table.queue tbody tr.row').first().getAttribute('data-id');
    await page.keyboard.press('a');
    await until(() => page.textContent('#toasts')).toContain('viewer role');
    await page.keyboard.press('Enter');
    await page.waitForSelector('[data-testid=intent-vs-actual]');
    expect(await page.locator('[data-testid=read-only]').textContent()).toContain('viewer role');
    expect(await page.locator('button[data-action]').count()).toBe(0);
    expect(await page.locator('.note-form').count()).toBe(0);
    expect(await statusOf(page)).toBe('open');
    await shot(page, '7-alert-viewer');

    // Even a hand-made request from the page is refused.
    const status = await page.evaluate(
      async ([id, key]) =>
        (
          await fetch(`/v1/alerts/${id}`, {
            method: 'PATCH',
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
            body: '{"status":"resolved"}',
          })
        ).status,
      [first as string, KEYS.viewer],
    );
    expect(status).toBe(403);
    expect(((await (await h.call(`/v1/alerts/${first}`)).json()) as { status: string }).status).toBe('open');
    await context.close();
    expect(problems).toEqual([]);
  });

  it('marks every token of a revoked lineage "revoked through …" on the token page', async () => {
    const base = Date.now() - 25 * 60_000;
    await h.send(propagationScenario(base), base);
    await h.detect();
    const { context, page } = await open();
    await signIn(page, KEYS.viewer);
    await page.goto(`${h.apiUrl}/#/tokens/tok-prop-x1`);
    await page.waitForSelector('[data-testid=session-chain] .chain-node');
    const flags = (chain: string) =>
      page
        .locator(`[data-testid=${chain}] .chain-node`)
        .evaluateAll((els) => els.map((e) => [e.getAttribute('data-token'), e.querySelector('.chain-flag')?.textContent ?? '']));
    expect(await flags('session-chain')).toEqual([
      ['tok-prop-x', expect.stringMatching(/^revoked through a delegator: tok-prop-0 /)],
      ['tok-prop-x1', expect.stringMatching(/^revoked through a delegator: tok-prop-0 /)],
    ]);
    expect(await flags('delegation-chain')).toEqual([
      ['tok-prop-0', expect.stringMatching(/^revoked /)],
      ['tok-prop-x', expect.stringMatching(/^revoked through a delegator: tok-prop-0 /)],
    ]);
    expect(await page.locator('.alert-title-row [data-testid=revoked-through]').textContent()).toContain('tok-prop-0');
    await page.goto(`${h.apiUrl}/#/tokens/tok-prop-0`);
    await page.waitForSelector('[data-testid=session-chain] .chain-node[data-token=tok-prop-1]');
    expect(await flags('session-chain')).toEqual([
      ['tok-prop-0', expect.stringMatching(/^revoked /)],
      ['tok-prop-1', expect.stringMatching(/^revoked through its session: tok-prop-0 /)],
    ]);
    expect(await flags('delegation-chain')).toEqual([
      ['tok-prop-0', expect.stringMatching(/^revoked /)],
      ['tok-prop-x', expect.stringMatching(/^revoked through a delegator: tok-prop-0 /)],
      ['tok-prop-x1', expect.stringMatching(/^revoked through a delegator: tok-prop-0 /)],
    ]);
    await fits(page, 'the token page of a revoked lineage');
    await shot(page, '8-token-revoked-lineage');
    await context.close();
    expect(problems).toEqual([]);
  });
});
