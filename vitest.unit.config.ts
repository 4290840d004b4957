import { suiteConfig } from './vitest.suites.js';

// `npm run test:unit`: the pure tests (README, "Tests").
export default suiteConfig('unit');
