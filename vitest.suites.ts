import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { type ViteUserConfig, defineConfig } from 'vitest/config';
import base from './vitest.config.js';

// The suite a test file belongs to, by a rule on the file alone (README, "Tests"):
// - integration: it lives in test/src/ (whole-program tests), is named *.redis.test.ts or
//   *.browser.test.ts, or opens real parts: a store, a collector or the test monitor (everything
//   from @intentwatch/testkit or a workspace's testing/ folder, the whole program of
//   @intentwatch/cli), a child process, a browser.
// - unit: every other test file, pure code on values (no store, Redis, browser or child process).
// `npm test` runs both, as one run; `npm run test:unit` and `npm run test:integration` run one.
const OPENS_REAL_PARTS = [
  "from '@intentwatch/testkit",
  '/testing/',
  "from '@intentwatch/cli'",
  'Store.open(',
  'node:child_process',
  'playwright',
  'REDIS_URL',
];

export type Suite = 'unit' | 'integration';

export function suiteOf(file: string, text: string): Suite {
  if (file.startsWith('test/') || /\.(redis|browser)\.test\.ts$/.test(file)) return 'integration';
  return OPENS_REAL_PARTS.some((marker) => text.includes(marker)) ? 'integration' : 'unit';
}

const root = new URL('.', import.meta.url).pathname;

/** Every test file vitest.config.ts includes (`*\/src/**\/*.test.ts`), relative to the root. */
function testFiles(): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.name === 'node_modules' || e.name === 'dist') continue;
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      else if (e.name.endsWith('.test.ts')) files.push(relative(root, path));
    }
  };
  for (const e of readdirSync(root, { withFileTypes: true })) {
    if (e.isDirectory() && e.name !== 'node_modules' && !e.name.startsWith('.')) {
      try {
        walk(join(root, e.name, 'src'));
      } catch {
        // a folder without src/ holds no tests
      }
    }
  }
  return files.sort();
}

export function filesOf(suite: Suite): string[] {
  return testFiles().filter((file) => suiteOf(file, readFileSync(join(root, file), 'utf8')) === suite);
}

/** vitest.config.ts with only the files of `suite`; unit tests need no Redis or Chromium. */
export function suiteConfig(suite: Suite): ViteUserConfig {
  const { globalSetup, ...test } = base.test ?? {};
  return defineConfig({
    ...base,
    test: { ...test, include: filesOf(suite), ...(suite === 'integration' ? { globalSetup } : {}) },
  });
}
