import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Redis } from 'ioredis';

/** The first executable called `name` on `PATH`, or undefined. */
export function onPath(name: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** `host:port` of a Redis URL: what may be printed of it (a URL can carry a password). */
export function whereOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '6379'}`;
  } catch {
    return 'an unparseable URL';
  }
}

/** Whether a Redis answers PING at `url` within `timeoutMs` (a refused or silent port does not). */
export async function answers(url: string, timeoutMs = 1500): Promise<boolean> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  redis.on('error', () => {
    // The outcome is the answer to PING; connection errors only mean "no".
  });
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

export interface PrivateRedis {
  url: string;
  pid: number;
  /** Stops the server (by its pid) and removes its directory. Safe to call twice. */
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Starts a redis-server of our own on a free loopback port: no persistence, its own temporary
 * directory. It is stopped by pid by `stop()`, when this process exits (vitest exits on Ctrl-C
 * and SIGTERM), and by a watchdog that ends it when this process dies any other way (SIGKILL).
 */
export async function startPrivateRedis(redisServer = 'redis-server'): Promise<PrivateRedis> {
  let lastError = '';
  // A free port may be taken between finding and binding it: try a few.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'iw-test-redis-'));
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'];
    const child = spawn(redisServer, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const collect = (c: Buffer) => {
      if (out.length < 16_384) out += c.toString();
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
    const url = `redis://127.0.0.1:${port}`;

    const deadline = Date.now() + 20_000;
    let up = false;
    while (!up && Date.now() < deadline && child.exitCode === null && child.signalCode === null) {
      const failed = await Promise.race([spawnError, new Promise<undefined>((r) => setTimeout(r, 50, undefined))]);
      if (failed) {
        rmSync(dir, { recursive: true, force: true });
        throw new Error(`could not run ${redisServer}: ${failed.message}`);
      }
      up = /Ready to accept connections/.test(out) && (await answers(url, 1000));
    }
    const pid = child.pid;
    if (up && pid !== undefined) return guard(child, pid, url, dir);

    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited(child);
    rmSync(dir, { recursive: true, force: true });
    lastError = out.trim().split('\n').slice(-3).join(' | ');
  }
  throw new Error(`redis-server did not start: ${lastError}`);
}

function guard(child: ChildProcess, pid: number, url: string, dir: string): PrivateRedis {
  // The watchdog reads its stdin, a pipe from this process: it sees end-of-file when this
  // process ends, however it ends, and then stops the server.
  const watchdog = spawn('sh', ['-c', 'read _ignored; kill -TERM "$0" 2>/dev/null', String(pid)], {
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  watchdog.on('error', () => {
    // Without sh the exit hook and stop() still stop the server.
  });
  watchdog.unref();
  (watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  child.unref();
  (child.stdout as unknown as { unref?: () => void } | null)?.unref?.();
  (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();

  const onExit = () => {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  };
  process.once('exit', onExit);

  let stopping: Promise<void> | undefined;
  return {
    url,
    pid,
    stop() {
      stopping ??= (async () => {
        process.off('exit', onExit);
        // First the watchdog, so that it cannot signal the pid once the server is gone.
        if (watchdog.pid !== undefined && watchdog.exitCode === null) {
          watchdog.kill('SIGKILL');
          await exited(watchdog);
        }
        if (child.exitCode === null && child.signalCode === null) {
          const gone = exited(child);
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
          await gone;
          clearTimeout(timer);
        }
        rmSync(dir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}
