import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Config, Store, loadConfig, migrate, quoteIdentifier } from '@intentwatch/core';

export interface TestStoreOptions {
  /**
   * Run against the ClickHouse server named by `CLICKHOUSE_URL` (with `CLICKHOUSE_USER`/
   * `CLICKHOUSE_PASSWORD`) when it is set, in a database of its own (`iw_test_<random>`) that
   * dispose() drops. The store-level suites (core, collector) ask for it; the others always use the
   * embedded engine. @default false
   */
  serverFromEnv?: boolean;
}

export interface TestStore {
  /** The open store; a test that closes it may put a reopened one here, which dispose() closes. */
  store: Store;
  /** The configuration the store was opened with (`env` applied over the defaults). */
  config: Readonly<Config>;
  /** The temp data dir (always created, used by the embedded engine). */
  dataDir: string;
  /** The temp data dir (embedded) or the database of its own (server). */
  where: string;
  /** Opens the same store again (after the test closed it). */
  reopen(): Promise<Store>;
  /** Drops what the test created (server) and closes the store. */
  dispose(): Promise<void>;
}

/**
 * A migrated store for one test file: the embedded engine in a fresh temp data dir (chDB allows
 * one data dir per process; vitest runs each file in its own process), or the ClickHouse server
 * of `CLICKHOUSE_URL` with `serverFromEnv`. `env` adds configuration.
 */
export async function openTestStore(env: NodeJS.ProcessEnv = {}, options: TestStoreOptions = {}): Promise<TestStore> {
  const dataDir = mkdtempSync(join(tmpdir(), 'iw-test-'));
  const server = options.serverFromEnv ? process.env.CLICKHOUSE_URL : undefined;
  const vars: NodeJS.ProcessEnv = { INTENTWATCH_DATA_DIR: dataDir, ...env };
  if (server) {
    Object.assign(vars, {
      CLICKHOUSE_URL: server,
      CLICKHOUSE_USER: process.env.CLICKHOUSE_USER,
      CLICKHOUSE_PASSWORD: process.env.CLICKHOUSE_PASSWORD,
      CLICKHOUSE_DATABASE: `iw_test_${randomBytes(6).toString('hex')}`,
    });
  }
  const config = loadConfig(vars, { dotenv: false });
  const store = await Store.open(config);
  await migrate(store, { retentionDays: config.retentionDays });
  const t: TestStore = {
    store,
    config,
    dataDir,
    where: server ? config.database : dataDir,
    reopen: () => Store.open(config),
    async dispose() {
      if (server) await t.store.command(`DROP DATABASE IF EXISTS ${quoteIdentifier(config.database)}`).catch(() => undefined);
      await t.store.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return t;
}
