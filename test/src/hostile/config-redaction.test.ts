import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { intentwatch } from './program.js';
import { ROOT, tempDataDir } from '../support/monitor.js';

const PASSWORD = 'pw-Zq81-never-printed';

/** `intentwatch all` with `env`, run until it exits; its whole output. */
async function failedStart(env: NodeJS.ProcessEnv): Promise<{ code: number | string | null; output: string }> {
  const data = tempDataDir();
  try {
    const program = intentwatch({ INTENTWATCH_DATA_DIR: data.dir, LOG_LEVEL: 'debug', ...env });
    const code = await program.exited;
    return { code, output: program.output() };
  } finally {
    data.remove();
  }
}

describe('a URL with a password in the configuration', () => {
  it('is refused naming the variable, without echoing the password, when REDIS_URL is malformed', async () => {
    const { code, output } = await failedStart({ REDIS_URL: `redis://:${PASSWORD}@cache.internal:notaport/0` });
    expect(code).toBe(1);
    expect(output).toContain('REDIS_URL');
    expect(output).toContain('redis://:***@cache.internal:notaport/0');
    expect(output).not.toContain(PASSWORD);
  });

  it('is refused naming the variable, without echoing the password, when CLICKHOUSE_URL is malformed', async () => {
    const { code, output } = await failedStart({ CLICKHOUSE_URL: `ftp://intentwatch:${PASSWORD}@clickhouse:8123` });
    expect(code).toBe(1);
    expect(output).toContain('CLICKHOUSE_URL');
    expect(output).not.toContain(PASSWORD);
  });

  it('is not printed when the ClickHouse server it names cannot be reached', async () => {
    const { code, output } = await failedStart({ CLICKHOUSE_URL: `http://intentwatch:${PASSWORD}@127.0.0.1:1`, HEALTH_PORT: '0' });
    expect(code).toBe(1);
    expect(output).toMatch(/cannot reach ClickHouse/);
    expect(output).not.toContain(PASSWORD);
  });
});

describe('a log line', () => {
  it('never carries a URL password, in its message or its fields', async () => {
    // The logger of a real process, writing to its real stderr.
    const script = `import { createLogger } from '@intentwatch/core';
      createLogger('test.redaction').warn({ url: 'redis://app:${PASSWORD}@cache:6379' }, 'cannot connect to http://u:${PASSWORD}@clickhouse:8123/');`;
    const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: ROOT,
      env: { ...process.env, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    await new Promise((resolve) => child.on('exit', resolve));
    const line = JSON.parse(stderr.trim().split('\n').at(-1) ?? '{}') as { msg?: string; url?: string };
    expect(line.msg).toBe('cannot connect to http://u:***@clickhouse:8123/');
    expect(line.url).toBe('redis://app:***@cache:6379');
    expect(stderr).not.toContain(PASSWORD);
  });
});
