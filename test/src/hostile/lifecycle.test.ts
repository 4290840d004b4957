import { type Server, createServer } from 'node:net';
import { type Running, start } from '@intentwatch/cli';
import { afterAll, describe, expect, it } from 'vitest';
import { runTs, tempDataDir } from '../support/monitor.js';

const data = tempDataDir();
const args = { role: 'all', demo: false, help: false } as const;
const env = {
  INTENTWATCH_DATA_DIR: data.dir,
  HOST: '127.0.0.1',
  INTENTWATCH_API_KEYS: 'admin:lifecycle-admin-key-0123456789',
};

afterAll(() => data.remove());

function listenOn(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}
const portOf = (s: Server) => (s.address() as { port: number }).port;
const closeServer = (s: Server) => new Promise<void>((r) => s.close(() => r()));

/** True when another process can open the data dir, i.e. this one let go of it. */
async function dataDirIsFree(): Promise<boolean> {
  return (await runTs('test/src/hostile/open-store.ts', [data.dir])).trim() === 'opened';
}

describe('start() and stop() of intentwatch all', () => {
  it('releases the store and the ports already taken when a later role cannot start (API port in use)', async () => {
    const apiHolder = await listenOn(0);
    const otlp = await listenOn(0);
    const otlpPort = portOf(otlp);
    await closeServer(otlp);
    try {
      await expect(start(args, { ...env, OTLP_PORT: String(otlpPort), API_PORT: String(portOf(apiHolder)) })).rejects.toThrow(/EADDRINUSE/);
    } finally {
      await closeServer(apiHolder);
    }
    // The collector had started: its port is free again, and so is the data dir.
    await closeServer(await listenOn(otlpPort));
    expect(await dataDirIsFree()).toBe(true);
  });

  it('stops each role once when stop() is called twice at once and again later', async () => {
    const running: Running = await start(args, { ...env, OTLP_PORT: '0', API_PORT: '0' });
    const ports = [running.otlpPort, running.apiPort] as number[];
    await Promise.all([running.stop(), running.stop()]);
    await running.stop();
    for (const port of ports) await closeServer(await listenOn(port));
    expect(await dataDirIsFree()).toBe(true);
  });
});
