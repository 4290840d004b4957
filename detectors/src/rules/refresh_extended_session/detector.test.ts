import { describeScenarios } from '../../test-support/suite.js';
import { refreshExtendedSession } from './detector.js';
import { scenarios } from './scenarios.js';

describeScenarios(refreshExtendedSession, scenarios);
