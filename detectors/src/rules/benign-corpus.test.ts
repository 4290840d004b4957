import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DetectorHarness } from '../../testing/harness.js';
import { benignFleet } from '../../testing/benign-fleet.js';
import { DETECTORS } from './index.js';

describe('every detector on a benign fleet', () => {
  let h: DetectorHarness;
  beforeAll(async () => {
    // The late-arriving lifecycle batch follows a round of every detector over the uses: the grace
    // window must outlast that round, on a busy machine too, or the uses look ungoverned.
    h = await DetectorHarness.start({ INTENTWATCH_GRACE_MS: '5000' });
  });
  afterAll(async () => h?.close());

  it('stays silent, in order and in a late-arriving order', async () => {
    const spans = benignFleet();
    const base = Date.now() - 20 * 60_000;
    // First half in order, second half with lifecycle events after the uses they explain.
    const half = Math.floor(spans.length / 2);
    const later = spans.slice(half);
    const uses = later.filter((s) => !('token.event' in s.attrs) && !('task.event' in s.attrs));
    const lifecycle = later.filter((s) => 'token.event' in s.attrs || 'task.event' in s.attrs);
    for (const batch of [spans.slice(0, half), uses, lifecycle]) {
      await h.send(batch, base);
      for (const d of DETECTORS) await h.run(d);
    }
    await new Promise((r) => setTimeout(r, 5100));
    const findings: Record<string, number> = {};
    for (const d of DETECTORS) findings[d.id] = (await h.run(d)).findings;
    expect(findings).toEqual(Object.fromEntries(DETECTORS.map((d) => [d.id, 0])));
    expect((await h.alerts.list({ limit: 500 })).alerts.map((a) => a.reason)).toEqual([]);
    // The runs examined the fleet: the store holds it all.
    const [{ n }] = (await h.store.store.query<{ n: string }>("SELECT count() AS n FROM spans WHERE token_id LIKE 'tok-benign-%'")) as [
      { n: string },
    ];
    expect(Number(n)).toBeGreaterThan(150);
  });
});
