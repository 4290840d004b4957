import { median, medianAbsoluteDeviation } from 'simple-statistics';

/** The consistency constant of the modified z-score (Iglewicz & Hoaglin): 0.6745 ≈ Φ⁻¹(0.75). */
const K = 0.6745;

export interface RobustScore {
  /** Modified z-score of `value` against the baseline: 0.6745 · (value − median) / MAD. */
  z: number;
  median: number;
  /** The MAD actually divided by, after the floor. */
  mad: number;
}

/**
 * Scores `value` against `baseline` with the modified z-score 0.6745·(x − median)/MAD.
 *
 * The MAD is floored at `minMad(median)`: a steady series has MAD 0, which would make every
 * deviation infinite, and counts vary by chance. Throws when the baseline is empty.
 *
 * robustScore(30, [10, 11, 9, 10, 12, 10], countMadFloor).z ≈ 6.3
 */
export function robustScore(value: number, baseline: readonly number[], minMad: (median: number) => number): RobustScore {
  if (baseline.length === 0) throw new Error('robustScore requires at least one baseline value');
  const m = median([...baseline]);
  const mad = Math.max(medianAbsoluteDeviation([...baseline]), minMad(m));
  return { z: (K * (value - m)) / mad, median: m, mad };
}

/**
 * MAD floor for request counts: 0.6745·√median, the MAD of Poisson noise around that median,
 * and at least 1 — so a jump must exceed ~3.5 standard deviations of chance to count.
 */
export function countMadFloor(median: number): number {
  return Math.max(K * Math.sqrt(Math.max(median, 0)), 1);
}

/** MAD floor for fan-out (distinct targets), which is not a count of chance events: half a target. */
export function fanoutMadFloor(): number {
  return 0.5;
}
