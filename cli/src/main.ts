#!/usr/bin/env node
import { ConfigError, IntentwatchError, createLogger, redactUrlPasswords } from '@intentwatch/core';
import { parseArgs, usage } from './args.js';
import { loadConfig } from './config.js';
import type { Running } from './start.js';
import { startTelemetry } from './telemetry.js';

const log = createLogger('cli');

async function main(): Promise<void> {
  if (process.argv[2] === 'import') {
    // A client of a running collector: no store, no roles, no telemetry.
    const { importCommand } = await import('./import-logs.js');
    process.exitCode = await importCommand(process.argv.slice(3));
    return;
  }
  const args = parseArgs(process.argv.slice(2));
  if (args.help) {
    process.stdout.write(usage());
    return;
  }
  // Telemetry first, and the roles loaded after it, so that its HTTP instrumentation sees them.
  // Signals are taken from the first moment: one that arrives while the store opens or migrates
  // is acted on once start-up has finished, so the data dir and ports are released cleanly.
  let signalled: string | undefined;
  let running: Running | undefined;
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
    await running?.stop();
    await telemetry?.shutdown();
    process.exit(0);
  };
  const onSignal = (signal: string) => {
    signalled ??= signal;
    if (running) void stop(signal);
    else log.info({ signal }, 'will stop once start-up has finished');
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  const telemetry = await startTelemetry({ role: args.role, config: loadConfig() });
  const { start } = await import('./start.js');
  running = await start(args);
  if (signalled) await stop(signalled);
}

main().catch((e: unknown) => {
  if (e instanceof ConfigError || e instanceof IntentwatchError) {
    process.stderr.write(`intentwatch: ${redactUrlPasswords(e.message)}\n`);
  } else {
    process.stderr.write(`intentwatch: ${redactUrlPasswords(e instanceof Error ? (e.stack ?? e.message) : String(e))}\n`);
  }
  process.exit(1);
});
