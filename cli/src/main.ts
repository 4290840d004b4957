#!/usr/bin/env node
import { ConfigError, IntentwatchError, createLogger } from '@intentwatch/core';
import { parseArgs, usage } from './args.js';
import { start } from './start.js';

const log = createLogger('cli');

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.help) {
    process.stdout.write(usage());
    return;
  }
  const running = await start(args);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'draining and stopping');
    const timer = setTimeout(() => {
      log.error('did not stop within 30 s; exiting');
      process.exit(1);
    }, 30_000);
    timer.unref();
    await running.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((e: unknown) => {
  if (e instanceof ConfigError || e instanceof IntentwatchError) {
    process.stderr.write(`intentwatch: ${e.message}\n`);
  } else {
    process.stderr.write(`intentwatch: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  }
  process.exit(1);
});
