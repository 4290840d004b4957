import { pino, type Logger } from 'pino';
import { redactUrlPasswords } from './redact-url.js';

export type { Logger } from 'pino';

let root: Logger | undefined;

/**
 * The process-wide structured logger (JSON lines on stderr). `LOG_LEVEL` picks the level
 * (default `info`; tests default to `warn` to keep their output readable).
 */
export function rootLogger(): Logger {
  root ??= pino(
    {
      level: process.env.LOG_LEVEL ?? (process.env.VITEST ? 'warn' : 'info'),
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      // Belt and braces: these keys never leave the process even if a caller logs them.
      redact: {
        paths: ['authorization', '*.authorization', 'headers.authorization', 'key', '*.key', 'secret', '*.secret'],
        censor: '[redacted]',
      },
      // Whatever a line carries (an error from a client library, a URL from the configuration),
      // no URL password is written: `redis://:***@cache:6379`.
      hooks: { streamWrite: redactUrlPasswords },
    },
    pino.destination({ fd: 2, sync: false }),
  );
  return root;
}

/** One logger per component, e.g. `createLogger('collector.otlp')`. */
export function createLogger(component: string): Logger {
  return rootLogger().child({ component });
}
