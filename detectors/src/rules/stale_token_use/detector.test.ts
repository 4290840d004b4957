import { describeScenarios } from '../../test-support/suite.js';
import { staleTokenUse } from './detector.js';
import { scenarios } from './scenarios.js';

describeScenarios(staleTokenUse, scenarios);
