import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  resolve: {
    // Tests run against the workspaces' TypeScript sources, never a stale build.
    alias: [
      { find: /^@intentwatch\/([a-z-]+)$/, replacement: `${root}$1/src/index.ts` },
      { find: /^@intentwatch\/([a-z-]+)\/settings$/, replacement: `${root}$1/src/settings.ts` },
    ],
  },
  test: {
    include: ['*/src/**/*.test.ts'],
    // chDB allows one data dir per process: each test file runs in its own process.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    env: { LOG_LEVEL: 'warn' },
    // Finds or starts what the tests need (Redis, Chromium), says once what is missing, and stops
    // what it started: see test/src/prerequisites/global-setup.ts.
    globalSetup: ['test/src/prerequisites/global-setup.ts'],
  },
});
