import { describeScenarios } from '../../test-support/suite.js';
import { crossServiceReuse } from './detector.js';
import { scenarios } from './scenarios.js';

describeScenarios(crossServiceReuse, scenarios);
