import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Collector } from '@intentwatch/collector';
import { Store, migrate } from '@intentwatch/core';
import { loadConfig } from '@intentwatch/cli';

/** The repository root, where child programs run. */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** A fresh temp data dir; removed by the returned function. */
export function tempDataDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'iw-e2e-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A migrated embedded store and a collector on an ephemeral loopback port. */
export async function startMonitor() {
  const data = tempDataDir();
  const config = loadConfig({ INTENTWATCH_DATA_DIR: data.dir, INTENTWATCH_BATCH_MS: '50' }, { dotenv: false });
  const store = await Store.open(config);
  await migrate(store, { retentionDays: config.retentionDays });
  const collector = new Collector(store, config);
  const port = await collector.listen(0, '127.0.0.1');
  return {
    store,
    url: `http://127.0.0.1:${port}`,
    async stop() {
      await collector.close();
      await store.close();
      data.remove();
    },
  };
}

/** Runs a TypeScript program of this repo the way child processes run it, and returns its stdout. */
export function runTs(file: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', file, ...args],
      { cwd: ROOT, env: { ...process.env, ...env }, timeout: 90_000 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${file} failed: ${error.message}\n${stderr}`));
        else resolve(stdout);
      },
    );
  });
}
