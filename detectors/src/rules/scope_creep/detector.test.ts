import { describeScenarios } from '../../test-support/suite.js';
import { scopeCreep } from './detector.js';
import { scenarios } from './scenarios.js';

describeScenarios(scopeCreep, scenarios);
