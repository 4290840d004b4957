import { describe, expect, it } from 'vitest';
import { countMadFloor, fanoutMadFloor, robustScore } from './robust-score.js';

describe('robustScore', () => {
  it('scores a value against the median and MAD of the baseline', () => {
    const s = robustScore(30, [10, 12, 8, 10, 14, 6, 10], () => 0);
    expect(s.median).toBe(10);
    expect(s.mad).toBe(2);
    expect(s.z).toBeCloseTo((0.6745 * 20) / 2, 6);
  });

  it('does not divide by zero when the baseline is perfectly steady', () => {
    const s = robustScore(11, [10, 10, 10, 10, 10], countMadFloor);
    expect(Number.isFinite(s.z)).toBe(true);
    expect(s.z).toBeLessThan(3.5);
    expect(robustScore(30, [10, 10, 10, 10, 10], countMadFloor).z).toBeGreaterThan(3.5);
  });

  it('lets fan-out from two targets to five count, but not to three', () => {
    expect(robustScore(5, [2, 2, 2, 2], fanoutMadFloor).z).toBeGreaterThan(3.5);
    expect(robustScore(3, [2, 2, 2, 2], fanoutMadFloor).z).toBeLessThan(3.5);
  });

  it('cannot score against an empty baseline', () => {
    expect(() => robustScore(1, [], countMadFloor)).toThrow('robustScore requires at least one baseline value');
  });
});
