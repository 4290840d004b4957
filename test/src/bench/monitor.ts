import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * Runs the monitor under test as its own process (`intentwatch all`, the built CLI by default)
 * on a fresh data dir and free ports, and reads what the harness needs from outside: its RSS
 * from /proc, its Prometheus metrics and its alerts over the API.
 */

export interface MonitorOptions {
  root: string;
  dataDir: string;
  /** Run the TypeScript sources through tsx instead of the build in cli/dist. */
  fromSource: boolean;
  env?: Record<string, string>;
  /** Extra node flags, e.g. --cpu-prof. */
  nodeFlags?: string[];
  /** Where the monitor's stdout/stderr go (default: dropped, except the last lines kept for errors). */
  onOutput?: (line: string) => void;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Resident set size of a process in MB, from /proc (Linux). */
export function rssMb(pid: number): number | undefined {
  return rssParts(pid)?.total;
}

/**
 * Resident set size of a process in MB, and its parts: `anon` (heaps: JavaScript, malloc, the
 * engine's allocator) and `file` (pages of mapped files — mostly the engine's 550 MB library, whose
 * code pages become resident as code paths first run, and are bounded by its size).
 */
export function rssParts(pid: number): { total: number; anon: number; file: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) / 1024;
    const total = kb('VmRSS');
    return Number.isNaN(total) ? undefined : { total, anon: kb('RssAnon'), file: kb('RssFile') };
  } catch {
    return undefined;
  }
}

/** Threads of a process (Linux), 0 when it is gone. */
export function threadCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/task`).length;
  } catch {
    return 0;
  }
}

/** User + system CPU seconds a process has used, from /proc (Linux). */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat; after the command they are the 12th and 13th.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds per thread name of a process (Linux): the main JavaScript thread is the one
 * named like the process; the engine's threads carry ClickHouse's names.
 */
export function threadCpuSeconds(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const key = tid === String(pid) ? 'main (JavaScript)' : name.replace(/[\d/:-]+$/, '');
      out.set(key, (out.get(key) ?? 0) + (Number(fields[11]) + Number(fields[12])) / 100);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

export class Monitor {
  readonly otlpUrl: string;
  readonly apiUrl: string;
  readonly apiKey: string;
  readonly #child: ChildProcess;
  readonly #tail: string[] = [];
  #exited: Promise<number | null>;

  private constructor(child: ChildProcess, otlpPort: number, apiPort: number, apiKey: string, onOutput?: (line: string) => void) {
    this.#child = child;
    this.otlpUrl = `http://127.0.0.1:${otlpPort}`;
    this.apiUrl = `http://127.0.0.1:${apiPort}`;
    this.apiKey = apiKey;
    const keep = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        onOutput?.(line);
        this.#tail.push(line);
        if (this.#tail.length > 40) this.#tail.shift();
      }
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.#exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  }

  get pid(): number {
    return this.#child.pid as number;
  }

  /** The monitor's last output lines, for error messages. */
  get tail(): string {
    return this.#tail.join('\n');
  }

  static async start(options: MonitorOptions): Promise<Monitor> {
    const [otlpPort, apiPort] = [await freePort(), await freePort()];
    const apiKey = randomBytes(24).toString('hex');
    const entry = options.fromSource ? ['--conditions=source', '--import', 'tsx', 'cli/src/main.ts'] : ['cli/dist/main.js'];
    const child = spawn(process.execPath, [...(options.nodeFlags ?? []), ...entry, 'all'], {
      cwd: options.root,
      env: {
        ...process.env,
        LOG_LEVEL: 'warn',
        INTENTWATCH_DATA_DIR: options.dataDir,
        HOST: '127.0.0.1',
        OTLP_PORT: String(otlpPort),
        API_PORT: String(apiPort),
        INTENTWATCH_API_KEYS: `admin:${apiKey}`,
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const monitor = new Monitor(child, otlpPort, apiPort, apiKey, options.onOutput);
    try {
      await monitor.#waitReady(120_000);
    } catch (e) {
      monitor.kill();
      throw e;
    }
    return monitor;
  }

  async #waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void this.#exited.then(() => {
      exited = true;
    });
    while (Date.now() < deadline) {
      if (exited) throw new Error(`the monitor exited during start-up:\n${this.tail}`);
      const [otlp, api] = await Promise.all([ok(`${this.otlpUrl}/healthz`), ok(`${this.apiUrl}/healthz`)]);
      if (otlp && api) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`the monitor did not answer within ${timeoutMs} ms:\n${this.tail}`);
  }

  /** GET on the API with the admin key; throws on a non-2xx answer. */
  async api<T>(path: string): Promise<T> {
    const res = await fetch(`${this.apiUrl}${path}`, { headers: { authorization: `Bearer ${this.apiKey}` } });
    if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }

  /** POST of a JSON body on the API with the admin key; throws on a non-2xx answer. */
  async post<T>(path: string, body: unknown): Promise<T> {
    const res = await fetch(`${this.apiUrl}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }

  /** Prometheus samples of the monitor: "name{labels}" → value. */
  async metrics(): Promise<Map<string, number>> {
    const res = await fetch(`${this.apiUrl}/metrics`, { headers: { authorization: `Bearer ${this.apiKey}` } });
    if (!res.ok) throw new Error(`GET /metrics: ${res.status}`);
    return parsePrometheus(await res.text());
  }

  /** SIGKILL, at once (for a harness that is exiting on an error). */
  kill(): void {
    if (this.#child.exitCode === null) this.#child.kill('SIGKILL');
  }

  /** SIGTERM (the monitor drains and flushes), then waits for the exit. */
  async stop(timeoutMs = 60_000): Promise<number | null> {
    this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), timeoutMs);
    const code = await this.#exited;
    clearTimeout(timer);
    return code;
  }
}

async function ok(url: string): Promise<boolean> {
  try {
    const res = await fetch(url);
    return res.ok;
  } catch {
    return false;
  }
}

/** Parses the Prometheus text format into "name{labels}" → value (comments skipped). */
export function parsePrometheus(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}
