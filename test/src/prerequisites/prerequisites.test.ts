import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { until } from '../hostile/support.js';
import { chromiumCandidates, findChromium } from './chromium.js';
import { provision } from './global-setup.js';
import { answers, startPrivateRedis } from './redis.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const REDIS_SERVER = process.env.INTENTWATCH_TEST_REDIS_SERVER ?? '';
const temp: string[] = [];
afterAll(() => {
  for (const dir of temp) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'iw-prereq-'));
  temp.push(dir);
  return dir;
}

/** A fake browser: an executable file at `path`. */
function executableAt(path: string): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, '#!/bin/sh\n');
  chmodSync(path, 0o755);
  return path;
}

/** Whether `pid` is a running process (an exited one waiting to be reaped is not). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

/** A loopback URL where nothing listens (a port that was free a moment ago). */
async function deadRedisUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `redis://127.0.0.1:${port}`;
}

describe('finding Chromium', () => {
  it('uses CHROMIUM_PATH when it names an executable, and says so when it does not instead of looking elsewhere', () => {
    const browser = executableAt(join(tempDir(), 'my-chromium'));
    expect(findChromium({ env: { CHROMIUM_PATH: browser }, system: [] })).toEqual({ path: browser });
    const wrong = findChromium({ env: { CHROMIUM_PATH: '/nonexistent/chromium' }, system: [executableAt(join(tempDir(), 'chromium'))] });
    expect(wrong.path).toBeUndefined();
    expect(wrong.problem).toBe('CHROMIUM_PATH=/nonexistent/chromium is not an executable file');
  });

  it("prefers the system's Chromium, then the newest in playwright's cache, on Linux and macOS", () => {
    const cache = tempDir();
    const older = executableAt(join(cache, 'chromium-1200', 'chrome-linux', 'chrome'));
    const newer = executableAt(join(cache, 'chromium-1255', 'chrome-linux64', 'chrome'));
    executableAt(join(cache, 'chromium_headless_shell-1300', 'chrome-linux', 'headless_shell'));
    const env = { PLAYWRIGHT_BROWSERS_PATH: cache };
    expect(findChromium({ env, platform: 'linux', system: [] }).path).toBe(newer);
    rmSync(newer);
    expect(findChromium({ env, platform: 'linux', system: [] }).path).toBe(older);
    const system = executableAt(join(tempDir(), 'usr', 'bin', 'chromium'));
    expect(findChromium({ env, platform: 'linux', system: ['/nonexistent/chromium', system] }).path).toBe(system);

    const home = tempDir();
    const mac = executableAt(
      join(
        home,
        'Library',
        'Caches',
        'ms-playwright',
        'chromium-1255',
        'chrome-mac-arm64',
        'Google Chrome for Testing.app',
        'Contents',
        'MacOS',
        'Google Chrome for Testing',
      ),
    );
    expect(findChromium({ env: {}, platform: 'darwin', home, system: [] }).path).toBe(mac);
    expect(chromiumCandidates({ env: {}, platform: 'darwin', home })).toContain('/Applications/Chromium.app/Contents/MacOS/Chromium');
    expect(chromiumCandidates({ env: {}, platform: 'linux', home })).toEqual(
      expect.arrayContaining(['/usr/bin/chromium', '/usr/bin/chromium-browser', '/snap/bin/chromium']),
    );
  });

  it('says where it looked when there is no Chromium anywhere', () => {
    const home = tempDir();
    const found = findChromium({ env: {}, platform: 'linux', home, system: ['/nonexistent/chromium'] });
    expect(found.path).toBeUndefined();
    expect(found.problem).toBe(
      `no Chromium found (CHROMIUM_PATH unset; looked in /nonexistent/chromium, ${join(home, '.cache', 'ms-playwright')})`,
    );
  });
});

describe.skipIf(!REDIS_SERVER)('a private redis-server', () => {
  it('serves on a free loopback port and is gone, process and directory, once stopped', async () => {
    const redis = await startPrivateRedis(REDIS_SERVER);
    expect(redis.url).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
    const client = new Redis(redis.url);
    await client.set('iwtest-private:key', 'value');
    expect(await client.get('iwtest-private:key')).toBe('value');
    expect(await client.config('GET', 'save')).toEqual(['save', '']);
    const [, dir] = (await client.config('GET', 'dir')) as [string, string];
    client.disconnect();

    await redis.stop();
    expect(alive(redis.pid)).toBe(false);
    expect(existsSync(dir)).toBe(false);
    expect(await answers(redis.url, 500)).toBe(false);
  });

  for (const signal of ['SIGINT', 'SIGTERM', 'SIGKILL'] as const) {
    it(`does not outlive the process that started it when that process gets ${signal}`, async () => {
      const holder = spawn(
        process.execPath,
        ['--import', 'tsx', fileURLToPath(new URL('./hold-private-redis.ts', import.meta.url)), REDIS_SERVER],
        {
          cwd: ROOT,
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      let out = '';
      holder.stdout.on('data', (c: Buffer) => {
        out += c.toString();
      });
      await until('the private redis-server to start', () => out.includes('\n') || holder.exitCode !== null);
      const { pid, url } = JSON.parse(out) as { pid: number; url: string };
      expect(await answers(url)).toBe(true);

      holder.kill(signal);
      await until(`redis-server ${pid} to stop after ${signal} to its starter`, () => !alive(pid));
      expect(await answers(url, 500)).toBe(false);
    });
  }
});

describe.skipIf(!REDIS_SERVER)('provisioning Redis for the tests', () => {
  it('uses a Redis that answers at the probed address and starts none', async () => {
    const shared = await startPrivateRedis(REDIS_SERVER);
    try {
      const p = await provision({ env: { PATH: process.env.PATH, INTENTWATCH_TEST_REDIS_PROBE: shared.url } });
      expect(p.provided.INTENTWATCH_TEST_REDIS_URL).toBe(shared.url);
      expect(p.privateRedisPid).toBeUndefined();
      await p.teardown();
      expect(await answers(shared.url)).toBe(true);
    } finally {
      await shared.stop();
    }
  });

  it('starts a private redis-server when REDIS_URL is unset and none answers, and stops it by pid at teardown', async () => {
    const dead = await deadRedisUrl();
    const p = await provision({ env: { PATH: process.env.PATH, INTENTWATCH_TEST_REDIS_PROBE: dead } });
    const url = p.provided.INTENTWATCH_TEST_REDIS_URL ?? '';
    expect(url).not.toBe(dead);
    expect(p.using).toContain(`a private redis-server (pid ${p.privateRedisPid}) on ${url}`);
    expect(await answers(url)).toBe(true);
    await p.teardown();
    expect(alive(p.privateRedisPid ?? 0)).toBe(false);
  });

  it('reports a REDIS_URL that does not answer, without its password, rather than using another Redis', async () => {
    const dead = (await deadRedisUrl()).replace('redis://', 'redis://:hunter2secret@');
    const p = await provision({ env: { PATH: process.env.PATH, REDIS_URL: dead } });
    expect(p.provided.INTENTWATCH_TEST_REDIS_URL).toBeUndefined();
    expect(p.privateRedisPid).toBeUndefined();
    const line = p.missing.find((m) => m.startsWith('Redis:'));
    expect(line).toMatch(/^Redis: REDIS_URL \(127\.0\.0\.1:\d+\) does not answer — /);
    expect(p.missing.join('\n')).not.toContain('hunter2secret');
  });
});

describe('saying what is missing', () => {
  it('names each missing prerequisite on one line with the command that installs it, for Debian and macOS', async () => {
    const nothing = tempDir();
    const env = { PATH: nothing, PLAYWRIGHT_BROWSERS_PATH: nothing, INTENTWATCH_TEST_REDIS_PROBE: await deadRedisUrl() };
    const debian = await provision({ env, platform: 'linux', chromiumSystem: [] });
    expect(debian.provided).toEqual({});
    expect(debian.missing).toEqual([
      expect.stringMatching(
        /^redis-server: not on PATH \(and no Redis answers at 127\.0\.0\.1:\d+: needed for the Redis tests\) — apt-get install -y redis-server$/,
      ),
      expect.stringMatching(/^Chromium: no Chromium found .* — apt-get install -y chromium$/),
    ]);
    const mac = await provision({ env, platform: 'darwin', chromiumSystem: [] });
    expect(mac.missing).toEqual([expect.stringMatching(/ — brew install redis$/), expect.stringMatching(/ — brew install chromium$/)]);
  });
});

/** Runs vitest on `file` as a user would, with `env` added; returns its exit code and plain output. */
async function vitest(file: string, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && !k.startsWith('INTENTWATCH_TEST_')),
  );
  const child = spawn(process.execPath, [join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', file], {
    cwd: ROOT,
    env: { ...clean, NO_COLOR: '1', CI: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => {
    output += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    output += c.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  // biome-ignore lint/suspicious/noControlCharactersInRegex: strips terminal colours
  return { code, output: output.replace(/\u001b\[[0-9;]*m/g, '') };
}

// Each test is a whole vitest run (its start-up and the collection of the browser test file).
describe('a run without Chromium', { timeout: 240_000 }, () => {
  const browserTest = 'api/src/web-ui.browser.test.ts';
  const missingChromium = 'Chromium: CHROMIUM_PATH=/nonexistent/chromium is not an executable file — correct or unset CHROMIUM_PATH';

  it('skips the browser tests locally and says why once, with no stack trace', async () => {
    const run = await vitest(browserTest, { CHROMIUM_PATH: '/nonexistent/chromium' });
    expect(run.code).toBe(0);
    expect(run.output.split(missingChromium).length - 1).toBe(1);
    expect(run.output).toMatch(/Tests\s+\d+ skipped/);
    expect(run.output).not.toMatch(/\n\s+at /);
  });

  it('fails on CI, naming what is missing', async () => {
    const run = await vitest(browserTest, { CHROMIUM_PATH: '/nonexistent/chromium', CI: 'true' });
    expect(run.code).not.toBe(0);
    expect(run.output).toContain('missing prerequisites (CI=true: the run fails)');
    expect(run.output).toContain('1 prerequisite(s) missing on CI: no test was run');
    expect(run.output.split(missingChromium).length - 1).toBe(1);
    expect(run.output).not.toMatch(/✓/);
  });
});
