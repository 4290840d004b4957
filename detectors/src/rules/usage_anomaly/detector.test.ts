import { describeScenarios } from '../../../testing/suite.js';
import { usageAnomaly } from './detector.js';
import { scenarios } from './scenarios.js';

// Spans one by one would be hundreds of deliveries; order is covered by the scenario whose burst
// arrives before its history.
describeScenarios(usageAnomaly, scenarios, { shuffle: false });
