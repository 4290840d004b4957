import { describeScenarios } from '../../../testing/suite.js';
import { scopeCreep } from './detector.js';
import { scenarios } from './scenarios.js';

describeScenarios(scopeCreep, scenarios);
