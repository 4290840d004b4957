import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TS_NODE_FLAGS } from './procs.js';
import type { FleetSpec, RawInsertRun } from './store-task.js';

const STORE_TASK = fileURLToPath(new URL('./store-task.ts', import.meta.url));

/**
 * The raw-insert process (store-task.ts --serve): its own data dir, the same rows as a sender,
 * inserted on request so that its rounds can alternate with the collector's under the same
 * machine load.
 */
export class RawInserter {
  readonly #child: ChildProcess;
  #waiting: { resolve: (m: { type: string; run?: RawInsertRun; rows?: number }) => void; reject: (e: Error) => void } | undefined;

  constructor(cwd: string) {
    this.#child = spawn(process.execPath, [...TS_NODE_FLAGS, STORE_TASK, '--serve'], {
      cwd,
      env: { ...process.env, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.#child.on('message', (m: { type: string; run?: RawInsertRun; rows?: number }) => {
      const w = this.#waiting;
      this.#waiting = undefined;
      w?.resolve(m);
    });
    this.#child.on('exit', (code) => {
      this.#waiting?.reject(new Error(`the raw-insert process exited with ${code}`));
      this.#waiting = undefined;
    });
  }

  get pid(): number {
    return this.#child.pid as number;
  }

  #ask(m: object): Promise<{ type: string; run?: RawInsertRun; rows?: number }> {
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
      this.#child.send(m);
    });
  }

  async prepare(spec: FleetSpec): Promise<number> {
    return (await this.#ask({ type: 'prepare', spec })).rows ?? 0;
  }

  async run(durationMs: number, batchRows: number): Promise<RawInsertRun> {
    const r = await this.#ask({ type: 'run', durationMs, batchRows });
    if (!r.run) throw new Error('unexpected raw-insert reply');
    return r.run;
  }

  stop(): void {
    if (this.#child.connected) this.#child.send({ type: 'exit' });
  }
}
