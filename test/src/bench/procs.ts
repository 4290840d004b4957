import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { PrepareLogsMessage, PrepareMessage, RunMessage, RunStats, SenderCommand, SenderReply } from './sender.js';

/** Helpers that run the harness's own child processes (TypeScript through tsx). */

const HERE = fileURLToPath(new URL('.', import.meta.url));
export const TS_NODE_FLAGS = ['--conditions=source', '--import', 'tsx'];

/** Runs a store task in a fresh process and resolves with its JSON result (the last stdout line). */
export function runStoreTask<T>(task: object, cwd: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...TS_NODE_FLAGS, `${HERE}store-task.ts`, JSON.stringify(task)], {
      cwd,
      env: { ...process.env, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString('utf8');
    });
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString('utf8');
    });
    child.on('exit', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0) reject(new Error(`store task ${JSON.stringify(task).slice(0, 120)} failed (${code}): ${err.slice(-2000)}`));
      else resolve(JSON.parse(last) as T);
    });
  });
}

/** A load-generator process (sender.ts) driven over IPC. */
export class Sender {
  readonly #child: ChildProcess;
  #waiting: { resolve: (m: SenderReply) => void; reject: (e: Error) => void } | undefined;
  #failed: Error | undefined;

  constructor(cwd: string) {
    this.#child = spawn(process.execPath, [...TS_NODE_FLAGS, `${HERE}sender.ts`], {
      cwd,
      env: { ...process.env, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.#child.on('message', (m: SenderReply) => {
      const w = this.#waiting;
      this.#waiting = undefined;
      w?.resolve(m);
    });
    this.#child.on('exit', (code) => {
      this.#failed = new Error(`a sender exited with ${code}`);
      this.#waiting?.reject(this.#failed);
      this.#waiting = undefined;
    });
  }

  #ask(m: SenderCommand): Promise<SenderReply> {
    if (this.#failed) return Promise.reject(this.#failed);
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
      this.#child.send(m);
    });
  }

  async prepare(m: Omit<PrepareMessage, 'type'>): Promise<{ requests: number; spans: number; bytes: number }> {
    const r = await this.#ask({ type: 'prepare', ...m });
    if (r.type !== 'ready') throw new Error('unexpected sender reply');
    return r;
  }

  /**
   * Prepares requests of CloudTrail records for `/v1/logs` beside the spans (run them with
   * `pool: 'logs'`). One command at a time: await each before the next.
   */
  async prepareLogs(m: Omit<PrepareLogsMessage, 'type'>): Promise<{ requests: number; spans: number; bytes: number }> {
    const r = await this.#ask({ type: 'prepare-logs', ...m });
    if (r.type !== 'ready') throw new Error('unexpected sender reply');
    return r;
  }

  async run(m: Omit<RunMessage, 'type'>): Promise<RunStats> {
    const r = await this.#ask({ type: 'run', ...m });
    if (r.type !== 'done') throw new Error('unexpected sender reply');
    return r.stats;
  }

  get pid(): number {
    return this.#child.pid as number;
  }

  stop(): void {
    if (this.#child.connected) this.#child.send({ type: 'exit' });
    else this.#child.kill();
  }
}
