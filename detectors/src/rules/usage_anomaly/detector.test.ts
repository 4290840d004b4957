import { describe } from 'vitest';
import { describeScenarios } from '../../../testing/suite.js';
import { usageAnomaly } from './detector.js';
import { scenarios } from './scenarios.js';

// Spans one by one would be hundreds of deliveries; order is covered by the scenario whose burst
// arrives before its history.
describeScenarios(usageAnomaly, scenarios, { shuffle: false });

// Runs whose windows do not overlap: a bucket recounted by a later run must still count the
// spans an earlier run counted (the recount reads from where the bucket's spans start).
describe('with windows that do not overlap (INTENTWATCH_DETECT_LAG_MS=0)', () => {
  describeScenarios(
    usageAnomaly,
    scenarios.filter((s) => s.name.startsWith('a burst that arrives in two deliveries')),
    { shuffle: false, env: { INTENTWATCH_DETECT_LAG_MS: '0' } },
  );
});
