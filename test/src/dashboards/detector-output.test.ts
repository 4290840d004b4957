import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Collector } from '@intentwatch/collector';
import { Store, migrate } from '@intentwatch/core';
import { type Config, loadConfig } from '@intentwatch/cli';
import { DETECTORS, DetectorRunner } from '@intentwatch/detectors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allPanels, loadDashboards } from './dashboards.js';
import { expandPanelSql, type TimeRange } from './grafana-sql.js';
import { SCENARIO, sendScenario } from './scenario.js';

/**
 * The dashboards over what the real detectors write: the scenario goes through a real collector,
 * every detector runs over it, and the alert and detection-health panels show their alerts and
 * watermarks — so a change in how detectors store alerts cannot leave the dashboards reading
 * columns or states nobody writes.
 */

let store: Store;
let dataDir: string;
let range: TimeRange;
const targets = loadDashboards().flatMap(({ dashboard }) =>
  allPanels(dashboard).flatMap((panel) => (panel.targets ?? []).map((target) => ({ uid: dashboard.uid, title: panel.title, target }))),
);

async function panel(uid: string, title: string, variables: Record<string, string> = {}): Promise<Record<string, string>[]> {
  const t = targets.find((x) => x.uid === uid && x.title === title);
  if (!t) throw new Error(`no panel ${uid}/${title}`);
  return store.query<Record<string, string>>(expandPanelSql(t.target.rawSql, variables, range));
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'iw-dash-detect-'));
  const config: Readonly<Config> = loadConfig({ INTENTWATCH_DATA_DIR: dataDir, INTENTWATCH_BATCH_MS: '20' }, { dotenv: false });
  store = await Store.open(config);
  await migrate(store, { retentionDays: config.retentionDays });
  const collector = new Collector(store, config);
  const port = await collector.listen(0, '127.0.0.1');
  const now = Date.now();
  await sendScenario(`http://127.0.0.1:${port}`, now);
  await collector.close();
  // Past every detector's settle time and grace window, so that one run sees the whole scenario.
  const runner = new DetectorRunner(store, config);
  const later = now + config.graceMs + 5 * 60_000;
  for (const detector of DETECTORS) await runner.runOnce(detector, later);
  range = { fromMs: now - 60 * 60_000, toMs: now + 60_000, intervalMs: 60_000 };
});

afterAll(async () => {
  await store?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('dashboards over the detectors’ own output', () => {
  it('chart the alerts the detectors raised on the scenario, by detector', async () => {
    const rows = await panel('intentwatch-overview', 'Alerts raised by detector');
    const detectors = new Set(rows.map((r) => r.detector));
    for (const id of ['cross_service_reuse', 'scope_creep', 'stale_token_use']) expect(detectors, id).toContain(id);
  });

  it('show every detector’s watermark in the detector lag panel', async () => {
    const rows = await panel('intentwatch-overview', 'Detector lag');
    expect(rows.map((r) => r.detector).sort()).toEqual(DETECTORS.map((d) => d.id).sort());
    for (const r of rows) expect(Number(r.behind_newest_s), r.detector).toBe(0);
  });

  it('list the stray token and agent at the top, and their alerts on their own dashboards, all open', async () => {
    const tokens = await panel('intentwatch-overview', 'Top tokens by alerts');
    expect(tokens.map((r) => r.token)).toContain(SCENARIO.refreshed);
    const agents = await panel('intentwatch-overview', 'Top agents by alerts');
    expect(agents.map((r) => r.agent)).toContain(SCENARIO.agent);
    const onToken = await panel('intentwatch-token', 'Alerts on this token', { token: SCENARIO.refreshed });
    expect(onToken.length).toBeGreaterThan(0);
    const onAgent = await panel('intentwatch-agent', 'Alerts on this agent', { agent: SCENARIO.agent });
    expect(onAgent.length).toBeGreaterThan(0);
    const statuses = await panel('intentwatch-overview', 'Alerts by status');
    expect(statuses.map((r) => r.status)).toEqual(['open']);
  });
});
