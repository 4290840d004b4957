import { suiteConfig } from './vitest.suites.js';

// `npm run test:integration`: the tests that open a store, Redis, a browser or a child process (README, "Tests").
export default suiteConfig('integration');
