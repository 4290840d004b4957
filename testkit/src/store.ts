import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ComposedSettings,
  type CoreSettings,
  Store,
  composeSettings,
  coreSettings,
  migrate,
  quoteIdentifier,
} from '@intentwatch/core';

/** The core settings alone: what a test that starts no other part reads. */
const CORE_ONLY = composeSettings(coreSettings);

export interface TestStoreOptions<C extends CoreSettings = CoreSettings> {
  /**
   * The settings the test's parts read, composed as the program composes them
   * (`composeSettings(coreSettings, collectorSettings, …)`): `env` is read through them, and
   * `config` has their type. @default the core settings alone
   */
  settings?: ComposedSettings<C>;
  /**
   * Run against the ClickHouse server named by `CLICKHOUSE_URL` (with `CLICKHOUSE_USER`/
   * `CLICKHOUSE_PASSWORD`) when it is set, in a database of its own (`iw_test_<random>`) that
   * dispose() drops. The store-level suites (core, collector) ask for it; the others always use the
   * embedded engine. @default false
   */
  serverFromEnv?: boolean;
}

export interface TestStore<C extends CoreSettings = CoreSettings> {
  /** The open store; a test that closes it may put a reopened one here, which dispose() closes. */
  store: Store;
  /** The configuration the store was opened with (`env` applied over the defaults). */
  config: Readonly<C>;
  /** The temp data dir (always created, used by the embedded engine). */
  dataDir: string;
  /** The temp data dir (embedded) or the database of its own (server). */
  where: string;
  /** Opens the same store again (after the test closed it). */
  reopen(): Promise<Store>;
  /** Drops what the test created (server) and closes the store. */
  dispose(): Promise<void>;
}

/** The test store of the configuration `S` composes (`StoreFor<typeof SETTINGS>`). */
export type StoreFor<S> = TestStore<S extends ComposedSettings<infer C extends CoreSettings> ? C : never>;

/**
 * A migrated store for one test file: the embedded engine in a fresh temp data dir (chDB allows
 * one data dir per process; vitest runs each file in its own process), or the ClickHouse server
 * of `CLICKHOUSE_URL` with `serverFromEnv`. `env` adds configuration.
 */
export async function openTestStore<C extends CoreSettings = CoreSettings>(
  env: NodeJS.ProcessEnv = {},
  options: TestStoreOptions<C> = {},
): Promise<TestStore<C>> {
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
  const settings = (options.settings ?? CORE_ONLY) as ComposedSettings<C>;
  const config = settings.load(vars, { dotenv: false });
  const store = await Store.open(config);
  await migrate(store, { retentionDays: config.retentionDays });
  const t: TestStore<C> = {
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
