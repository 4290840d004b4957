import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { coreSettings } from '../config.js';
import { composeSettings } from '../settings.js';
import { migrate } from '../store/migrations.js';
import { Store, quoteIdentifier } from '../store/store.js';

export interface TestStore {
  store: Store;
  /** The temp data dir (embedded) or the database of its own (server). */
  where: string;
  /** Drops what the test created and closes the store. */
  dispose(): Promise<void>;
}

/**
 * A migrated store for one test file. Against the ClickHouse server named by `CLICKHOUSE_URL`
 * (with `CLICKHOUSE_USER`/`CLICKHOUSE_PASSWORD`) when it is set, in a database of its own so that
 * files running at once never see each other's rows; otherwise the embedded engine in a fresh
 * temp data dir (one per process, as chDB requires).
 */
export async function openTestStore(): Promise<TestStore> {
  const dataDir = mkdtempSync(join(tmpdir(), 'iw-test-'));
  const server = process.env.CLICKHOUSE_URL;
  const env: NodeJS.ProcessEnv = { INTENTWATCH_DATA_DIR: dataDir };
  if (server) {
    env.CLICKHOUSE_URL = server;
    env.CLICKHOUSE_USER = process.env.CLICKHOUSE_USER;
    env.CLICKHOUSE_PASSWORD = process.env.CLICKHOUSE_PASSWORD;
    env.CLICKHOUSE_DATABASE = `iw_test_${randomBytes(6).toString('hex')}`;
  }
  const config = composeSettings(coreSettings).load(env, { dotenv: false });
  const store = await Store.open(config);
  await migrate(store, { retentionDays: config.retentionDays });
  return {
    store,
    where: server ? config.database : dataDir,
    async dispose() {
      if (server) await store.command(`DROP DATABASE IF EXISTS ${quoteIdentifier(config.database)}`).catch(() => undefined);
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
