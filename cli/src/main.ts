#!/usr/bin/env node
import { ConfigError, IntentwatchError, createLogger, loadConfig } from '@intentwatch/core';
import { parseArgs, usage } from './args.js';
import { startTelemetry } from './telemetry.js';

const log = createLogger('cli');

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.help) {
    process.stdout.write(usage());
    return;
  }
  // Telemetry first, and the roles loaded after it, so that its HTTP instrumentation sees them.
  const telemetry = await startTelemetry({ role: args.role, config: loadConfig() });
  const { start } = await import('./start.js');
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
    await telemetry?.shutdown();
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
