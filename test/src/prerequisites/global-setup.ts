import { findChromium } from './chromium.js';
import { type PrivateRedis, answers, onPath, startPrivateRedis, whereOf } from './redis.js';

/**
 * What the test suite needs beyond `npm ci`, provisioned once per vitest run (vitest.config.ts
 * names this file as its globalSetup) and handed to the test processes as environment variables:
 *
 * - `INTENTWATCH_TEST_REDIS_URL`: a Redis the tests may use (random key prefixes, no flush):
 *   `REDIS_URL` when set, else the Redis at `INTENTWATCH_TEST_REDIS_PROBE` (default
 *   `redis://127.0.0.1:6379`; `none` to not look) when it answers, else a private redis-server
 *   started here on a free loopback port and stopped by pid at the end.
 * - `INTENTWATCH_TEST_REDIS_SERVER`: the redis-server binary, for tests that stop and start a
 *   Redis of their own.
 * - `INTENTWATCH_TEST_CHROMIUM`: the browser the UI tests drive (see chromium.ts).
 *
 * Each is unset when it is missing: the run says so once, at the start, one line per missing
 * thing with the command that installs it; the tests that need it are skipped, except on CI
 * (`CI=true`), where a missing prerequisite fails the run.
 */
export const PROVIDED = ['INTENTWATCH_TEST_REDIS_URL', 'INTENTWATCH_TEST_REDIS_SERVER', 'INTENTWATCH_TEST_CHROMIUM'] as const;

export interface Provisioned {
  /** The variables to hand to the test processes (absent = missing). */
  provided: Partial<Record<(typeof PROVIDED)[number], string>>;
  /** One line per missing prerequisite, with what to do about it. */
  missing: string[];
  /** What the run uses, in one line. */
  using: string;
  /** The pid of the redis-server started here, if one was. */
  privateRedisPid?: number;
  /** Stops what was started here. */
  teardown(): Promise<void>;
}

export interface ProvisionOptions {
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
  /** The system locations to look for Chromium in (default: the platform's usual ones). */
  chromiumSystem?: string[];
}

const DEFAULT_PROBE = 'redis://127.0.0.1:6379';

function install(what: 'redis' | 'chromium', platform: NodeJS.Platform): string {
  if (platform === 'darwin') return `brew install ${what}`;
  return `apt-get install -y ${what === 'redis' ? 'redis-server' : 'chromium'}`;
}

function onCi(env: NodeJS.ProcessEnv): boolean {
  const ci = env.CI?.trim().toLowerCase();
  return ci !== undefined && ci !== '' && ci !== '0' && ci !== 'false';
}

/** Looks for each prerequisite and starts a private redis-server when the tests have no Redis. */
export async function provision(options: ProvisionOptions = {}): Promise<Provisioned> {
  const env = options.env ?? process.env;
  const platform = options.platform ?? process.platform;
  const provided: Provisioned['provided'] = {};
  const missing: string[] = [];
  const using: string[] = [];
  let started: PrivateRedis | undefined;

  const redisServer = onPath('redis-server', env.PATH ?? '');
  if (redisServer) provided.INTENTWATCH_TEST_REDIS_SERVER = redisServer;

  const explicit = env.REDIS_URL?.trim();
  const probe = env.INTENTWATCH_TEST_REDIS_PROBE?.trim() || DEFAULT_PROBE;
  let startOwn = false;
  if (explicit) {
    if (await answers(explicit)) {
      provided.INTENTWATCH_TEST_REDIS_URL = explicit;
      using.push(`Redis at ${whereOf(explicit)} (REDIS_URL)`);
    } else {
      missing.push(
        `Redis: REDIS_URL (${whereOf(explicit)}) does not answer — start that Redis, or unset REDIS_URL to let the tests start their own`,
      );
    }
  } else if (probe !== 'none' && (await answers(probe))) {
    provided.INTENTWATCH_TEST_REDIS_URL = probe;
    using.push(`Redis at ${whereOf(probe)}`);
  } else {
    startOwn = true;
  }
  if (!redisServer) {
    const why = startOwn
      ? probe === 'none'
        ? 'needed for the Redis tests'
        : `and no Redis answers at ${whereOf(probe)}: needed for the Redis tests`
      : 'needed by the tests that restart a Redis of their own';
    missing.push(`redis-server: not on PATH (${why}) — ${install('redis', platform)}`);
  }

  const chromium = findChromium({ env, platform, system: options.chromiumSystem });
  if (chromium.path) {
    provided.INTENTWATCH_TEST_CHROMIUM = chromium.path;
    using.push(`Chromium ${chromium.path}`);
  } else {
    const fix = env.CHROMIUM_PATH?.trim() ? 'correct or unset CHROMIUM_PATH' : install('chromium', platform);
    missing.push(`Chromium: ${chromium.problem} — ${fix}`);
  }

  // On CI nothing is started when the run is going to fail anyway.
  if (startOwn && redisServer && !(onCi(env) && missing.length > 0)) {
    try {
      started = await startPrivateRedis(redisServer);
      provided.INTENTWATCH_TEST_REDIS_URL = started.url;
      using.unshift(`a private redis-server (pid ${started.pid}) on ${started.url}`);
    } catch (e) {
      missing.push(`Redis: ${(e as Error).message}`);
    }
  }

  return {
    provided,
    missing,
    using: using.join('; '),
    privateRedisPid: started?.pid,
    async teardown() {
      if (!started) return;
      await started.stop();
      console.log(`intentwatch tests: stopped the private redis-server (pid ${started.pid})`);
    },
  };
}

/** vitest globalSetup: provision, say once what is missing, fail on CI, stop the private Redis at the end. */
export default async function setup(): Promise<() => Promise<void>> {
  const p = await provision();
  for (const name of PROVIDED) {
    const value = p.provided[name];
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  if (p.using) console.log(`intentwatch tests use: ${p.using}`);
  if (p.missing.length > 0) {
    const ci = onCi(process.env);
    const header = ci
      ? 'intentwatch tests: missing prerequisites (CI=true: the run fails):'
      : 'intentwatch tests: missing prerequisites (the tests that need them are skipped; on CI the run fails):';
    console.warn([header, ...p.missing.map((m) => `  - ${m}`)].join('\n'));
    if (ci) {
      await p.teardown();
      console.error(`intentwatch tests: ${p.missing.length} prerequisite(s) missing on CI: no test was run`);
      process.exit(1);
    }
  }
  return async () => {
    await p.teardown();
  };
}
