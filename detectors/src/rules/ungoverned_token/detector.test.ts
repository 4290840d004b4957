import { describe, expect, it } from 'vitest';
import { DetectorHarness } from '../../../testing/harness.js';
import { span } from '../../../testing/scenario.js';
import { describeScenarios } from '../../../testing/suite.js';
import { ungovernedToken } from './detector.js';
import { scenarios } from './scenarios.js';

// A short grace window keeps the scenarios quick; late grants in them arrive within milliseconds.
describeScenarios(ungovernedToken, scenarios, { env: { INTENTWATCH_GRACE_MS: '1200' } });

describe('ungoverned_token grace window', () => {
  it('does not judge a use before the grace window has passed', async () => {
    const h = await DetectorHarness.start({ INTENTWATCH_GRACE_MS: '60000' });
    try {
      await h.send([span.use('tok-ug-young', 0, { agent: 'a', target: 'b' })], Date.now());
      const report = await h.run(ungovernedToken);
      expect(report.findings).toBe(0);
      // The same use, judged from a clock past the grace window, is ungoverned.
      const later = await h.run(ungovernedToken, Date.now() + 61_000);
      expect(later.raised).toBe(1);
    } finally {
      await h.close();
    }
  });
});
