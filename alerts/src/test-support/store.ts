import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store, migrate, composeSettings, coreSettings } from '@intentwatch/core';

/** The settings these tests read: the core settings and those of the workspaces they start. */
const configuration = composeSettings(coreSettings);
const loadConfig = configuration.load;
type Config = ReturnType<typeof configuration.load>;

export interface TestStore {
  store: Store;
  config: Readonly<Config>;
  dispose(): Promise<void>;
}

/**
 * A migrated embedded store in a fresh temp data dir, for one test file (chDB allows one data
 * dir per process; vitest runs each file in its own process). `env` adds configuration.
 */
export async function openTestStore(env: NodeJS.ProcessEnv = {}): Promise<TestStore> {
  const dataDir = mkdtempSync(join(tmpdir(), 'iw-det-'));
  const config = loadConfig({ INTENTWATCH_DATA_DIR: dataDir, ...env }, { dotenv: false });
  const store = await Store.open(config);
  await migrate(store, { retentionDays: config.retentionDays });
  return {
    store,
    config,
    async dispose() {
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Polls `read` until `done(value)` holds or `timeoutMs` passes; returns the last value. */
export async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!done(value) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    value = await read();
  }
  return value;
}
