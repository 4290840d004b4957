import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { type IncomingMessage, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeProtobufRequest } from '@intentwatch/collector';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pointsAtOwnPort } from './telemetry.js';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

interface Received {
  path: string;
  contentType: string;
  body: Buffer;
}

/** A plain OTLP/HTTP receiver that keeps every request it gets. */
async function receiver(): Promise<{ server: Server; port: number; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url ?? '', contentType: String(req.headers['content-type'] ?? ''), body: Buffer.concat(chunks) });
      res.writeHead(200, { 'content-type': 'application/x-protobuf' });
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, received };
}

interface Child {
  proc: ChildProcess;
  stdout: () => string;
  stderr: () => string;
}

function runRole(role: string, env: Record<string, string>): Child {
  let out = '';
  let err = '';
  const proc = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', MAIN, role], {
    env: { ...process.env, HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  proc.stderr?.on('data', (c: Buffer) => {
    err += c.toString();
  });
  return { proc, stdout: () => out, stderr: () => err };
}

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, child?: Child, ms = 45_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (child && child.proc.exitCode !== null) throw new Error(`${what}: the process exited (${child.proc.exitCode}): ${child.stderr()}`);
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms; stderr: ${child?.stderr() ?? ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stopChild(child: Child): Promise<number | null> {
  if (child.proc.exitCode !== null) return child.proc.exitCode;
  const exited = new Promise<number | null>((resolve) => child.proc.once('exit', (code) => resolve(code)));
  child.proc.kill('SIGTERM');
  return exited;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

describe('own telemetry', () => {
  const dirs: string[] = [];
  const dataDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'iw-telemetry-'));
    dirs.push(d);
    return d;
  };
  let otlp: Awaited<ReturnType<typeof receiver>>;

  beforeAll(async () => {
    otlp = await receiver();
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => otlp.server.close(() => resolve()));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('exports the collector role’s spans and metrics to the OTLP receiver OTEL_EXPORTER_OTLP_ENDPOINT names', async () => {
    const child = runRole('collector', {
      INTENTWATCH_DATA_DIR: dataDir(),
      OTLP_PORT: '0',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${otlp.port}`,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_METRIC_EXPORT_INTERVAL: '300',
    });
    try {
      const port = await until('the collector listens', () => /collector\s+http:\/\/127\.0\.0\.1:(\d+)\//.exec(child.stdout())?.[1], child);
      const res = await fetch(`http://127.0.0.1:${port}/v1/token-events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([{ 'token.event': 'issued', 'token.id': 'tok-telemetry', 'gen_ai.agent.id': 'bot' }]),
      });
      expect(res.status).toBe(200);

      const span = await until('a server span of the ingest request reaches the receiver', () => {
        for (const r of otlp.received.filter((x) => x.path === '/v1/traces')) {
          for (const rs of decodeProtobufRequest(r.body)) {
            for (const s of rs.scopes.flatMap((sc) => sc.spans)) {
              if (s.kind === 2 && JSON.stringify(s.attributes).includes('/v1/token-events')) return { resource: rs.resource, span: s };
            }
          }
        }
        return undefined;
      });
      expect(span.resource['service.name']).toBe('intentwatch');
      expect(span.resource['intentwatch.role']).toBe('collector');

      const metricsPost = await until('a metrics export reaches the receiver', () =>
        otlp.received.find((x) => x.path === '/v1/metrics' && x.body.includes('intentwatch_spans_received_total')),
      );
      expect(metricsPost.contentType).toBe('application/x-protobuf');
    } finally {
      expect(await stopChild(child)).toBe(0);
    }
  });

  it('does not export into the collector port of its own process unless INTENTWATCH_SELF_TELEMETRY allows it', async () => {
    const own = await freePort();
    const before = otlp.received.length;
    const child = runRole('collector', {
      INTENTWATCH_DATA_DIR: dataDir(),
      OTLP_PORT: String(own),
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://localhost:${own}`,
    });
    try {
      await until('the collector listens', () => (/collector\s+http:/.test(child.stdout()) ? true : undefined), child);
      const warning = await until('a warning names the way to allow it', () =>
        child.stderr().includes('own telemetry not started') ? child.stderr() : undefined,
      );
      expect(warning).toContain('INTENTWATCH_SELF_TELEMETRY');
      expect(otlp.received.length).toBe(before);
    } finally {
      expect(await stopChild(child)).toBe(0);
    }
  });
});

describe('pointsAtOwnPort', () => {
  const config = { host: '0.0.0.0', otlpPort: 4318 };

  it('recognises loopback names and addresses on the collector port', () => {
    for (const e of ['http://localhost:4318', 'http://127.0.0.1:4318/v1/traces', 'http://[::1]:4318', 'http://0.0.0.0:4318']) {
      expect(pointsAtOwnPort(e, config), e).toBe(true);
    }
  });

  it('leaves other ports, other hosts and unparseable endpoints alone', () => {
    for (const e of ['http://localhost:4317', 'http://otel-collector.observability:4318', 'not a url', 'https://127.0.0.1']) {
      expect(pointsAtOwnPort(e, config), e).toBe(false);
    }
  });
});
