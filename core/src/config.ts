import path from 'node:path';
import { z } from 'zod';
import { ConfigError } from './errors.js';
import { bool, defineSettings, optionalString, port, positiveInt, type SettingsOf, url } from './settings.js';

/**
 * The settings every role shares: where the store and data live and how long rows are kept, the address the roles bind to
 * and the API is reached at, Redis, request size, host names and telemetry. Each workspace
 * declares its own next to it (collector/, detectors/, responders/, api/ `src/settings.ts`);
 * `cli` composes them (cli/src/config.ts), and README's Configuration table is held to that by a test.
 */
export const coreVariables = z.object({
  /** Address every port binds to. @default 127.0.0.1 */
  HOST: z.string().trim().min(1).default('127.0.0.1'),
  /** Port of the REST API and web UI (responders derive the API's own address from it). @default 8080 */
  API_PORT: port(8080),
  /** Where the embedded store and the generated API key live. @default ./.intentwatch */
  INTENTWATCH_DATA_DIR: z.string().trim().min(1).default('./.intentwatch'),
  /** A ClickHouse server instead of the embedded store. @default unset */
  CLICKHOUSE_URL: url(['http:', 'https:']),
  /** @default unset */
  CLICKHOUSE_USER: optionalString,
  /** @default unset */
  CLICKHOUSE_PASSWORD: optionalString,
  /** Database the tables live in. @default default */
  CLICKHOUSE_DATABASE: z
    .string()
    .trim()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a database name of letters, digits and underscores')
    .optional(),
  /** A cluster in the server's remote_servers (needs CLICKHOUSE_URL). @default unset */
  CLICKHOUSE_CLUSTER: z
    .string()
    .trim()
    .regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, 'a cluster name as configured in remote_servers')
    .optional(),
  /**
   * The embedded store's caches in all, in MiB: marks, primary index, skip-index marks, query
   * conditions and compiled expressions (see {@link engineArgs}). @default 256
   */
  INTENTWATCH_ENGINE_CACHE_MB: positiveInt(256, 16),
  /** The embedded store's memory limit in MiB (queries and merges past it fail and are retried). @default unset: 90 % of RAM */
  INTENTWATCH_ENGINE_MEMORY_MB: z.coerce.number({ error: 'a whole number' }).int('a whole number').min(256, 'at least 256').optional(),
  /** Redis for the detector and responder queues. @default unset */
  REDIS_URL: url(['redis:', 'rediss:']),
  /** Days the tables keep rows (the TTL migrations give them). @default 30 */
  INTENTWATCH_RETENTION_DAYS: positiveInt(30),
  /** Largest request body the collector and the API read. @default 16 MiB (16777216) */
  INTENTWATCH_MAX_BODY_BYTES: positiveInt(16 * 1024 * 1024, 1024),
  /** Allow exporting our own telemetry into this process's own collector port. @default false */
  INTENTWATCH_SELF_TELEMETRY: bool(false),
  /** Host names besides the loopback's that ports bound to a loopback address answer. @default unset */
  INTENTWATCH_ALLOWED_HOSTS: optionalString.transform((v, ctx): string[] => {
    const names = (v ?? '')
      .split(',')
      .map((s) => s.trim().toLowerCase().replace(/\.$/, ''))
      .filter(Boolean);
    if (names.some((n) => !/^[a-z0-9.-]{1,253}$/.test(n) && !/^\[[0-9a-f:.]{2,45}\]$/.test(n))) {
      ctx.addIssue({
        code: 'custom',
        message: 'comma-separated host names (monitor.corp.example) or bracketed IPv6 addresses, without ports',
      });
      return z.NEVER;
    }
    return names;
  }),
  /** Where people and receivers reach the API and web UI. @default http://<HOST>:<API_PORT> */
  INTENTWATCH_PUBLIC_URL: url(['https:', 'http:']),
});

/** The API's own address, as a client on this machine reaches it. */
export function defaultApiUrl(host: string, port: number): string {
  const h = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `http://${h.includes(':') ? `[${h}]` : h}:${port}`;
}

export const coreSettings = defineSettings(coreVariables, (e) => {
  const database = e.CLICKHOUSE_DATABASE ?? 'default';
  if (e.CLICKHOUSE_CLUSTER && !e.CLICKHOUSE_URL) {
    throw new ConfigError('CLICKHOUSE_CLUSTER: expected together with CLICKHOUSE_URL (a cluster needs a ClickHouse server)');
  }
  const clickhouse = e.CLICKHOUSE_URL
    ? {
        url: e.CLICKHOUSE_URL,
        database,
        ...(e.CLICKHOUSE_USER ? { user: e.CLICKHOUSE_USER } : {}),
        ...(e.CLICKHOUSE_PASSWORD ? { password: e.CLICKHOUSE_PASSWORD } : {}),
        ...(e.CLICKHOUSE_CLUSTER ? { cluster: e.CLICKHOUSE_CLUSTER } : {}),
      }
    : undefined;
  return {
    host: e.HOST,
    apiPort: e.API_PORT,
    /**
     * `INTENTWATCH_PUBLIC_URL` without a trailing slash: where people and receivers reach the API and
     * web UI (links in chat messages; the default Shared Signals issuer). Default `http://<HOST>:<API_PORT>`.
     */
    publicUrl: (e.INTENTWATCH_PUBLIC_URL ?? defaultApiUrl(e.HOST, e.API_PORT)).replace(/\/+$/, ''),
    /** Absolute path of the data dir: the embedded store and the generated API key live here. */
    dataDir: path.resolve(e.INTENTWATCH_DATA_DIR),
    /** Database the tables live in (`default` unless `CLICKHOUSE_DATABASE` says otherwise). */
    database,
    ...(clickhouse ? { clickhouse } : {}),
    ...(e.REDIS_URL ? { redisUrl: e.REDIS_URL } : {}),
    /** Bounds of the embedded engine's memory (ignored with a ClickHouse server, whose own configuration sets them). */
    engine: {
      cacheMb: e.INTENTWATCH_ENGINE_CACHE_MB,
      ...(e.INTENTWATCH_ENGINE_MEMORY_MB !== undefined ? { memoryMb: e.INTENTWATCH_ENGINE_MEMORY_MB } : {}),
    },
    /** Days the tables keep rows (`migrate` sets their TTL from it). */
    retentionDays: e.INTENTWATCH_RETENTION_DAYS,
    maxBodyBytes: e.INTENTWATCH_MAX_BODY_BYTES,
    /** Allow exporting our own telemetry into this process's own collector port. */
    selfTelemetry: e.INTENTWATCH_SELF_TELEMETRY,
    /**
     * Host names besides the loopback's that the ports answer when bound to a loopback address
     * (`INTENTWATCH_ALLOWED_HOSTS`): the public name a reverse proxy on the same machine forwards.
     */
    allowedHosts: e.INTENTWATCH_ALLOWED_HOSTS,
  };
});

/** The settings every role shares (see {@link coreVariables}). */
export type CoreSettings = SettingsOf<typeof coreSettings>;
