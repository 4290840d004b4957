import { type ChildProcess, spawn } from 'node:child_process';
import { ROOT } from '../support/monitor.js';

export interface Program {
  child: ChildProcess;
  /** stdout and stderr so far, interleaved as they arrived. */
  output(): string;
  /** stderr alone (the JSON log). */
  stderr(): string;
  /** Exit code, or the signal's name when a signal ended it. */
  exited: Promise<number | string | null>;
}

/** `intentwatch <role>` from the sources, as a child process, with `env` over the test's own. */
export function intentwatch(env: NodeJS.ProcessEnv, role = 'all'): Program {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', 'cli/src/main.ts', role], {
    cwd: ROOT,
    env: { ...process.env, HOST: '127.0.0.1', OTLP_PORT: '0', API_PORT: '0', HEALTH_PORT: '0', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    out += c.toString();
    err += c.toString();
  });
  const exited = new Promise<number | string | null>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal)));
  return { child, output: () => out, stderr: () => err, exited };
}

/** Resolves with the match once `pattern` appears in the output; fails when the program exits first or time runs out. */
export async function waitFor(program: Program, pattern: RegExp, timeoutMs = 60_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const m = pattern.exec(program.output());
    if (m) return m;
    if (program.child.exitCode !== null) throw new Error(`exited ${program.child.exitCode} before ${pattern}:\n${program.output()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no ${pattern} within ${timeoutMs} ms:\n${program.output()}`);
}

/** The ports `intentwatch all` printed. */
export async function listeningPorts(program: Program): Promise<{ otlp: number; api: number }> {
  const otlp = Number((await waitFor(program, /collector\s+http:\/\/127\.0\.0\.1:(\d+)\/v1\/traces/))[1]);
  const api = Number((await waitFor(program, /api\s+http:\/\/127\.0\.0\.1:(\d+)\//))[1]);
  return { otlp, api };
}
