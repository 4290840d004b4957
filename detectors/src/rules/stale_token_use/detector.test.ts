import { describeScenarios } from '../../../testing/suite.js';
import { staleTokenUse } from './detector.js';
import { scenarios } from './scenarios.js';

// A late lifecycle event re-examines the uses ingested within the grace window before it. Played
// one span at a time (shuffled), a lineage scenario can take longer than the harness's 3 s on a
// busy machine: a minute keeps the case about order, not speed. It costs no time: this detector
// judges each window at once (no settle time), so the grace only bounds how far back a late event
// looks, never how long a test waits.
describeScenarios(staleTokenUse, scenarios, { env: { INTENTWATCH_GRACE_MS: '60000' } });
