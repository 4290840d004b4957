import { describe, expect, it } from 'vitest';
import { stretchesOf } from './detector.js';

const agent = (entity: string, bucket: number) => ({ kind: 'agent' as const, entity, bucket });
const token = (entity: string, bucket: number) => ({ kind: 'token' as const, entity, bucket });

describe('usage_anomaly reads touched buckets as stretches', () => {
  it('keeps apart stretches of adjacent buckets, each with only the entities that touched it', () => {
    const touched = [agent('a', 0), agent('a', 60), token('t', 60), agent('b', 600), token('u', 660), agent('a', 1200)];
    expect(stretchesOf(touched, 60, 8)).toEqual([
      { from: 0, to: 120, agents: ['a'], tokens: ['t'] },
      { from: 600, to: 720, agents: ['b'], tokens: ['u'] },
      { from: 1200, to: 1260, agents: ['a'], tokens: [] },
    ]);
  });

  it('merges the stretches closest in time when there are more than the cap, covering every touched bucket', () => {
    // Back-dated buckets scattered over a day: a sender controls how many stretches there are.
    const touched = Array.from({ length: 500 }, (_, i) => agent(`a${i % 7}`, i * 173 * 60));
    const stretches = stretchesOf(touched, 60, 8);
    expect(stretches).toHaveLength(8);
    for (const t of touched) {
      const st = stretches.find((s) => t.bucket >= s.from && t.bucket < s.to);
      expect(st?.agents).toContain(t.entity);
    }
    for (let i = 1; i < stretches.length; i++) expect(stretches[i]!.from).toBeGreaterThanOrEqual(stretches[i - 1]!.to);
  });

  it('bounds a flood of scattered back-dated buckets to the cap in one pass', () => {
    const touched = Array.from({ length: 200_000 }, (_, i) => agent(`a${i % 13}`, i * 120));
    const stretches = stretchesOf(touched, 60, 8);
    expect(stretches).toHaveLength(8);
    expect(stretches[0]?.from).toBe(0);
    expect(stretches.at(-1)?.to).toBe(199_999 * 120 + 60);
  });
});
