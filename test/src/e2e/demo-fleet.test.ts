import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Running, start } from '@intentwatch/cli';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BILLING_SERVER, type DemoFleet, EPISODES, HELPDESK_AGENT, startDemoFleet } from '@intentwatch/demo';

/*
 * The whole monitor (collector, detectors, API) as `npm start` runs it, on a temp data dir, with
 * the demo fleet sending real OTLP to it. Short grace and detection intervals keep this fast;
 * the detectors' other defaults (usage buckets of a minute, ten of warm-up) are those a user gets.
 */

interface Alert {
  id: string;
  detector: string;
  severity: string;
  tokenId: string;
  rootTokenId: string;
  agentId: string;
  caller: string;
  taskId: string;
  reason: string;
}

const API_KEY = `demo-test-${randomBytes(12).toString('hex')}`;
const DETECTORS = [...new Set(EPISODES.map((e) => e.detector))];
const DEADLINE_MS = 90_000;

let dataDir: string;
let monitor: Running;
let fleet: DemoFleet;
let alerts: Alert[] = [];

async function listAlerts(): Promise<Alert[]> {
  const all: Alert[] = [];
  let cursor: string | null | undefined;
  do {
    const url = new URL(`http://127.0.0.1:${monitor.apiPort}/v1/alerts`);
    url.searchParams.set('limit', '500');
    if (cursor) url.searchParams.set('cursor', cursor);
    const res = await fetch(url, { headers: { authorization: `Bearer ${API_KEY}` } });
    if (res.status !== 200) throw new Error(`GET /v1/alerts answered ${res.status}: ${await res.text()}`);
    const page = (await res.json()) as { alerts: Alert[]; nextCursor?: string | null };
    all.push(...page.alerts);
    cursor = page.nextCursor;
  } while (cursor);
  return all;
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'iw-demo-'));
  monitor = await start(
    { role: 'all', demo: false, help: false },
    {
      HOST: '127.0.0.1',
      OTLP_PORT: '0',
      API_PORT: '0',
      INTENTWATCH_DATA_DIR: dataDir,
      INTENTWATCH_API_KEYS: `admin:${API_KEY}`,
      INTENTWATCH_GRACE_MS: '3000',
      DETECT_INTERVAL_MS: '250',
      LOG_LEVEL: 'warn',
    },
  );
  // A fresh store: the benign agents' 20 minutes of history are safe to write, and put their
  // ordinary work through every detector before the misuse starts.
  fleet = startDemoFleet({
    endpoint: `http://127.0.0.1:${monitor.otlpPort}`,
    benignHistory: true,
    misuseAfterMs: 1000,
    burstAfterMs: 1000,
    exportDelayMs: 200,
  });
  await fleet.ready;
  const deadline = Date.now() + DEADLINE_MS;
  do {
    await new Promise((r) => setTimeout(r, 1000));
    alerts = await listAlerts();
  } while (
    !(DETECTORS.every((d) => alerts.some((a) => a.detector === d)) && mcpAlerts().length >= 2 && propagated(alerts)) &&
    Date.now() < deadline
  );
}, DEADLINE_MS + 60_000);

/** The use of the release coder's exchanged token after the planner's token was revoked. */
function propagated(list: Alert[]): Alert | undefined {
  return list.find((a) => a.detector === 'stale_token_use' && a.agentId === 'release-coder');
}

afterAll(async () => {
  await fleet?.stop();
  await monitor?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** Alerts about the MCP desk's misuse: its tickets token presented to the billing MCP server. */
function mcpAlerts(): Alert[] {
  return alerts.filter((a) => a.agentId === HELPDESK_AGENT && a.reason.includes(`on server ${BILLING_SERVER}`));
}

describe('the demo fleet against the whole monitor', () => {
  it.each(DETECTORS)('makes %s raise an alert', (detector) => {
    expect(
      alerts.filter((a) => a.detector === detector),
      `alerts so far: ${alerts.map((a) => a.detector).join(', ')}`,
    ).not.toHaveLength(0);
  });

  it('makes a revocation propagate: the exchanged token used after its delegator was revoked is a critical alert naming it', () => {
    const alert = propagated(alerts);
    expect(alert, `alerts so far: ${alerts.map((a) => `${a.detector} ${a.agentId}`).join(', ')}`).toBeDefined();
    expect(alert?.severity).toBe('critical');
    expect(alert?.reason).toMatch(/token tok-release-planner-\S+, from which it was delegated, was revoked \(release cancelled\)/);
  });

  it('raises alerts about the misbehaving agents only, never a benign agent or its tokens', () => {
    const benignAgents = new Set(fleet.benignAgents);
    const benignTokens = new Set(fleet.benignTokenIds());
    // 20 minutes of tasks of four agents and a delegate.
    expect(benignTokens.size).toBeGreaterThan(30);
    const misuseCast = new Set([...EPISODES.flatMap((e) => e.agents), HELPDESK_AGENT]);
    for (const a of alerts) {
      const named = [a.agentId, a.caller].filter(Boolean);
      expect(
        named.filter((n) => benignAgents.has(n)),
        `${a.detector}: ${a.reason}`,
      ).toEqual([]);
      expect(benignTokens.has(a.tokenId) || benignTokens.has(a.rootTokenId), `${a.detector}: ${a.reason}`).toBe(false);
      if (a.agentId) expect(misuseCast.has(a.agentId), `${a.detector}: ${a.reason}`).toBe(true);
    }
  });

  it('shows alerts that name the MCP tool and server when the MCP agent presents its token to another MCP server', () => {
    const reasons = mcpAlerts().map((a) => `${a.detector}: ${a.reason}`);
    expect(reasons).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^scope_creep: .*invoked MCP tool billing\.refund on server mcp-billing, outside the task's tools/),
        expect.stringMatching(
          /^cross_service_reuse: .*was used for MCP \S+(?: \S+)? on server mcp-billing .*outside its audience \[mcp-tickets\]/,
        ),
      ]),
    );
  });
});
