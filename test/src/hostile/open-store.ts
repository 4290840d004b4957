/**
 * Opens the embedded store in the data dir given, prints "opened", and closes it: proof that no
 * other process still holds the data dir.
 *
 *   node --conditions=source --import tsx open-store.ts <data dir>
 */
import { Store } from '@intentwatch/core';
import { loadConfig } from '@intentwatch/cli';

const store = await Store.open(loadConfig({ INTENTWATCH_DATA_DIR: process.argv[2] }, { dotenv: false }));
process.stdout.write(`${(await store.ping()) ? 'opened' : 'not answering'}\n`);
await store.close();
