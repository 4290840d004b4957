import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, tempDataDir } from '../support/monitor.js';

const data = tempDataDir();
const children: ChildProcess[] = [];

afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  data.remove();
});

interface Program {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

/** `intentwatch all` as `npm start` runs it, but from the sources and on ephemeral ports. */
function intentwatch(extraEnv: NodeJS.ProcessEnv = {}): Program {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', 'cli/src/main.ts', 'all'], {
    cwd: ROOT,
    env: {
      ...process.env,
      INTENTWATCH_DATA_DIR: data.dir,
      HOST: '127.0.0.1',
      OTLP_PORT: '0',
      API_PORT: '0',
      LOG_LEVEL: 'warn',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

/** Resolves with the output once `pattern` appears in it; fails when the program exits first or time runs out. */
async function waitFor(program: Program, pattern: RegExp, timeoutMs = 60_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const m = pattern.exec(program.output());
    if (m) return m;
    if (program.child.exitCode !== null) throw new Error(`exited ${program.child.exitCode} before ${pattern}:\n${program.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no ${pattern} within ${timeoutMs} ms:\n${program.output()}`);
}

describe('npm start (intentwatch all)', () => {
  it('starts, prints where it listens and its generated key, serves health, guards /metrics, and stops on SIGTERM with 0', async () => {
    const program = intentwatch();
    const otlpPort = Number((await waitFor(program, /collector\s+http:\/\/127\.0\.0\.1:(\d+)\/v1\/traces/))[1]);
    const apiPort = Number((await waitFor(program, /api\s+http:\/\/127\.0\.0\.1:(\d+)\//))[1]);
    const key = (await waitFor(program, /API key\s+(\S+)/))[1] as string;
    expect(program.output()).toContain(`embedded store in ${data.dir}`);

    expect((await fetch(`http://127.0.0.1:${otlpPort}/healthz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${apiPort}/healthz`)).status).toBe(200);
    const ready = await fetch(`http://127.0.0.1:${apiPort}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready' });

    expect((await fetch(`http://127.0.0.1:${apiPort}/metrics`)).status).toBe(401);
    const wrongKey = await fetch(`http://127.0.0.1:${apiPort}/metrics`, { headers: { authorization: 'Bearer iw_not-the-key' } });
    expect(wrongKey.status).toBe(401);
    const metrics = await fetch(`http://127.0.0.1:${apiPort}/metrics`, { headers: { authorization: `Bearer ${key}` } });
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('intentwatch_');

    const span = await fetch(`http://127.0.0.1:${otlpPort}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ resourceSpans: [] }),
    });
    expect(span.status).toBe(200);

    // A second process cannot take the same data dir, and says why.
    const second = intentwatch();
    expect(await second.exited).toBe(1);
    expect(second.output()).toMatch(/another process, pid \d+, holds this data dir/);

    program.child.kill('SIGTERM');
    expect(await program.exited).toBe(0);
  });

  it('refuses a bad configuration with a message naming the variable', async () => {
    const program = intentwatch({ OTLP_PORT: 'four' });
    expect(await program.exited).toBe(1);
    expect(program.output()).toMatch(/intentwatch: invalid configuration: OTLP_PORT: expected/);
  });
});
